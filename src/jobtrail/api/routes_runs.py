"""The four Jobs API endpoints of the seed (SPEC §3.2-3.3)."""

import asyncio
import contextvars
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from jobtrail.api.auth import OrgId, Reader
from jobtrail.api.context import AppContext, get_context
from jobtrail.api.schemas import ERROR_RESPONSES
from jobtrail.api.serialise import (
    run_list_json,
    run_summary,
    state_change,
    step_sort_key,
    step_summary,
)
from jobtrail.domain import identity
from jobtrail.domain.errors import BadRequest, NotFound
from jobtrail.domain.logcap import utf8_start
from jobtrail.domain.states import RunState
from jobtrail.domain.timefmt import format_ts
from jobtrail.domain.windows import parse_window
from jobtrail.store import lineage, queries
from jobtrail.store.logs import StreamRef, attempt_starts, step_tails
from jobtrail.wire import limits, paths
from jobtrail.wire.shapes import RunDetail, RunSummary, StepDetail, StepSummary

router = APIRouter(tags=["Jobs"])

DETAIL_LOG_BYTES = 1024 * 1024
RunId = Annotated[str, Path(alias="runId", max_length=200, description="From a run listing.")]
StepName = Annotated[
    str, Path(alias="stepName", max_length=1000, description="URL-encoded step name.")
]
Ctx = Annotated[AppContext, Depends(get_context)]


# The reads' own threads. Starlette's `run_in_threadpool` (anyio: a capacity limiter, a cancel
# scope, a queue with a condition) cost a tenth of a small read's server time in its hops; a
# plain executor, half that. As many threads as anyio's default limiter lets work at once.
_READ_THREADS = ThreadPoolExecutor(40, thread_name_prefix="jobtrail-read")


async def _in_thread(work: Callable[..., Response], *args: Any) -> Response:
    """`work(*args)` on a read thread, in this request's context (as anyio's threads run it)."""
    run = contextvars.copy_context().run
    return await asyncio.get_running_loop().run_in_executor(_READ_THREADS, run, work, *args)


def _ctx(request: Request) -> AppContext:
    """The context of a read taken from the app itself: the reads below take it so rather than
    as `Ctx`, as FastAPI's resolution of a dependency costs more than a small read's shaping."""
    ctx: AppContext = request.app.state.ctx
    return ctx


def json_response(body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), headers=headers, media_type="application/json")


def _list_runs(
    ctx: AppContext, org_id: str, from_: str | None, to: str | None, filters: dict[str, str | None]
) -> Response:
    window = parse_window(from_, to, datetime.now(UTC))
    if filters["state"] is not None and filters["state"] not in RunState.__members__:
        raise BadRequest(f"`state` must be one of {', '.join(RunState)}.")
    result = queries.window_runs(
        ctx.engine, org_id, window.start, window.end, ctx.settings.window_event_cap
    )
    rows = result.runs
    if any(v is not None for v in filters.values()):
        rows = [
            r
            for r in rows
            if (filters["jobName"] is None or r[queries.JOB_NAME] == filters["jobName"])
            and (filters["environment"] is None or r[queries.ENVIRONMENT] == filters["environment"])
            and (filters["state"] is None or r[queries.STATE] == filters["state"])
        ]
    headers = {}
    if result.truncated and result.oldest_kept_ts is not None:
        headers[limits.TRUNCATED_HEADER] = "true"
        headers[limits.OLDEST_EVENT_HEADER] = format_ts(result.oldest_kept_ts)
    return Response(run_list_json(rows), headers=headers, media_type="application/json")


@router.get(
    paths.RUNS,
    response_model=list[RunSummary],
    responses=ERROR_RESPONSES,
    summary="List job runs in a time window",
    description=(
        "Runs with at least one state change in [from, to): both ISO 8601 timestamps or both "
        "ISO 8601 durations relative to now (PT-12H, PT0S). The window may span 96 hours at "
        "most and must lie within the last week (`from == to` is an empty window). When more "
        "than 10,000 events (`JOBTRAIL_WINDOW_EVENT_CAP`) fall in the window only the latest "
        "ones count, and the response carries `X-Jobtrail-Truncated: "
        "true` and `X-Jobtrail-Oldest-Event`."
    ),
)
async def list_runs(
    org_id: OrgId,
    _claims: Reader,
    request: Request,
    from_: Annotated[str, Query(alias="from", examples=["PT-12H"])],
    to: Annotated[str, Query(examples=["PT0S"])],
    job_name: Annotated[str | None, Query(alias="jobName")] = None,
    environment: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
) -> Response:
    filters = {"jobName": job_name, "environment": environment, "state": state}
    return await _in_thread(_list_runs, _ctx(request), org_id, from_, to, filters)


def check_ids(run_id: str, step_name: str | None = None) -> None:
    """Ids that cannot exist are answered without a query (and never reach the database)."""
    if not identity.looks_like_run_id(run_id):
        raise NotFound(f"Unknown run {run_id[:100]!r}.")
    if step_name is not None and not step_name.isprintable():
        raise NotFound(f"Run {run_id!r} has no step {step_name[:100]!r}.")


def _run_or_404(ctx: AppContext, org_id: str, run_id: str) -> tuple[Any, list[Any]]:
    check_ids(run_id)
    with queries.reads(ctx.engine) as reads:  # independent reads: one round trip on PostgreSQL
        found: list[Any] = reads.batch(
            [
                queries.run_of(org_id, run_id),
                queries.steps_of(org_id, run_id),
                lineage.datasets_of(org_id, run_id),
            ]
        )
    run, steps, datasets = found
    if run is None:
        raise NotFound(f"Unknown run {run_id!r}.")
    steps = lineage.with_inferred_dependencies(steps, datasets)
    return run, sorted(steps, key=step_sort_key)


def _get_run(ctx: AppContext, org_id: str, run_id: str, if_none_match: str | None) -> Response:
    run, steps = _run_or_404(ctx, org_id, run_id)
    body = orjson.dumps({**run_summary(run), "steps": [step_summary(s) for s in steps]})
    # A page that follows a live run polls with If-None-Match: unchanged runs cost no body.
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match is not None and etag in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(body, headers=headers, media_type="application/json")


def _get_steps(ctx: AppContext, org_id: str, run_id: str) -> Response:
    _run, steps = _run_or_404(ctx, org_id, run_id)
    return json_response([step_summary(s) for s in steps])


def _step_detail(ctx: AppContext, org_id: str, run_id: str, name: str) -> Response:
    check_ids(run_id, name)
    with queries.reads(ctx.engine) as reads:  # one connection for every read of the step
        # Independent reads sent together (one round trip on PostgreSQL): the three after the
        # step's own row are a few index lookups, cheap even when they answer a 404.
        found: list[Any] = reads.batch(
            [
                queries.step_and_run(org_id, run_id, name),
                queries.history_of(org_id, run_id, name),
                queries.stats_of(org_id, run_id, name),
                lineage.datasets_of(org_id, run_id, name),
            ]
        )
        run_and_step: tuple[bool, queries.StepRow | None] = found[0]
        history: list[queries.StateChange] = found[1]
        stats: dict[str, queries.StreamStats] = found[2]
        datasets: list[tuple[str, str, str, str]] = found[3]
        run_found, step = run_and_step
        if not run_found:
            raise NotFound(f"Unknown run {run_id!r}.")
        if step is None:
            raise NotFound(f"Run {run_id!r} has no step {name!r}.")
        if datasets:  # an OpenLineage step: its dependencies may come from the run's datasets
            rows = lineage.with_inferred_dependencies(
                *reads.batch(
                    [queries.steps_of(org_id, run_id), lineage.datasets_of(org_id, run_id)]
                )
            )
            step = next(s for s in rows if s.name == name)
        refs = [
            (StreamRef(org_id, run_id, name, stream), stats[stream].kept_bytes)
            for stream in _STREAMS
            if stream in stats
        ]
        tails = step_tails(reads, ctx.engine, refs, DETAIL_LOG_BYTES)
        retried = step.attempt > 1  # only then is there more than one attempt's output
        starts = {ref.stream: attempt_starts(reads, ref) if retried else [] for ref, _ in refs}
    body = step_summary(step)
    body["message"] = step.message
    for stream in _STREAMS:
        body.update(_stream_fields(stream, stats.get(stream), tails.get(stream)))
        body[f"{stream}Attempts"] = [{"attempt": a, "offset": o} for a, o in starts.get(stream, [])]
    body["stateHistory"] = [state_change(h) for h in history]
    body.update(lineage.dataset_fields(datasets))
    return json_response(body)


_STREAMS = ("stdout", "stderr")


def _stream_fields(
    name: str, stat: queries.StreamStats | None, tail: tuple[bytes, int] | None
) -> dict[str, Any]:
    """The most recent 1 MiB of a stream, cut at a character boundary, with its counts."""
    if stat is None or tail is None:
        data, kept, dropped = b"", 0, 0
    else:
        data, kept = tail
        if len(data) < kept:
            data = data[utf8_start(data) :]
        dropped = stat.dropped_bytes
    return {
        name: data.decode("utf-8", "replace"),
        f"{name}Truncated": len(data) < kept + dropped,
        f"{name}Bytes": kept + dropped,
        f"{name}DroppedBytes": dropped,
    }


@router.get(
    paths.RUN,
    response_model=RunDetail,
    responses=ERROR_RESPONSES,
    summary="One job run with its steps and their dependencies",
    description=(
        "Carries an `ETag`; send it back as `If-None-Match` to get `304 Not Modified` while "
        "the run has not changed (how the console follows a live run)."
    ),
)
async def get_run(
    org_id: OrgId,
    run_id: RunId,
    _claims: Reader,
    request: Request,
) -> Response:
    # Read here rather than as a header parameter (never in the schema): the same first value,
    # without FastAPI's parameter machinery.
    if_none_match = request.headers.get("if-none-match")
    return await _in_thread(_get_run, _ctx(request), org_id, run_id, if_none_match)


@router.get(
    paths.STEPS,
    response_model=list[StepSummary],
    responses=ERROR_RESPONSES,
    summary="The steps of one job run",
)
async def get_steps(org_id: OrgId, run_id: RunId, _claims: Reader, request: Request) -> Response:
    return await _in_thread(_get_steps, _ctx(request), org_id, run_id)


@router.get(
    paths.STEP,
    response_model=StepDetail,
    responses=ERROR_RESPONSES,
    summary="Everything about one step's execution, with stdout and stderr",
    description=(
        "stdout and stderr hold at most the most recent 1 MiB each; the `*Truncated` flags and "
        "byte counts say when there is more, which the full-log endpoint serves."
    ),
)
async def get_step(
    org_id: OrgId, run_id: RunId, step_name: StepName, _claims: Reader, request: Request
) -> Response:
    return await _in_thread(_step_detail, _ctx(request), org_id, run_id, step_name)
