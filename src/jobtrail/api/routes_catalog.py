"""The jobs catalog (SPEC §7): runners put job definitions, the console and clients list them."""

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import TypeAdapter

from jobtrail.api.auth import Ingester, OrgId, Reader
from jobtrail.api.context import AppContext, get_context
from jobtrail.api.schemas import ERROR_RESPONSES
from jobtrail.domain.catalog import next_run, parse_definitions
from jobtrail.domain.timefmt import format_ts, to_micros
from jobtrail.store import catalog
from jobtrail.store.accounts import now_micros
from jobtrail.wire import paths
from jobtrail.wire.shapes import DefinitionIn, DefinitionOut, DefinitionsStored
from jobtrail.worker.config import configured_channels

router = APIRouter(tags=["Catalog"])
Ctx = Annotated[AppContext, Depends(get_context)]
# Documented for OpenAPI; the handler parses the body itself to name every bad field.
_DEFINITION_SCHEMA = TypeAdapter(DefinitionIn).json_schema()


@router.put(
    paths.DEFINITIONS,
    response_model=DefinitionsStored,
    responses=ERROR_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["definitions"],
                        "properties": {
                            "definitions": {"type": "array", "items": _DEFINITION_SCHEMA}
                        },
                    }
                }
            },
        }
    },
    summary="Report job definitions (schedule, owners, labels, alert settings)",
    description=(
        "Each definition replaces the one stored for its (job, environment). All or nothing: a "
        "400 names every bad entry's index and field (alert `channels` must be configured on "
        "the server, when it has an alerts configuration). Needs role `ingest` or `admin`."
    ),
)
async def put_definitions(
    org_id: OrgId, _claims: Ingester, ctx: Ctx, body: Annotated[Any, Body()] = None
) -> Response:
    definitions = parse_definitions(body, configured_channels(ctx.settings.alerts_config))
    stored = await run_in_threadpool(
        catalog.put_definitions, ctx.engine, org_id, definitions, now_micros()
    )
    return Response(orjson.dumps({"stored": stored}), media_type="application/json")


@router.get(
    paths.DEFINITIONS,
    response_model=list[DefinitionOut],
    responses=ERROR_RESPONSES,
    summary="List the jobs catalog",
    description="Every job definition of the organization, with when it was last reported.",
)
async def get_definitions(org_id: OrgId, _claims: Reader, ctx: Ctx) -> Response:
    rows = await run_in_threadpool(catalog.list_definitions, ctx.engine, org_id)
    now = datetime.now(UTC)
    body = [_definition(row, now) for row in rows]
    return Response(orjson.dumps(body), media_type="application/json")


def _definition(row: catalog.StoredDefinition, now: datetime) -> dict[str, Any]:
    d = row.definition
    upcoming = None
    if d.scheduled and d.schedule:
        upcoming = format_ts(to_micros(next_run(d.schedule, d.timezone, now)))
    return {
        "jobId": row.job_id,
        **d.to_json(),
        "lastSeen": format_ts(row.last_seen),
        "nextExpectedRun": upcoming,
    }
