"""OpenLineage ingestion (SPEC §3.8): the unchanged OpenLineage HTTP transport posts RunEvents
to its default path with a static key as the bearer value; the organization follows from it."""

import hmac
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jobtrail.api.context import AppContext, get_context
from jobtrail.api.routes_events import read_body, store_batch
from jobtrail.api.schemas import ERROR_RESPONSES
from jobtrail.domain.errors import BadRequest, Forbidden, Unauthorized
from jobtrail.domain.openlineage import parse_lineage
from jobtrail.domain.roles import allows
from jobtrail.store import accounts
from jobtrail.store.lineage import write_datasets
from jobtrail.wire import paths
from jobtrail.wire.shapes import ErrorBody, IngestResponse

router = APIRouter(tags=["OpenLineage"])
lineage_key = HTTPBearer(
    auto_error=False,
    scheme_name="OpenLineageApiKey",
    description="`<keyId>.<secret>` of an ingest key, as `jobtrail key create` prints it.",
)
_BAD_KEY = "Send `Authorization: Bearer <keyId>.<secret>` with a valid, unrevoked API key."
_INLINE = 64


def lineage_org(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(lineage_key)],
    ctx: Annotated[AppContext, Depends(get_context)],
) -> str:
    """The organization of the static key in the bearer header, if its role may ingest."""
    parts = accounts.split_openlineage_api_key(credentials.credentials if credentials else "")
    if parts is None:
        raise Unauthorized(_BAD_KEY)
    key = ctx.keys.get(parts[0])
    if key is None or not hmac.compare_digest(key.secret_hash, accounts.hash_secret(parts[1])):
        raise Unauthorized(_BAD_KEY)
    if not key.usable(accounts.now_micros()):
        raise Unauthorized(_BAD_KEY)
    if not allows(key.role, "ingest"):
        raise Forbidden(f"A key with role `{key.role}` may not send OpenLineage events.")
    return key.org_id


@router.post(
    paths.LINEAGE,
    response_model=IngestResponse,
    responses={
        **ERROR_RESPONSES,
        413: {"model": ErrorBody, "description": "More than 10,000 events or 10 MiB."},
    },
    summary="Report OpenLineage RunEvents (one, or an array)",
    description=(
        "The OpenLineage HTTP transport's default endpoint. A run without a `parent` facet is "
        "a job run, a run whose parent facet names another run is a step of it. The response "
        "comes only after the events are durably committed. Authenticate with "
        "`Authorization: Bearer <keyId>.<secret>` of an `ingest` or `admin` key."
    ),
)
async def post_lineage(
    request: Request,
    org_id: Annotated[str, Depends(lineage_org)],
    ctx: Annotated[AppContext, Depends(get_context)],
) -> Response:
    raw = await read_body(request)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON (UTF-8): {exc}.") from None
    envs = ctx.settings.lineage_environments
    bounds = ctx.settings.time_bounds(accounts.now_micros())
    if not isinstance(body, list) or len(body) <= _INLINE:
        mapped = parse_lineage(body, envs, bounds)
    else:
        mapped = await run_in_threadpool(parse_lineage, body, envs, bounds)
    result = await store_batch(
        ctx, org_id, mapped.events, lambda conn: write_datasets(conn, org_id, mapped.datasets)
    )
    payload = {"accepted": result.accepted, "duplicates": result.duplicates}
    return Response(orjson.dumps(payload), media_type="application/json")
