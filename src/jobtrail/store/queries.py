"""Reads behind the Jobs API. Each touches one organization's rows through an index that leads
with its id: the window reads at most the kept events plus their runs; a run read, that run."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    any_,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError

from jobtrail.store.dialect import joins_subqueries_well
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
# Positions in a listing row (a plain tuple of RUN_COLUMNS).
JOB_NAME, ENVIRONMENT, STATE = 2, 3, 5

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


def _window_events(*columns: Any) -> Any:
    """The window's state-change events, newest first (through ix_events_window)."""
    return (
        select(*columns)
        .where(
            events.c.org_id == bindparam("org"),
            events.c.ts >= bindparam("start"),
            events.c.ts < bindparam("end"),
        )
        .order_by(events.c.ts.desc(), events.c.event_id.desc())
    )


def _kept_events() -> Any:
    """The newest `cap` state-change events of the window. Its LIMIT is written out rather
    than `.limit()`: SQLAlchemy's SQLite dialect follows every LIMIT with `OFFSET 0`, and an
    OFFSET keeps SQLite from flattening the subquery into the `IN` list (it then runs it as a
    co-routine and reads its 10,000 rows a second time: 0.7-1 ms at the cap)."""
    return _window_events(events.c.run_id, events.c.ts).suffix_with(text("LIMIT :cap"))


# Rows cap-1 and cap: the first is the oldest kept event, the second exists when trimmed.
_BOUNDARY = _window_events(events.c.ts, events.c.event_id).limit(2).offset(bindparam("cut"))
# The kept events' runs in listing order, in one statement: SQLite builds a one-off index on
# the `IN (SELECT ... LIMIT n)`.
_KEPT = _kept_events().subquery("kept")
_RUNS_OF_KEPT = (
    select(*RUN_COLUMNS)
    .where(runs.c.org_id == bindparam("org"), runs.c.run_id.in_(select(_KEPT.c.run_id)))
    .order_by(*LISTING_ORDER)
)
_RUN_IDS = select(_KEPT.c.run_id).distinct()
# Whether any state change lies at or after the window's end (a window that ends in the past).
_LATER = (
    select(events.c.ts)
    .where(events.c.org_id == bindparam("org"), events.c.ts >= bindparam("end"))
    .limit(1)
)
# SQLite, a window with nothing after it (the usual `to=PT0S`): the same runs, found from the
# other side. The kept events are those of the window from the oldest kept one on (`low`, in
# the window's order), so a run is listed when it has one there. With nothing after the window,
# that is when its newest state change (`last_ts`, the time of its `last` key) is after `low`,
# or at `low`'s very time with an event id not below it: one lookup of its events (ix_events_run)
# for those ties only. The runs are found by ix_runs_retention (`last_event_ts`, which counts
# log events too, is never older than `last_ts`). At the cap that is less than half the SQL of
# de-duplicating the 10,000 kept ids. After a window that ends in the past the runs active
# since could be far more than its own: there `_RUNS_OF_KEPT`, whose cost the cap bounds.
_KEPT_RUNS_SINCE = (
    select(*RUN_COLUMNS)
    .where(
        runs.c.org_id == bindparam("org"),
        runs.c.last_event_ts >= bindparam("low_ts"),
        or_(
            runs.c.last_ts > bindparam("low_ts"),
            and_(
                runs.c.last_ts == bindparam("low_ts"),
                exists().where(
                    events.c.org_id == runs.c.org_id,
                    events.c.run_id == runs.c.run_id,
                    events.c.ts == bindparam("low_ts"),
                    events.c.event_id >= bindparam("low_id"),
                ),
            ),
        ),
    )
    .order_by(*LISTING_ORDER)
)
# The runs of the ids read first (PostgreSQL: a primary-key lookup whatever the table
# statistics; `IN`, a join or `ANY(ARRAY(subquery))` each re-scanned the kept ids per run row on
# tables not yet analysed, 0.05 to 2 s at the cap). The ids go as ONE text value, split by the
# server (`string_to_array`; run ids are hex digits): psycopg dumps a list parameter element by
# element in Python, 1.1 ms of CPU for the cap's 1,667 ids, against 0.05 ms for the joined
# text; the plans are the same (analysed or not).
_RUNS_BY_ID = (
    select(*RUN_COLUMNS)
    .where(
        runs.c.org_id == bindparam("org"),
        runs.c.run_id == any_(func.string_to_array(bindparam("ids"), ",")),
    )
    .order_by(*LISTING_ORDER)
)


@dataclass(frozen=True)
class _DriverStatement:
    """A statement compiled once for one dialect: its SQL string and how to order its values,
    run straight on the driver's cursor (`Reads`)."""

    sql: str
    positions: tuple[str, ...] | None  # names in order for positional paramstyles
    defaults: tuple[tuple[str, Any], ...]  # values SQLAlchemy bound itself (an OFFSET 0)

    def params(self, values: dict[str, Any]) -> Any:
        values = {**dict(self.defaults), **values}
        if self.positions is None:
            return values
        return tuple(values[name] for name in self.positions)


@cache
def _compiled(stmt: Any, dialect: Any) -> _DriverStatement:
    compiled = stmt.compile(dialect=dialect)
    positions = tuple(compiled.positiontup) if compiled.positional else None
    defaults = tuple((k, v) for k, v in compiled.params.items() if v is not None)
    return _DriverStatement(str(compiled), positions, defaults)


@contextmanager
def _driver_cursor(engine: Engine, snapshot: bool) -> Iterator[Any]:
    """A cursor of one pooled connection's driver (`snapshot`: on SQLite, its reads in one
    transaction, as `engine.connect()` gives them). On PostgreSQL the reads run in autocommit
    either way: at its READ COMMITTED each statement sees the store as of its own start even
    inside a transaction, so they see what they saw in one, without the round trips of its
    BEGIN and ROLLBACK (a small read's time was a handful of them). The driver's errors are
    wrapped as SQLAlchemy wraps its own, so an outage met here is a 503 like any other read's,
    and a lost connection is not handed back to the pool."""
    raw = engine.raw_connection()
    dbapi_error = engine.dialect.loaded_dbapi.Error
    postgres = engine.dialect.name == "postgresql"
    driver: Any = raw.dbapi_connection
    try:
        if postgres:
            driver.autocommit = True  # psycopg: a flag, set while no transaction is open
        cur = raw.cursor()
        if snapshot and not postgres:
            cur.execute("BEGIN")  # the driver itself runs each statement on its own otherwise
        yield cur
        cur.close()
        raw.rollback()
    except dbapi_error as exc:
        gone = engine.dialect.is_disconnect(exc, raw.dbapi_connection, None)
        if gone:
            raw.invalidate(exc)
        raise DBAPIError.instance(
            None, None, exc, dbapi_error, connection_invalidated=gone, dialect=engine.dialect
        ) from exc
    finally:
        if postgres and raw.dbapi_connection is not None:  # None: invalidated above
            try:  # back as the pool's other users expect it
                driver.autocommit = False
            except dbapi_error as exc:
                raw.invalidate(exc)
        raw.close()


_T = TypeVar("_T")


@dataclass(frozen=True)
class Read(Generic[_T]):
    """One read: its statement and values apart from how its rows are shaped, so that several
    independent reads can be sent together (`Reads.batch`) while each keeps one home."""

    stmt: Any
    values: dict[str, Any]
    shape: Callable[[list[Any]], _T]


class Reads:
    """Statements built with SQLAlchemy, compiled once per dialect, run on the driver's cursor:
    a run or step detail makes three to six small reads, and SQLAlchemy's execution and result
    machinery cost several times each of them; a listing's ~2,000 rows come back as plain
    tuples, without a Row built for each."""

    def __init__(self, cursor: Any, dialect: Any) -> None:
        self._cursor = cursor
        self._dialect = dialect

    def rows(self, stmt: Any, values: dict[str, Any]) -> list[Any]:
        compiled = _compiled(stmt, self._dialect)
        self._cursor.execute(compiled.sql, compiled.params(values))
        return list(self._cursor.fetchall())

    def get(self, read: Read[_T]) -> _T:
        return read.shape(self.rows(read.stmt, read.values))

    def batch(self, reads: Sequence[Read[Any]]) -> list[Any]:
        """Each read's shaped result, in order. On PostgreSQL they go to the server in one round
        trip (psycopg's pipeline mode, one cursor per statement: each round trip was a good part
        of a detail's time); on SQLite, one after another (no network to save)."""
        if self._dialect.driver != "psycopg":
            return [self.get(read) for read in reads]
        conn = self._cursor.connection
        cursors = [conn.cursor() for _ in reads]
        try:
            with conn.pipeline():  # leaving it syncs: every result is then at its cursor
                for cur, read in zip(cursors, reads, strict=True):
                    compiled = _compiled(read.stmt, self._dialect)
                    cur.execute(compiled.sql, compiled.params(read.values))
            return [
                read.shape(list(cur.fetchall())) for cur, read in zip(cursors, reads, strict=True)
            ]
        finally:
            for cur in cursors:
                cur.close()


@contextmanager
def reads(engine: Engine) -> Iterator[Reads]:
    """Reads on one connection: on SQLite in one transaction, which sees one state of the
    store; on PostgreSQL at READ COMMITTED, each statement as of its own start (as they did
    inside a transaction)."""
    with _driver_cursor(engine, snapshot=True) as cur:
        yield Reads(cur, engine.dialect)


def window_runs(
    engine: Engine, org_id: str, start: int, end: int, cap: int = EVENT_CAP
) -> WindowResult:
    """Runs that own at least one of the latest `cap` state-change events in [start, end)."""
    values: dict[str, Any] = {"org": org_id, "start": start, "end": end, "cap": cap, "cut": cap - 1}
    with _driver_cursor(engine, snapshot=True) as cur:  # SQLite: the edge and runs of one state
        reads = Reads(cur, engine.dialect)
        edge = reads.rows(_BOUNDARY, values)
        if not joins_subqueries_well(engine.dialect.name):
            ids = ",".join(row[0] for row in reads.rows(_RUN_IDS, values))
            rows = reads.rows(_RUNS_BY_ID, {**values, "ids": ids}) if ids else []
        elif reads.rows(_LATER, values):
            rows = reads.rows(_RUNS_OF_KEPT, values)
        else:
            low_ts, low_id = edge[0] if edge else (start, "")  # fewer than `cap`: all of them
            rows = reads.rows(_KEPT_RUNS_SINCE, {**values, "low_ts": low_ts, "low_id": low_id})
    truncated = len(edge) == 2
    return WindowResult(rows, truncated, edge[0][0] if truncated else None)


# Statements built once, their values bound per call: SQLAlchemy then finds the compiled SQL in
# its cache at once, where building the statement again on each call cost several times the
# query itself (each read below is a primary-key or index lookup).
_ORG: Any = bindparam("org")
_RUN: Any = bindparam("run")
_STEP: Any = bindparam("step")
_GET_RUN = select(*RUN_COLUMNS).where(runs.c.org_id == _ORG, runs.c.run_id == _RUN)
_GET_STEPS = select(*STEP_COLUMNS).where(steps.c.org_id == _ORG, steps.c.run_id == _RUN)
_GET_STEP = _GET_STEPS.where(steps.c.name == _STEP)
# The run's existence beside the step: one lookup answers both 404s of the step endpoints.
_STEP_OF_RUN = (
    select(runs.c.run_id.label("run_found"), *STEP_COLUMNS)
    .select_from(
        runs.outerjoin(
            steps,
            (steps.c.org_id == runs.c.org_id)
            & (steps.c.run_id == runs.c.run_id)
            & (steps.c.name == _STEP),
        )
    )
    .where(runs.c.org_id == _ORG, runs.c.run_id == _RUN)
)
_STATE_HISTORY = (
    select(events.c.ts, events.c.state, events.c.attempt, events.c.exit_code, events.c.message)
    .where(
        events.c.org_id == _ORG,
        events.c.run_id == _RUN,
        events.c.step_name == _STEP,
        events.c.kind == "step",
    )
    .order_by(events.c.ts, events.c.state_rank, events.c.event_id)
)
_STREAM_STATS = select(
    log_streams.c.stream, log_streams.c.kept_bytes, log_streams.c.dropped_bytes
).where(
    log_streams.c.org_id == _ORG,
    log_streams.c.run_id == _RUN,
    log_streams.c.step_name == _STEP,
)


def get_run(conn: Connection, org_id: str, run_id: str) -> Any | None:
    return conn.execute(_GET_RUN, {"org": org_id, "run": run_id}).first()


def get_step(conn: Connection, org_id: str, run_id: str, name: str) -> Any | None:
    return conn.execute(_GET_STEP, {"org": org_id, "run": run_id, "step": name}).first()


@dataclass(frozen=True)
class StreamStats:
    kept_bytes: int
    dropped_bytes: int


def stream_stats(
    conn: Connection, org_id: str, run_id: str, step_name: str
) -> dict[str, StreamStats]:
    rows = conn.execute(_STREAM_STATS, {"org": org_id, "run": run_id, "step": step_name})
    return {r.stream: StreamStats(r.kept_bytes, r.dropped_bytes) for r in rows}


class StepRow(NamedTuple):
    """A step as STEP_COLUMNS read it."""

    name: str
    state: str
    state_ts: int
    dependencies: str
    attempt: int
    exit_code: int | None
    message: str | None
    first_event_ts: int | None
    first_running_ts: int | None


class StateChange(NamedTuple):
    ts: int
    state: str
    attempt: int | None
    exit_code: int | None
    message: str | None


# The run and step details' reads, on `Reads`; the full-log endpoint's three reads are the
# functions above, on a SQLAlchemy connection.
def run_of(org_id: str, run_id: str) -> Read[Any | None]:
    """The run's row (a plain tuple of RUN_COLUMNS), or None."""
    return Read(_GET_RUN, {"org": org_id, "run": run_id}, lambda rows: rows[0] if rows else None)


def steps_of(org_id: str, run_id: str) -> Read[list[StepRow]]:
    params = {"org": org_id, "run": run_id}
    return Read(_GET_STEPS, params, lambda rows: [StepRow._make(r) for r in rows])


def step_and_run(org_id: str, run_id: str, name: str) -> Read[tuple[bool, StepRow | None]]:
    """(whether the run exists, the step's row or None) in one read."""
    return Read(_STEP_OF_RUN, {"org": org_id, "run": run_id, "step": name}, _step_and_run)


def _step_and_run(rows: list[Any]) -> tuple[bool, StepRow | None]:
    if not rows:
        return False, None
    row = rows[0]
    return True, (StepRow._make(row[1:]) if row[1] is not None else None)


def history_of(org_id: str, run_id: str, step_name: str) -> Read[list[StateChange]]:
    """Every state change of a step, in materialisation order."""
    params = {"org": org_id, "run": run_id, "step": step_name}
    return Read(_STATE_HISTORY, params, lambda rows: [StateChange._make(r) for r in rows])


def stats_of(org_id: str, run_id: str, step_name: str) -> Read[dict[str, StreamStats]]:
    """Each stream's kept and dropped bytes (`stream_stats` on `Reads`)."""
    params = {"org": org_id, "run": run_id, "step": step_name}
    return Read(_STREAM_STATS, params, _stats)


def _stats(rows: list[Any]) -> dict[str, StreamStats]:
    return {stream: StreamStats(kept, dropped) for stream, kept, dropped in rows}
