"""Insights (SPEC §3.7): per-job health over a window, computed by the database. Nothing here
loads runs into Python: every answer is bounded by the number of jobs, steps or days, whatever
the number of runs. The runs' start and duration are generated columns, and two indexes hold a
job's runs by start and by duration, so the listing reads indexes only, never the table.

Percentiles are continuous (linear interpolation), the same on both backends: PostgreSQL's
percentile_cont, and on SQLite the one or two durations around the rank, each fetched from the
duration index by ORDER BY ... LIMIT ... OFFSET (SQLite's window functions over 100,000 runs
cost ten times more than that)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    column,
    func,
    lateral,
    literal,
    select,
    true,
    values,
)

from jobtrail.store.queries import LISTING_ORDER, RUN_COLUMNS
from jobtrail.store.schema import alert_deliveries, runs, steps

DAY = 86_400_000_000
FINAL_RUN_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
TOP_STEPS = 10

_FINAL = runs.c.state.in_(FINAL_RUN_STATES)
_GROUP = (runs.c.job_id, runs.c.environment, runs.c.job_name)


@dataclass(frozen=True)
class Scope:
    """One organization's runs that started in [start, end), optionally of one job."""

    org_id: str
    start: int
    end: int
    job_id: str | None = None

    def run_filter(self) -> Any:
        clauses = [
            runs.c.org_id == self.org_id,
            runs.c.start_ts >= self.start,
            runs.c.start_ts < self.end,
        ]
        if self.job_id is not None:
            clauses.append(runs.c.job_id == self.job_id)
        return and_(*clauses)


JobKey = tuple[str, str, str]  # job id, environment, job name


@dataclass(frozen=True)
class JobTotals:
    """One job's figures over a scope; durations in µs (percentiles as floats)."""

    job_id: str
    environment: str
    job_name: str
    runs: int
    succeeded: int
    failed: int
    cancelled: int
    running: int
    pending: int
    max_dur: int | None
    last_start: int | None
    last_success: int | None
    p50: float | None
    p95: float | None

    @property
    def key(self) -> JobKey:
        return (self.job_id, self.environment, self.job_name)


def _count(state: str) -> Any:
    return func.sum(case((runs.c.state == state, 1), else_=0))


def _state_counts() -> list[Any]:
    return [
        func.count().label("runs"),
        *(_count(s).label(s.lower()) for s in ("SUCCEEDED", "FAILED", "CANCELLED", "RUNNING")),
        _count("PENDING").label("pending"),
    ]


def percentiles(durations: Any, keys: list[str], dialect: str) -> Select[Any]:
    """p50 and p95 (µs, floats) of `durations.c.dur` per `keys`, NULL durations left out; for
    the small sets of one job (its days, its steps)."""
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


def job_totals(conn: Connection, scope: Scope) -> list[JobTotals]:
    """Per job and environment: counts by state, p50/p95/max duration, last run start and last
    success end. One ordered pass over the duration index (with the percentiles inline on
    PostgreSQL; on SQLite two small index reads per job after it)."""
    columns = [
        *_GROUP,
        *_state_counts(),
        func.max(runs.c.duration).label("max_dur"),
        func.max(runs.c.start_ts).label("last_start"),
        func.max(case((runs.c.state == "SUCCEEDED", runs.c.state_ts), else_=None)).label(
            "last_success"
        ),
    ]
    if conn.dialect.name == "postgresql":
        columns += [
            func.percentile_cont(0.5).within_group(runs.c.duration).label("p50"),
            func.percentile_cont(0.95).within_group(runs.c.duration).label("p95"),
        ]
        stmt = select(*columns).where(scope.run_filter()).group_by(*_GROUP)
        return [JobTotals(**row._mapping) for row in conn.execute(stmt)]
    columns.append(func.count(runs.c.duration).label("timed"))
    stmt = select(*columns).where(scope.run_filter()).group_by(*_GROUP)
    out = []
    for row in conn.execute(stmt).all():  # the totals first: they open the read transaction
        figures = dict(row._mapping)
        timed = figures.pop("timed")
        key = (row.job_id, row.environment, row.job_name)
        p50, p95 = (_sqlite_percentile(conn, scope, key, timed, p) for p in (0.5, 0.95))
        out.append(JobTotals(**figures, p50=p50, p95=p95))
    return out


# A job's final runs in duration order, read from ix_runs_durations alone.
_SQLITE_BY_DURATION = """
SELECT duration FROM runs INDEXED BY ix_runs_durations
WHERE org_id = ? AND job_id = ? AND environment = ? AND job_name = ? AND duration IS NOT NULL
  AND start_ts >= ? AND start_ts < ?
ORDER BY duration {order} LIMIT ? OFFSET ?"""
_SQLITE_ASCENDING = _SQLITE_BY_DURATION.format(order="ASC")
_SQLITE_DESCENDING = _SQLITE_BY_DURATION.format(order="DESC")


def _driver(conn: Connection) -> Any:
    """The DB-API connection under `conn`, in its transaction: many small statements through it
    cost a third of what they cost through SQLAlchemy."""
    return conn.connection.driver_connection


def _sqlite_percentile(
    conn: Connection, scope: Scope, job: JobKey, n: int, p: float
) -> float | None:
    """percentile_cont(p) of the job's `n` durations: the values at ranks floor(p·(n-1)) and the
    next, interpolated, read from whichever end of the index is nearer."""
    if not n:
        return None
    pos = p * (n - 1)
    low = int(pos)
    frac = pos - low
    ranks = [low, low + 1] if frac else [low]
    args = (scope.org_id, *job, scope.start, scope.end, len(ranks))
    if ranks[0] <= n - 1 - ranks[-1]:
        found = _driver(conn).execute(_SQLITE_ASCENDING, (*args, ranks[0])).fetchall()
        values = [r[0] for r in found]
    else:
        found = _driver(conn).execute(_SQLITE_DESCENDING, (*args, n - 1 - ranks[-1])).fetchall()
        values = [r[0] for r in reversed(found)]
    if len(values) != len(ranks):  # only if the rows changed under a reader without snapshot
        return None
    return float(values[0]) if not frac else values[0] + (values[1] - values[0]) * frac


def _run_durations(scope: Scope, *extra: Any) -> Any:
    return select(*extra, runs.c.duration.label("dur")).where(scope.run_filter()).subquery("d")


_RECENT_COLUMNS = (
    runs.c.run_id,
    runs.c.state,
    runs.c.start_ts.label("start"),
    runs.c.duration.label("dur"),
)
_RECENT_ORDER = (runs.c.start_ts.desc(), runs.c.run_id)

# A job's newest runs, read from ix_runs_job alone.
_SQLITE_RECENT = """
SELECT run_id, state, start_ts, duration FROM runs INDEXED BY ix_runs_job
WHERE org_id = ? AND job_id = ? AND environment = ? AND job_name = ?
  AND start_ts >= ? AND start_ts < ?
ORDER BY start_ts DESC, run_id LIMIT ?"""


RecentRun = tuple[str, str, int, int | None]  # run id, state, start, duration (µs)


def recent_runs(
    conn: Connection, scope: Scope, jobs: Sequence[JobKey], per_job: int
) -> dict[JobKey, list[RecentRun]]:
    """The newest `per_job` runs of each of `jobs` (state, start, duration), newest first: a
    short read of the start index per job (a LATERAL join on PostgreSQL)."""
    if not jobs or not per_job:
        return {}
    if conn.dialect.name == "postgresql":
        wanted = (
            values(
                column("job_id", String),
                column("environment", String),
                column("job_name", String),
                name="wanted",
            )
            .data(list(jobs))
            .alias("wanted")
        )
        newest = lateral(
            select(*_RECENT_COLUMNS)
            .where(
                scope.run_filter(),
                runs.c.job_id == wanted.c.job_id,
                runs.c.environment == wanted.c.environment,
                runs.c.job_name == wanted.c.job_name,
            )
            .order_by(*_RECENT_ORDER)
            .limit(per_job),
            name="newest",
        )
        stmt = select(*wanted.c, *newest.c).select_from(wanted.join(newest, true()))
        out: dict[JobKey, list[RecentRun]] = {}
        for row in conn.execute(stmt):
            key = (row.job_id, row.environment, row.job_name)
            out.setdefault(key, []).append((row.run_id, row.state, row.start, row.dur))
        return {k: sorted(v, key=lambda r: (-r[2], r[0])) for k, v in out.items()}
    driver = _driver(conn)
    return {
        job: driver.execute(
            _SQLITE_RECENT, (scope.org_id, *job, scope.start, scope.end, per_job)
        ).fetchall()
        for job in jobs
    }


def last_runs(conn: Connection, scope: Scope, limit: int) -> list[Any]:
    """A job's newest runs as full run rows (for the listing's serialiser)."""
    stmt = select(*RUN_COLUMNS).where(scope.run_filter()).order_by(*LISTING_ORDER).limit(limit)
    return list(conn.execute(stmt).all())


def daily_buckets(conn: Connection, scope: Scope) -> list[Any]:
    """Per UTC day of start: counts by state, max duration and percentiles (of one job)."""
    day = runs.c.start_ts // DAY
    stmt = (
        select(
            day.label("day"),
            *_state_counts(),
            func.max(runs.c.duration).label("max_dur"),
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
        runs.c.job_name, runs.c.environment, runs.c.state, runs.c.duration.label("dur")
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


def delivery_figures(conn: Connection) -> list[Any]:
    """Per organization, channel and status (pending, delivered, failed): alert deliveries and
    their attempts. Deliveries are kept, and only move from pending to delivered or failed, so
    the delivered and failed counts only grow."""
    ad = alert_deliveries.c
    stmt = select(
        ad.org_id,
        ad.channel,
        ad.status,
        func.count().label("deliveries"),
        func.sum(ad.attempts).label("attempts"),
    ).group_by(ad.org_id, ad.channel, ad.status)
    return list(conn.execute(stmt).all())
