"""Insights (SPEC §3.7): per-job health over a window, computed by the database in aggregates.
Nothing here loads runs into Python; every answer is bounded by the number of jobs, steps or
days, whatever the number of runs. Percentiles are continuous (linear interpolation), the same
on both backends: PostgreSQL's percentile_cont, and on SQLite the same formula over ranked rows."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    select,
)

from jobtrail.store.queries import LISTING_ORDER, RUN_COLUMNS
from jobtrail.store.schema import runs, steps

DAY = 86_400_000_000
FINAL_RUN_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
TOP_STEPS = 10

_START = func.coalesce(runs.c.first_running_ts, runs.c.first_event_ts)
_FINAL = runs.c.state.in_(FINAL_RUN_STATES)
_RUN_DURATION = case((_FINAL, runs.c.state_ts - _START), else_=None)


@dataclass(frozen=True)
class Scope:
    """One organization's runs that started in [start, end), optionally of one job."""

    org_id: str
    start: int
    end: int
    job_id: str | None = None

    def run_filter(self) -> Any:
        # last_event_ts >= start is implied by the start time and lets the retention index help.
        started = _START
        clauses = [
            runs.c.org_id == self.org_id,
            runs.c.last_event_ts >= self.start,
            started >= self.start,
            started < self.end,
        ]
        if self.job_id is not None:
            clauses.append(runs.c.job_id == self.job_id)
        return and_(*clauses)


def _count(state: str) -> Any:
    return func.sum(case((runs.c.state == state, 1), else_=0))


def _state_counts() -> list[Any]:
    return [
        func.count().label("runs"),
        *(_count(s).label(s.lower()) for s in ("SUCCEEDED", "FAILED", "CANCELLED", "RUNNING")),
        _count("PENDING").label("pending"),
    ]


def percentiles(durations: Any, keys: list[str], dialect: str) -> Select[Any]:
    """p50 and p95 (µs, floats) of `durations.c.dur` per `keys`, NULL durations left out."""
    group = [durations.c[k] for k in keys]
    dur = durations.c.dur
    if dialect == "postgresql":
        return (
            select(
                *group,
                func.percentile_cont(0.5).within_group(dur).label("p50"),
                func.percentile_cont(0.95).within_group(dur).label("p95"),
            )
            .where(dur.is_not(None))
            .group_by(*group)
        )
    # The count per group joined in, not a second window: SQLite would sort the rows twice.
    timed = dur.is_not(None)
    counts = select(*group, func.count().label("n")).where(timed).group_by(*group).subquery("c")
    numbered = (
        select(
            *group, dur, (func.row_number().over(partition_by=group, order_by=dur) - 1).label("rn")
        )
        .where(timed)
        .subquery("numbered")
    )
    ranked = (
        select(*(numbered.c[k] for k in keys), numbered.c.dur, numbered.c.rn, counts.c.n)
        .join_from(numbered, counts, and_(*(numbered.c[k] == counts.c[k] for k in keys)))
        .subquery("ranked")
    )
    return select(
        *(ranked.c[k] for k in keys),
        _interpolated(ranked, 0.5).label("p50"),
        _interpolated(ranked, 0.95).label("p95"),
    ).group_by(*(ranked.c[k] for k in keys))


def _interpolated(ranked: Any, p: float) -> Any:
    """percentile_cont by hand: the values at ranks floor(p·(n-1)) and the next, weighted."""
    pos = literal(p) * cast(ranked.c.n - 1, Float)
    low = cast(pos, Integer)  # SQLite truncates toward zero: floor for non-negative numbers
    frac = pos - low
    value = cast(ranked.c.dur, Float)
    return func.sum(
        case(
            (ranked.c.rn == low, value * (1 - frac)),
            (ranked.c.rn == low + 1, value * frac),
            else_=0.0,
        )
    )


def job_totals(conn: Connection, scope: Scope) -> list[Any]:
    """Per job: counts by state, p50/p95/max duration, last run start and last success end, in
    one statement (the percentiles inline on PostgreSQL, joined from ranked rows on SQLite)."""
    columns = [
        runs.c.job_id,
        runs.c.job_name,
        runs.c.environment,
        *_state_counts(),
        func.max(_RUN_DURATION).label("max_dur"),
        func.max(_START).label("last_start"),
        func.max(case((runs.c.state == "SUCCEEDED", runs.c.state_ts), else_=None)).label(
            "last_success"
        ),
    ]
    group = (runs.c.job_id, runs.c.job_name, runs.c.environment)
    if conn.dialect.name == "postgresql":
        stmt = select(
            *columns,
            func.percentile_cont(0.5).within_group(_RUN_DURATION).label("p50"),
            func.percentile_cont(0.95).within_group(_RUN_DURATION).label("p95"),
        )
        return list(conn.execute(stmt.where(scope.run_filter()).group_by(*group)).all())
    totals = select(*columns).where(scope.run_filter()).group_by(*group).subquery("t")
    pcts = percentiles(_run_durations(scope, runs.c.job_id), ["job_id"], "sqlite").subquery("p")
    stmt = select(totals, pcts.c.p50, pcts.c.p95).outerjoin(pcts, pcts.c.job_id == totals.c.job_id)
    return list(conn.execute(stmt).all())


def _run_durations(scope: Scope, *extra: Any) -> Any:
    return select(*extra, _RUN_DURATION.label("dur")).where(scope.run_filter()).subquery("d")


def recent_runs(conn: Connection, scope: Scope, per_job: int) -> list[Any]:
    """The newest `per_job` runs of each job (state, start, duration), newest first."""
    ranked = (
        select(
            runs.c.job_id,
            runs.c.run_id,
            runs.c.state,
            _START.label("start"),
            _RUN_DURATION.label("dur"),
            func.row_number()
            .over(partition_by=runs.c.job_id, order_by=(_START.desc(), runs.c.run_id))
            .label("rn"),
        )
        .where(scope.run_filter())
        .subquery("ranked")
    )
    stmt = (
        select(ranked.c.job_id, ranked.c.run_id, ranked.c.state, ranked.c.start, ranked.c.dur)
        .where(ranked.c.rn <= per_job)
        .order_by(ranked.c.job_id, ranked.c.rn)
    )
    return list(conn.execute(stmt).all())


def last_runs(conn: Connection, scope: Scope, limit: int) -> list[Any]:
    """A job's newest runs as full run rows (for the listing's serialiser)."""
    stmt = select(*RUN_COLUMNS).where(scope.run_filter()).order_by(*LISTING_ORDER).limit(limit)
    return list(conn.execute(stmt).all())


def daily_buckets(conn: Connection, scope: Scope) -> list[Any]:
    """Per UTC day of start: counts by state, max duration and percentiles."""
    day = _START // DAY
    stmt = (
        select(
            day.label("day"),
            *_state_counts(),
            func.max(_RUN_DURATION).label("max_dur"),
        )
        .where(scope.run_filter())
        .group_by(day)
        .order_by(day)
    )
    totals = list(conn.execute(stmt).all())
    durations = _run_durations(scope, day.label("day"))
    stmt_p = percentiles(durations, ["day"], conn.dialect.name)
    pcts = {r.day: (r.p50, r.p95) for r in conn.execute(stmt_p)}
    return [(row, pcts.get(row.day, (None, None))) for row in totals]


_STEP_START = func.coalesce(steps.c.first_running_ts, steps.c.first_event_ts)
_STEP_FINAL = steps.c.state.in_(("SUCCEEDED", "FAILED", "CANCELLED"))
_STEP_DURATION = case(
    (and_(_STEP_FINAL, _STEP_START.is_not(None)), steps.c.state_ts - _STEP_START), else_=None
)


def _scoped_steps() -> Any:
    return steps.join(runs, and_(runs.c.org_id == steps.c.org_id, runs.c.run_id == steps.c.run_id))


def step_stats(conn: Connection, scope: Scope) -> list[Any]:
    """Per step name of the job's runs: runs, failures, max and percentile durations."""
    failed = func.sum(case((steps.c.state == "FAILED", 1), else_=0))
    totals = (
        select(
            steps.c.name,
            func.count().label("runs"),
            failed.label("failed"),
            func.max(_STEP_DURATION).label("max_dur"),
        )
        .select_from(_scoped_steps())
        .where(scope.run_filter())
        .group_by(steps.c.name)
    )
    durations = (
        select(steps.c.name, _STEP_DURATION.label("dur"))
        .select_from(_scoped_steps())
        .where(scope.run_filter())
        .subquery("d")
    )
    pcts = {
        r.name: (r.p50, r.p95)
        for r in conn.execute(percentiles(durations, ["name"], conn.dialect.name))
    }
    return [(row, pcts.get(row.name, (None, None))) for row in conn.execute(totals)]


# --- figures for the Prometheus metrics ------------------------------------------------------


def finished_runs(conn: Connection, org_id: str, run_ids: list[str]) -> list[Any]:
    """Stored final runs among `run_ids`: job, environment, state and duration (µs or None)."""
    stmt = select(
        runs.c.job_name, runs.c.environment, runs.c.state, _RUN_DURATION.label("dur")
    ).where(runs.c.org_id == org_id, runs.c.run_id.in_(run_ids), _FINAL)
    return list(conn.execute(stmt).all())


def finished_steps(conn: Connection, org_id: str, keys: list[tuple[str, str]]) -> list[Any]:
    """Stored final steps among (run id, step name) `keys`, with their run's job."""
    wanted = set(keys)
    stmt = (
        select(
            steps.c.run_id,
            steps.c.name,
            runs.c.job_name,
            runs.c.environment,
            steps.c.state,
            _STEP_DURATION.label("dur"),
        )
        .select_from(_scoped_steps())
        .where(steps.c.org_id == org_id, steps.c.run_id.in_({k[0] for k in keys}), _STEP_FINAL)
    )
    return [r for r in conn.execute(stmt) if (r.run_id, r.name) in wanted]


def live_figures(conn: Connection, since: int) -> list[Any]:
    """Per organization, job and environment: runs in progress and the last success (µs), for
    runs whose last event is after `since` (the retention bounds the scan)."""
    stmt = (
        select(
            runs.c.org_id,
            runs.c.job_name,
            runs.c.environment,
            _count("RUNNING").label("running"),
            func.max(case((runs.c.state == "SUCCEEDED", runs.c.state_ts), else_=None)).label(
                "last_success"
            ),
        )
        .where(runs.c.last_event_ts >= since)
        .group_by(runs.c.org_id, runs.c.job_name, runs.c.environment)
    )
    return list(conn.execute(stmt).all())
