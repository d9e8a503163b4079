"""Full step logs beyond the seed: byte ranges, the last N lines, streamed without loading whole."""

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from jobtrail.api.auth import OrgId, Reader
from jobtrail.api.context import AppContext
from jobtrail.api.routes_runs import Ctx, RunId, StepName, check_ids
from jobtrail.api.schemas import ERROR_RESPONSES
from jobtrail.domain.errors import BadRequest, NotFound
from jobtrail.store import queries
from jobtrail.store.logs import StreamRef, read_range, read_tail_lines

router = APIRouter(tags=["Logs"])

Stream = Literal["stdout", "stderr"]


def _open(
    ctx: AppContext, ref: StreamRef, offset: int | None, limit: int | None, tail: int | None
) -> tuple[Iterator[bytes], dict[str, str]]:
    if tail is not None and (offset is not None or limit is not None):
        raise BadRequest("Use either `tail` or `offset`/`limit`, not both.")
    check_ids(ref.run_id, ref.step_name)
    with ctx.engine.connect() as conn:
        if queries.get_run(conn, ref.org_id, ref.run_id) is None:
            raise NotFound(f"Unknown run {ref.run_id!r}.")
        if queries.get_step(conn, ref.org_id, ref.run_id, ref.step_name) is None:
            raise NotFound(f"Run {ref.run_id!r} has no step {ref.step_name!r}.")
        stat = queries.stream_stats(conn, ref.org_id, ref.run_id, ref.step_name).get(ref.stream)
    headers = {
        "X-Jobtrail-Log-Bytes": str(stat.kept_bytes if stat else 0),
        "X-Jobtrail-Dropped-Bytes": str(stat.dropped_bytes if stat else 0),
        "Cache-Control": "no-store",
    }
    if tail is not None:
        return iter([read_tail_lines(ctx.engine, ref, tail)]), headers
    return read_range(ctx.engine, ref, offset or 0, limit), headers


@router.get(
    "/organizations/{organizationId}/jobs/v1/runs/{runId}/steps/{stepName}/logs/{stream}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "The log text (UTF-8)."},
        **ERROR_RESPONSES,
    },
    summary="A step's full stdout or stderr, as text",
    description=(
        "Streams the stored log. `offset` and `limit` select a byte range; `tail` the last N "
        "lines. Headers: `X-Jobtrail-Log-Bytes` (bytes kept) and `X-Jobtrail-Dropped-Bytes` "
        "(bytes the per-stream cap dropped from the middle)."
    ),
)
async def get_log(
    org_id: OrgId,
    run_id: RunId,
    step_name: StepName,
    stream: Stream,
    _claims: Reader,
    ctx: Ctx,
    offset: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    limit: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    tail: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> StreamingResponse:
    ref = StreamRef(org_id, run_id, step_name, stream)
    body, headers = await run_in_threadpool(_open, ctx, ref, offset, limit, tail)
    return StreamingResponse(body, headers=headers, media_type="text/plain; charset=utf-8")
