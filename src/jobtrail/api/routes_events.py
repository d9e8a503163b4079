"""Ingestion (SPEC §3.4): runners post batches of state-change and log events."""

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import Connection, Engine

from jobtrail.api.auth import Ingester, OrgId
from jobtrail.api.context import AppContext, get_context
from jobtrail.api.schemas import ERROR_RESPONSES
from jobtrail.domain.batches import batch_events, from_json, parse_batch
from jobtrail.domain.errors import (
    BadRequest,
    JobtrailError,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from jobtrail.domain.events import MAX_BATCH_BYTES, Event
from jobtrail.store.accounts import now_micros
from jobtrail.store.ingest import IngestResult, Prepared, prepare, write_prepared
from jobtrail.wire import paths
from jobtrail.wire.shapes import ErrorBody, IngestResponse

router = APIRouter(tags=["Ingestion"])
_INLINE_FOLD = 64

_TOO_LARGE = (
    f"A request body may hold at most {MAX_BATCH_BYTES // (1024 * 1024)} MiB; split the batch."
)


def _check_content_type(value: str) -> None:
    """JSON, in UTF-8: a body declared in another charset would be misread, so it is refused."""
    media, *params = (part.strip() for part in value.split(";"))
    if media.lower() != "application/json":
        raise UnsupportedMediaType("Send the batch as `Content-Type: application/json`.")
    for param in params:
        name, _, charset = param.partition("=")
        charset = charset.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(
                f"The body must be UTF-8 JSON; charset={charset!r} is not accepted."
            )


async def read_body(request: Request) -> bytes:
    """The body, refused as soon as it is known to exceed the limit (never buffered past it)."""
    _check_content_type(request.headers.get("content-type", ""))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BATCH_BYTES:
        raise PayloadTooLarge(_TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BATCH_BYTES:
            raise PayloadTooLarge(_TOO_LARGE)
    return bytes(body)


async def store_batch(
    ctx: AppContext,
    org_id: str,
    batch: list[Event],
    also: Callable[[Connection], object] | None = None,
) -> IngestResult:
    """Store the batch through the group committer (with `also`, more writes in the same
    transaction) and count it."""
    try:
        # Small batches (the hot path) fold inline; large ones off the event loop.
        if len(batch) <= _INLINE_FOLD:
            prepared, locks = _prepare(ctx.engine, org_id, batch)
        else:
            prepared, locks = await run_in_threadpool(_prepare, ctx.engine, org_id, batch)
        cap = ctx.settings.log_stream_cap

        def work(conn: Connection) -> IngestResult:
            if also is not None:
                also(conn)
            return write_prepared(conn, prepared, cap)

        result = await asyncio.wrap_future(ctx.committer.submit(work, locks))
    except JobtrailError as exc:  # refused by the store (an eventId again with other content)
        ctx.metrics.refused_batch(org_id, exc.code, len(batch))
        raise
    if result.finished_runs or result.finished_steps:  # the metrics read those back
        await run_in_threadpool(ctx.metrics.ingested_batch, ctx.engine, org_id, result)
    else:
        ctx.metrics.ingested_batch(ctx.engine, org_id, result)
    return result


def _prepare(engine: Engine, org_id: str, batch: list[Event]) -> tuple[Prepared, list[int]]:
    """The batch folded, and the key lock buckets its writes take (the group committer takes
    a whole group's first)."""
    prepared = prepare(org_id, batch)
    return prepared, prepared.locks(engine)


def _parse(ctx: AppContext, org_id: str, raw: bytes) -> list[Event]:
    """The batch's events, or the error that refuses it (counted as rejected). A valid body is
    validated from its bytes in one pass; any other is decoded and handed with what that pass
    found to `parse_batch`, which names its problems."""
    bounds = ctx.settings.time_bounds(now_micros())
    batch = from_json(raw)
    if not isinstance(batch, ValidationError):
        try:
            return batch_events(batch, bounds)
        except JobtrailError as exc:
            ctx.metrics.refused_batch(org_id, exc.code, len(batch["events"]))
            raise
    body: Any = None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        ctx.metrics.refused_batch(org_id, "invalid_json", 1)
        raise BadRequest(f"The body is not valid JSON (UTF-8): {exc}.") from None
    try:
        return parse_batch(body, bounds, batch)
    except JobtrailError as exc:
        listed = body.get("events") if isinstance(body, dict) else None
        ctx.metrics.refused_batch(org_id, exc.code, len(listed) if isinstance(listed, list) else 1)
        raise


@router.post(
    paths.EVENTS,
    response_model=IngestResponse,
    responses={
        **ERROR_RESPONSES,
        409: {
            "model": ErrorBody,
            "description": "An eventId already stored (or repeated in the batch) with other "
            "content; nothing was stored.",
        },
        413: {"model": ErrorBody, "description": "More than 10,000 events or 10 MiB."},
        415: {
            "model": ErrorBody,
            "description": "The body is not application/json, or declares a charset other "
            "than UTF-8.",
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}}
            },
        }
    },
    summary="Report state changes and log output of job runs",
    description=(
        "An atomic batch: every event is valid and stored, or none is and the 400 names each "
        "bad event's index and field, including a `timestamp` more than the allowed clock skew "
        "(`JOBTRAIL_CLOCK_SKEW`, 5 minutes) ahead of the server or older than the retention. "
        "Events are idempotent on `eventId`: one seen before with the same content counts as a "
        "duplicate, with other content the batch is refused (409). A log chunk's key is "
        "(run, step, stream, `seq`): a `seq` already stored is a duplicate whatever its "
        "`eventId` or data. The response comes "
        "only after the batch is durably committed. Needs a token with role `ingest` or `admin`."
    ),
)
async def post_events(
    org_id: OrgId,
    request: Request,
    _claims: Ingester,
    ctx: Annotated[AppContext, Depends(get_context)],
) -> Response:
    batch = _parse(ctx, org_id, await read_body(request))
    result = await store_batch(ctx, org_id, batch)
    payload = {"accepted": result.accepted, "duplicates": result.duplicates}
    return Response(orjson.dumps(payload), media_type="application/json")
