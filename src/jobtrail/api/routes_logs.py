"""Full step logs beyond the seed: byte ranges, the last N lines, streamed without loading whole."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from jobtrail.api import tokens
from jobtrail.api.auth import OrgId, Reader
from jobtrail.api.context import AppContext
from jobtrail.api.routes_runs import Ctx, RunId, StepName, check_ids
from jobtrail.api.schemas import ERROR_RESPONSES
from jobtrail.domain.errors import BadRequest, NotFound
from jobtrail.domain.states import is_terminal
from jobtrail.store import queries
from jobtrail.store.logs import StreamRef, chunk_sizes, chunks_after, read_range, read_tail_lines
from jobtrail.wire import limits, paths

router = APIRouter(tags=["Logs"])

FOLLOW_LIMIT = 3600.0  # seconds a followed stream stays open

Stream = Literal["stdout", "stderr"]


@dataclass
class _Opened:
    body: Iterator[bytes]
    headers: dict[str, str]
    last_seq: int  # the newest chunk the body holds: a live tail goes on after it


def _open(
    ctx: AppContext, ref: StreamRef, offset: int | None, limit: int | None, tail: int | None
) -> _Opened:
    if tail is not None and (offset is not None or limit is not None):
        raise BadRequest("Use either `tail` or `offset`/`limit`, not both.")
    check_ids(ref.run_id, ref.step_name)
    with ctx.engine.connect() as conn:
        if queries.get_run(conn, ref.org_id, ref.run_id) is None:
            raise NotFound(f"Unknown run {ref.run_id!r}.")
        step = queries.get_step(conn, ref.org_id, ref.run_id, ref.step_name)
        if step is None:
            raise NotFound(f"Run {ref.run_id!r} has no step {ref.step_name!r}.")
        stat = queries.stream_stats(conn, ref.org_id, ref.run_id, ref.step_name).get(ref.stream)
    headers = {
        limits.LOG_BYTES_HEADER: str(stat.kept_bytes if stat else 0),
        limits.DROPPED_BYTES_HEADER: str(stat.dropped_bytes if stat else 0),
        limits.STEP_ENDED_HEADER: "true" if is_terminal(step.state) else "false",
        "Cache-Control": "no-store",
    }
    sizes = chunk_sizes(ctx.engine, ref)  # one snapshot: the tail follows on without gap or repeat
    last_seq = sizes[-1][0] if sizes else -1
    if tail is not None:
        text = read_tail_lines(ctx.engine, ref, tail, sizes)
        start = sum(size for _, size in sizes) - len(text)
        return _Opened(iter([text]), {**headers, limits.LOG_OFFSET_HEADER: str(start)}, last_seq)
    headers[limits.LOG_OFFSET_HEADER] = str(offset or 0)
    return _Opened(read_range(ctx.engine, ref, offset or 0, limit, sizes), headers, last_seq)


def _step_ended(ctx: AppContext, ref: StreamRef) -> bool:
    with ctx.engine.connect() as conn:
        step = queries.get_step(conn, ref.org_id, ref.run_id, ref.step_name)
    return step is None or is_terminal(step.state)


async def _follow(
    ctx: AppContext, ref: StreamRef, opened: _Opened, claims: tokens.Claims
) -> AsyncIterator[bytes]:
    """The stored part, then new output as it arrives, until the step has ended and all its
    output is sent, or until the token expires or FOLLOW_LIMIT passes (a stream outlives
    neither its credentials nor an hour): then the client reconnects with `offset`."""
    for piece in await run_in_threadpool(list, opened.body):
        yield piece
    lifetime = min(FOLLOW_LIMIT, claims.expires_at - time.time())
    last, deadline = opened.last_seq, time.monotonic() + lifetime
    with ctx.live.watch(ref.org_id, ref.run_id) as changed:
        while time.monotonic() < deadline:
            changed.clear()  # before the read: a change committed after it wakes the wait
            ended = await run_in_threadpool(_step_ended, ctx, ref)  # checked before the read
            new = await run_in_threadpool(chunks_after, ctx.engine, ref, last)
            for seq, data in new:
                last = seq
                yield data
            if ended and not new:
                return
            if not new:
                with suppress(TimeoutError):
                    await asyncio.wait_for(ctx.live.wait(changed), deadline - time.monotonic())


@router.get(
    paths.LOGS,
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "The log text (UTF-8)."},
        **ERROR_RESPONSES,
    },
    summary="A step's full stdout or stderr, as text",
    description=(
        "Streams the stored log. `offset` and `limit` select a byte range; `tail` the last N "
        "lines. With `follow=true` the response stays open (chunked text) and sends new output "
        "as it arrives, until the step has ended and all of it is sent (at most an hour, and not "
        "past the token's expiry; then reconnect with `offset` and a fresh token); `follow` "
        "excludes `limit`. Headers: `X-Jobtrail-Log-Bytes` (bytes kept when the request "
        "began), `X-Jobtrail-Dropped-Bytes` (bytes the per-stream cap dropped), "
        "`X-Jobtrail-Log-Offset` (where in the kept stream the body starts: resume at it plus "
        "the bytes received) and `X-Jobtrail-Step-Ended` (`true` when the step had ended)."
    ),
)
async def get_log(
    org_id: OrgId,
    run_id: RunId,
    step_name: StepName,
    stream: Stream,
    claims: Reader,
    ctx: Ctx,
    offset: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    limit: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    tail: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    follow: Annotated[
        bool,
        Query(
            description="Keep sending new output until the step ends. Goes with `offset` or "
            "`tail`; with `limit` the request is refused (400)."
        ),
    ] = False,
) -> StreamingResponse:
    ref = StreamRef(org_id, run_id, step_name, stream)
    if follow and limit is not None:
        raise BadRequest("`follow` goes with `offset` or `tail`, not with `limit`.")
    opened = await run_in_threadpool(_open, ctx, ref, offset, limit, tail)
    body = _follow(ctx, ref, opened, claims) if follow else opened.body
    headers = {**opened.headers, "X-Accel-Buffering": "no"} if follow else opened.headers
    return StreamingResponse(body, headers=headers, media_type="text/plain; charset=utf-8")
