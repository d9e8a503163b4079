"""Insights (SPEC §3.7): per-job health over any window within the retention."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from jobtrail.api.auth import OrgId, Reader
from jobtrail.api.context import AppContext
from jobtrail.api.routes_runs import Ctx, json_response
from jobtrail.api.schemas import ERROR_RESPONSES
from jobtrail.api.serialise import run_list
from jobtrail.domain.errors import NotFound
from jobtrail.domain.timefmt import format_duration, format_ts
from jobtrail.domain.windows import parse_history_window
from jobtrail.store import insights
from jobtrail.store.insights import DAY, TOP_STEPS, RecentRun, Scope
from jobtrail.wire import paths
from jobtrail.wire.shapes import JobHealth, JobInsight

router = APIRouter(tags=["Insights"])

From = Annotated[
    str | None,
    Query(alias="from", examples=["P-7D"], description="Default: the retention (7 days)."),
]
To = Annotated[str | None, Query(examples=["PT0S"], description="Default: now.")]
Recent = Annotated[int, Query(ge=0, le=100, description="Newest runs per job to include.")]
JobId = Annotated[str, Path(alias="jobId", max_length=200, description="From a job listing.")]


def _dur(us: float | int | None) -> str | None:
    return None if us is None else format_duration(round(us))


def _ts(us: int | None) -> str | None:
    return None if us is None else format_ts(us)


def _counts(row: Any) -> dict[str, Any]:
    final = row.succeeded + row.failed + row.cancelled
    return {
        "runs": row.runs,
        "succeeded": row.succeeded,
        "failed": row.failed,
        "cancelled": row.cancelled,
        "running": row.running,
        "pending": row.pending,
        "successRate": round(row.succeeded / final, 4) if final else None,
    }


def _durations(pcts: tuple[float | None, float | None], max_dur: int | None) -> dict[str, Any]:
    p50, p95 = pcts
    return {"durationP50": _dur(p50), "durationP95": _dur(p95), "durationMax": _dur(max_dur)}


def _recent(row: RecentRun) -> dict[str, Any]:
    run_id, state, start, dur = row
    return {
        "runId": run_id,
        "state": state,
        "startTime": format_ts(start),
        "duration": None if dur is None else format_duration(dur),
    }


def _job_health(ctx: AppContext, scope: Scope, recent: int) -> list[dict[str, Any]]:
    with ctx.engine.connect() as conn:
        totals = insights.job_totals(conn, scope)
        recents = insights.recent_runs(conn, scope, [t.key for t in totals], recent)
    jobs = [
        {
            "jobId": row.job_id,
            "jobName": row.job_name,
            "environment": row.environment,
            **_counts(row),
            **_durations((row.p50, row.p95), row.max_dur),
            "lastRunStart": _ts(row.last_start),
            "lastSuccess": _ts(row.last_success),
            "recentRuns": [_recent(r) for r in recents.get(row.key, [])],
        }
        for row in totals
    ]
    return sorted(jobs, key=lambda j: (j["jobName"], j["environment"], j["jobId"]))


def _scope(ctx: AppContext, org_id: str, from_: str | None, to: str | None) -> Scope:
    window = parse_history_window(from_, to, datetime.now(UTC), ctx.settings.retention)
    return Scope(org_id, window.start, window.end)


def _list(ctx: AppContext, org_id: str, from_: str | None, to: str | None, recent: int) -> Response:
    return json_response(_job_health(ctx, _scope(ctx, org_id, from_, to), recent))


def _step(row: Any, pcts: tuple[float | None, float | None]) -> dict[str, Any]:
    counts = {"name": row.name, "runs": row.runs, "failed": row.failed}
    return {**counts, **_durations(pcts, row.max_dur)}


def _day(row: Any, pcts: tuple[float | None, float | None]) -> dict[str, Any]:
    date = format_ts(row.day * DAY)[:10]
    counts = _counts(row)
    counts.pop("successRate")
    return {"date": date, **counts, **_durations(pcts, row.max_dur)}


def _detail(ctx: AppContext, org_id: str, job_id: str, query: dict[str, Any]) -> Response:
    base = _scope(ctx, org_id, query["from"], query["to"])
    scope = Scope(org_id, base.start, base.end, job_id)
    found = _job_health(ctx, scope, query["recent"])
    if not found:
        raise NotFound(f"Job {job_id[:200]!r} has no runs in this window.")
    with ctx.engine.connect() as conn:
        days = [_day(row, p) for row, p in insights.daily_buckets(conn, scope)]
        steps = insights.step_stats(conn, scope)
        last = insights.last_runs(conn, scope, query["limit"])
    timed = [(row, p) for row, p in steps if p[0] is not None]
    slowest = sorted(timed, key=lambda s: (-(s[1][0] or 0), s[0].name))
    failing = sorted((s for s in steps if s[0].failed), key=lambda s: (-s[0].failed, s[0].name))
    return json_response(
        {
            **found[0],
            "days": days,
            "slowestSteps": [_step(row, p) for row, p in slowest[:TOP_STEPS]],
            "failingSteps": [_step(row, p) for row, p in failing[:TOP_STEPS]],
            "lastRuns": run_list(last),
        }
    )


@router.get(
    paths.INSIGHT_JOBS,
    response_model=list[JobHealth],
    responses=ERROR_RESPONSES,
    summary="Health of every job and environment over a window",
    description=(
        "One row per job and environment with runs that started in [from, to): counts by "
        "state, success rate, p50/p95/max duration of final runs, last run and last success, "
        "and the newest runs. The window may reach back as far as the retention (default 7 "
        "days); without `from` and `to` it is all of it."
    ),
)
async def list_job_health(
    org_id: OrgId, _claims: Reader, ctx: Ctx, from_: From = None, to: To = None, recent: Recent = 30
) -> Response:
    return await run_in_threadpool(_list, ctx, org_id, from_, to, recent)


@router.get(
    paths.INSIGHT_JOB,
    response_model=JobInsight,
    responses=ERROR_RESPONSES,
    summary="One job's health: daily buckets, slowest and failing steps, last runs",
)
async def job_insight(
    org_id: OrgId,
    job_id: JobId,
    _claims: Reader,
    ctx: Ctx,
    from_: From = None,
    to: To = None,
    recent: Recent = 30,
    limit: Annotated[int, Query(ge=1, le=1000, description="Last runs to list.")] = 100,
) -> Response:
    query = {"from": from_, "to": to, "recent": recent, "limit": limit}
    return await run_in_threadpool(_detail, ctx, org_id, job_id, query)
