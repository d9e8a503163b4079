"""Reads behind the Jobs API. Each touches one organization's rows through an index that leads
with its id: the window reads at most the kept events plus their runs; a run read, that run."""

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select

from jobtrail.store.dialect import in_bound_list, joins_subqueries_well
from jobtrail.store.schema import events, log_streams, runs, steps
from jobtrail.wire.limits import DEFAULT_WINDOW_EVENT_CAP

EVENT_CAP = DEFAULT_WINDOW_EVENT_CAP

RUN_COLUMNS = (
    runs.c.run_id,
    runs.c.job_id,
    runs.c.job_name,
    runs.c.environment,
    runs.c.run_key,
    runs.c.state,
    runs.c.state_ts,
    runs.c.first_event_ts,
    runs.c.first_running_ts,
    runs.c.last_ts,
)

STEP_COLUMNS = (
    steps.c.name,
    steps.c.state,
    steps.c.state_ts,
    steps.c.dependencies,
    steps.c.attempt,
    steps.c.exit_code,
    steps.c.message,
    steps.c.first_event_ts,
    steps.c.first_running_ts,
)


# Newest startTime first (runs without one last), then job, environment and the reporter's run
# key: stable, and the same wherever the events came from.
_START = func.coalesce(runs.c.first_running_ts, runs.c.first_event_ts)
LISTING_ORDER = (
    _START.is_(None),
    _START.desc(),
    runs.c.job_name,
    runs.c.environment,
    runs.c.run_key,
)


@dataclass(frozen=True)
class WindowResult:
    runs: list[Any]
    truncated: bool
    oldest_kept_ts: int | None


def _kept_events(cap: int) -> Any:
    """The newest `cap` state-change events of the window, through ix_events_window."""
    return (
        select(events.c.run_id, events.c.ts)
        .where(
            events.c.org_id == bindparam("org"),
            events.c.ts >= bindparam("start"),
            events.c.ts < bindparam("end"),
        )
        .order_by(events.c.ts.desc(), events.c.event_id.desc())
        .limit(cap)
    )


@cache
def _window_statements(cap: int) -> tuple[Any, Any, Any, Any]:
    kept = _kept_events(cap).subquery("kept")
    run_ids = select(kept.c.run_id).distinct()
    runs_of_kept = (
        select(*RUN_COLUMNS)
        .where(runs.c.org_id == bindparam("org"), runs.c.run_id.in_(select(kept.c.run_id)))
        .order_by(*LISTING_ORDER)
    )
    runs_by_id = (
        select(*RUN_COLUMNS)
        .where(runs.c.org_id == bindparam("org"), in_bound_list(runs.c.run_id, "ids"))
        .order_by(*LISTING_ORDER)
    )
    # Rows cap-1 and cap: the first is the oldest kept event, the second exists when trimmed.
    boundary = (
        select(events.c.ts)
        .where(
            events.c.org_id == bindparam("org"),
            events.c.ts >= bindparam("start"),
            events.c.ts < bindparam("end"),
        )
        .order_by(events.c.ts.desc(), events.c.event_id.desc())
        .limit(2)
        .offset(cap - 1)
    )
    return runs_of_kept, run_ids, runs_by_id, boundary


def window_runs(
    engine: Engine, org_id: str, start: int, end: int, cap: int = EVENT_CAP
) -> WindowResult:
    """Runs that own at least one of the latest `cap` state-change events in [start, end)."""
    runs_of_kept, run_ids, runs_by_id, boundary = _window_statements(cap)
    params = {"org": org_id, "start": start, "end": end}
    with engine.connect() as conn:
        edge: list[int] = list(conn.execute(boundary, params).scalars().all())
        if joins_subqueries_well(conn.dialect.name):
            found = conn.execute(runs_of_kept, params).all()
        else:
            ids: list[str] = list(conn.execute(run_ids, params).scalars())
            found = conn.execute(runs_by_id, {"org": org_id, "ids": ids}).all() if ids else []
    truncated = len(edge) == 2
    return WindowResult(list(found), truncated, edge[0] if truncated else None)


def get_run(conn: Connection, org_id: str, run_id: str) -> Any | None:
    stmt = select(*RUN_COLUMNS).where(runs.c.org_id == org_id, runs.c.run_id == run_id)
    return conn.execute(stmt).first()


def get_steps(conn: Connection, org_id: str, run_id: str) -> list[Any]:
    stmt = select(*STEP_COLUMNS).where(steps.c.org_id == org_id, steps.c.run_id == run_id)
    return list(conn.execute(stmt).all())


def get_step(conn: Connection, org_id: str, run_id: str, name: str) -> Any | None:
    stmt = select(*STEP_COLUMNS).where(
        steps.c.org_id == org_id, steps.c.run_id == run_id, steps.c.name == name
    )
    return conn.execute(stmt).first()


def state_history(conn: Connection, org_id: str, run_id: str, step_name: str) -> list[Any]:
    """Every state change of a step, in materialisation order."""
    e = events.c
    stmt = (
        select(e.ts, e.state, e.attempt, e.exit_code, e.message)
        .where(e.org_id == org_id, e.run_id == run_id, e.step_name == step_name, e.kind == "step")
        .order_by(e.ts, e.state_rank, e.event_id)
    )
    return list(conn.execute(stmt).all())


@dataclass(frozen=True)
class StreamStats:
    kept_bytes: int
    dropped_bytes: int


def stream_stats(
    conn: Connection, org_id: str, run_id: str, step_name: str
) -> dict[str, StreamStats]:
    s = log_streams.c
    stmt = select(s.stream, s.kept_bytes, s.dropped_bytes).where(
        s.org_id == org_id, s.run_id == run_id, s.step_name == step_name
    )
    return {r.stream: StreamStats(r.kept_bytes, r.dropped_bytes) for r in conn.execute(stmt)}
