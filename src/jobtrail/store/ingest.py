"""Writing a batch of events: atomic, idempotent on eventId, merged by the materialisation rule."""

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, case, delete, select, tuple_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from jobtrail.domain.events import Event, conflict, unique_events
from jobtrail.domain.logcap import chunks_to_drop
from jobtrail.domain.materialise import Folded, LogChunk, RunRow, StepRow, fold
from jobtrail.domain.states import is_terminal
from jobtrail.store.dialect import insert, insert_many, is_retryable, write_transaction
from jobtrail.store.notify import notify_runs
from jobtrail.store.partitions import clashes, is_partitioned, lock_all, lock_buckets
from jobtrail.store.schema import events, log_chunks, log_streams, runs, steps

_EVENTS_INSERT = events.insert()
_CHUNKS_INSERT = log_chunks.insert()
_ATTEMPTS = 5  # a concurrent writer won a race (deadlock, unique key): retry once it committed


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    # Runs and steps that this batch's new events moved to a final state (for the metrics).
    finished_runs: tuple[str, ...] = ()
    finished_steps: tuple[tuple[str, str], ...] = ()


def _finished(folded: Folded) -> dict[str, Any]:
    return {
        "finished_runs": tuple(r.run_id for r in folded.runs.values() if is_terminal(r.state)),
        "finished_steps": tuple(k for k, s in folded.steps.items() if is_terminal(s.state)),
    }


@dataclass(frozen=True)
class Rows:
    """The parameters of a folded batch's statements, in the order they are written.

    Built before the write lock is taken: the group committer's thread is the one serial stage
    of ingestion, so it only runs statements. Rows are in key order (events by eventId, runs,
    steps and chunks by their keys): two batches holding the same new events in different
    orders then never wait on each other in a cycle, which PostgreSQL would break with a
    deadlock error."""

    events: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    chunks: list[dict[str, Any]]
    event_runs: list[str]  # runs with a new state event (told to live tails at commit)
    finished: dict[str, Any]


def rows_of(folded: Folded) -> Rows:
    """The statement parameters of a folded batch (sorts its event rows in place)."""
    folded.events.sort(key=_event_id)
    return Rows(
        folded.events,
        [_run_params(folded.runs[k]) for k in sorted(folded.runs)],
        [_step_params(folded.steps[k]) for k in sorted(folded.steps)],
        [_chunk_params(folded.chunks[k]) for k in sorted(folded.chunks)],
        sorted({str(row["run_id"]) for row in folded.events}),
        _finished(folded),
    )


def _chunk_params(chunk: LogChunk) -> dict[str, Any]:
    return chunk.__dict__  # its own fields, as they are: no copy


@dataclass(frozen=True)
class Prepared:
    """A batch de-duplicated, folded and turned into statement parameters before any lock is
    taken (CPU work, no I/O)."""

    org_id: str
    size: int
    unique: dict[str, Event]
    optimistic: Folded
    rows: Rows

    def locks(self, bind: Engine | Connection) -> list[int]:
        """The key lock buckets its event rows take on `bind` (`partitions.lock_buckets`):
        none on SQLite; on PostgreSQL computed once, for the group committer (which takes a
        group's first) and the write alike."""
        return self._buckets if is_partitioned(bind) else []

    @cached_property
    def _buckets(self) -> list[int]:
        return lock_buckets(self.rows.events)


def prepare(org_id: str, batch: Sequence[Event]) -> Prepared:
    """An eventId repeated in the batch with other content refuses it (EventConflict)."""
    unique = unique_events(list(batch))
    # Folded on the bet that no event is stored yet (the usual case); when the bet fails the
    # batch is folded again from the events that are new.
    optimistic = fold(org_id, list(unique.values()))
    return Prepared(org_id, len(batch), unique, optimistic, rows_of(optimistic))


def ingest(engine: Engine, org_id: str, batch: Sequence[Event], stream_cap: int) -> IngestResult:
    """Store every new event of the batch in one transaction, or none of them. An eventId seen
    before with other content refuses the whole batch (EventConflict)."""
    prepared = prepare(org_id, batch)
    for attempt in range(_ATTEMPTS):
        try:
            with write_transaction(engine) as conn:
                return write_prepared(conn, prepared, stream_cap)
        except DBAPIError as exc:
            if attempt == _ATTEMPTS - 1 or not is_retryable(exc):
                raise
            backoff(attempt)
    raise AssertionError("unreachable")


def backoff(attempt: int) -> None:
    """Let the concurrent writer that won a race finish before trying again."""
    time.sleep(random.uniform(0, 0.01 * 2**attempt))


def write_prepared(conn: Connection, prepared: Prepared, stream_cap: int) -> IngestResult:
    """The writes of `ingest` inside the caller's transaction (group commit shares one)."""
    rows = prepared.rows
    locks = prepared.locks(conn)
    if not _insert_all_or_nothing(conn, _events_insert_ignore, rows.events, "events", locks):
        rows = rows_of(_refold_new(conn, prepared.org_id, prepared.unique, prepared.optimistic))
        insert_many(conn, _EVENTS_INSERT, rows.events)
    stored_chunks = _write_materialised(conn, rows, stream_cap)
    notify_runs(conn, prepared.org_id, _changed_runs(rows, stored_chunks))
    accepted = len(rows.events) + stored_chunks
    return IngestResult(accepted, prepared.size - accepted, **rows.finished)


def _changed_runs(rows: Rows, stored_chunks: int) -> list[str]:
    """Runs with new state or (likely) new output: what live tails are told at commit."""
    if not stored_chunks:
        return rows.event_runs
    return sorted({*rows.event_runs, *(chunk["run_id"] for chunk in rows.chunks)})


def _event_id(row: dict[str, Any]) -> Any:
    return row["event_id"]


def _refold_new(
    conn: Connection, org_id: str, unique: dict[str, Event], optimistic: Folded
) -> Folded:
    """The batch without its stored events, after checking that each stored one says the same."""
    state_ids = [i for i, e in unique.items() if e.kind != "log"]
    known = _known_fingerprints(conn, org_id, state_ids)
    if known:
        incoming = {row["event_id"]: row["fingerprint"] for row in optimistic.events}
        clashes = [i for i, fp in known.items() if fp is not None and fp != incoming[i]]
        if clashes:
            raise conflict(clashes, "again")
    return fold(org_id, [e for i, e in unique.items() if i not in known])


def _insert_all_or_nothing(
    conn: Connection,
    statement: Callable[[str], Any],
    rows: Sequence[dict[str, Any]],
    table: str,
    locks: Sequence[int] = (),
) -> bool:
    """Insert the rows if none of them is stored yet (the usual case, one statement); else
    change nothing and say False, so the caller takes the slower, exact path. On PostgreSQL a
    key stored in another day's partition is not a conflict of the insert: `clashes` asks,
    after taking the rows' key `locks` made any concurrent writer of the same keys commit
    first (`partitions.lock_all`; outside the savepoint, whose rollback would release them)."""
    if not rows:
        return True
    lock_all(conn, locks)
    savepoint = conn.begin_nested()
    inserted = insert_many(conn, statement(conn.dialect.name), rows)
    if inserted == len(rows) and not clashes(conn, table, rows):
        savepoint.commit()
        return True
    savepoint.rollback()
    return False


@cache
def _events_insert_ignore(dialect: str) -> Any:
    return insert(events, dialect).on_conflict_do_nothing()


def _known_fingerprints(conn: Connection, org_id: str, ids: list[str]) -> dict[str, str | None]:
    """Stored event ids among `ids`, with their fingerprints (None when stored before those)."""
    found: dict[str, str | None] = {}
    stmt = select(events.c.event_id, events.c.fingerprint).where(
        events.c.org_id == org_id, events.c.event_id.in_(bindparam("ids", expanding=True))
    )
    for start in range(0, len(ids), 5000):
        rows = conn.execute(stmt, {"ids": ids[start : start + 5000]})
        found.update((row.event_id, row.fingerprint) for row in rows)
    return found


def _write_materialised(conn: Connection, rows: Rows, stream_cap: int) -> int:
    """Merge the folded runs, steps and log chunks into the stored ones; returns how many log
    chunks were new."""
    if not rows.runs:
        return 0
    insert_many(conn, _runs_upsert(conn.dialect.name), rows.runs)
    insert_many(conn, _steps_upsert(conn.dialect.name), rows.steps)
    if not rows.chunks:
        return 0
    return _write_logs(conn, rows.chunks, stream_cap)


def _key_cols(row: Any, prefix: str) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in _key_columns(prefix))


def _newer(table: Table, excluded: Any, prefix: str) -> ColumnElement[bool]:
    """The incoming key (timestamp, rank, event id) beats the stored one."""
    return tuple_(*_key_cols(excluded, prefix)) > tuple_(*_key_cols(table.c, prefix))


def _pick(
    cond: ColumnElement[bool], excluded: Any, table: Table, names: Iterable[str]
) -> dict[str, Any]:
    return {n: case((cond, getattr(excluded, n)), else_=getattr(table.c, n)) for n in names}


def _earliest(table: Table, excluded: Any, name: str) -> ColumnElement[Any]:
    old, new = getattr(table.c, name), getattr(excluded, name)
    return case((old.is_(None), new), (new.is_(None), old), (new < old, new), else_=old)


def _key_columns(prefix: str) -> tuple[str, str, str]:
    """The columns a row's key (timestamp, rank, event id) is stored in."""
    return (f"{prefix}_ts", f"{prefix}_rank", f"{prefix}_eid")


_STATE, _LAST, _DEPS, _OWNERS = (_key_columns(p) for p in ("state", "last", "deps", "owners"))


def _run_params(row: RunRow) -> dict[str, object]:
    params = dict(row.__dict__)  # a shallow copy: dataclasses.asdict deep-copies, far slower
    params.update(zip(_STATE, params.pop("state_key"), strict=True))
    params.update(zip(_LAST, params.pop("last_key"), strict=True))
    return params


@cache
def _runs_upsert(dialect: str) -> Any:
    ins = insert(runs, dialect)
    ex = ins.excluded
    state_cols = ("state", "state_ts", "state_rank", "state_eid", "attempt", "exit_code", "message")
    last_cols = ("last_ts", "last_rank", "last_eid", "job_name", "environment")
    set_ = {
        **_pick(_newer(runs, ex, "state"), ex, runs, state_cols),
        **_pick(_newer(runs, ex, "last"), ex, runs, last_cols),
        "first_event_ts": _earliest(runs, ex, "first_event_ts"),
        "first_running_ts": _earliest(runs, ex, "first_running_ts"),
        "last_event_ts": case(
            (ex.last_event_ts > runs.c.last_event_ts, ex.last_event_ts),
            else_=runs.c.last_event_ts,
        ),
    }
    return ins.on_conflict_do_update(index_elements=[runs.c.org_id, runs.c.run_id], set_=set_)


def _step_params(row: StepRow) -> dict[str, object]:
    params = dict(row.__dict__)
    params.update(zip(_STATE, params.pop("state_key"), strict=True))
    params.update(zip(_DEPS, params.pop("deps_key"), strict=True))
    params.update(zip(_OWNERS, params.pop("owners_key"), strict=True))
    return params


@cache
def _steps_upsert(dialect: str) -> Any:
    ins = insert(steps, dialect)
    ex = ins.excluded
    state_cols = ("state", "state_ts", "state_rank", "state_eid", "exit_code", "message")
    deps_cols = ("dependencies", "deps_ts", "deps_rank", "deps_eid")
    owners_cols = ("owners", "owners_ts", "owners_rank", "owners_eid")
    set_ = {
        **_pick(_newer(steps, ex, "state"), ex, steps, state_cols),
        **_pick(_newer(steps, ex, "deps"), ex, steps, deps_cols),
        **_pick(_newer(steps, ex, "owners"), ex, steps, owners_cols),
        "attempt": case((ex.attempt > steps.c.attempt, ex.attempt), else_=steps.c.attempt),
        "first_event_ts": _earliest(steps, ex, "first_event_ts"),
        "first_running_ts": _earliest(steps, ex, "first_running_ts"),
    }
    return ins.on_conflict_do_update(
        index_elements=[steps.c.org_id, steps.c.run_id, steps.c.name], set_=set_
    )


StreamKey = tuple[str, str, str]


def _write_logs(conn: Connection, chunks: list[dict[str, Any]], cap: int) -> int:
    """Store new chunks (a (stream, seq) already stored, or inside the gap the cap dropped, is a
    duplicate), keep the per-stream counts, and apply the cap. Returns the chunks stored."""
    org_id = chunks[0]["org_id"]
    run_ids = sorted({c["run_id"] for c in chunks})
    stats = _stream_stats(conn, org_id, run_ids)
    rows = chunks
    if any(stat[2] is not None for stat in stats.values()):  # the cap dropped some seqs before
        rows = [
            c
            for c in chunks
            if not _in_dropped_gap(stats.get((c["run_id"], c["step_name"], c["stream"])), c["seq"])
        ]
    if not _insert_all_or_nothing(conn, _chunks_insert_ignore, rows, "log_chunks"):
        present = _present_seqs(conn, org_id, run_ids, sorted({c["seq"] for c in chunks}))
        rows = [
            r for r in rows if (r["run_id"], r["step_name"], r["stream"], r["seq"]) not in present
        ]
        insert_many(conn, _CHUNKS_INSERT, rows)
    kept: dict[StreamKey, int] = {}
    for r in rows:
        key = (r["run_id"], r["step_name"], r["stream"])
        kept[key] = kept.get(key, 0) + r["size"]
    _update_stream_stats(conn, org_id, kept)
    for key in sorted(kept):
        if stats.get(key, (0,))[0] + kept[key] > cap:
            _enforce_cap(conn, org_id, key, cap)
    return len(rows)


def _in_dropped_gap(stat: tuple[int, int, int | None, int | None] | None, seq: int) -> bool:
    if stat is None or stat[2] is None or stat[3] is None:
        return False
    return stat[2] <= seq <= stat[3]


@cache
def _chunks_insert_ignore(dialect: str) -> Any:
    return insert(log_chunks, dialect).on_conflict_do_nothing()


def _stream_stats(
    conn: Connection, org_id: str, run_ids: list[str]
) -> dict[StreamKey, tuple[int, int, int | None, int | None]]:
    t = log_streams.c
    stmt = select(
        t.run_id, t.step_name, t.stream, t.kept_bytes, t.dropped_bytes, t.dropped_lo, t.dropped_hi
    ).where(t.org_id == org_id, t.run_id.in_(run_ids))
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5], r[6]) for r in conn.execute(stmt)}


def _present_seqs(
    conn: Connection, org_id: str, run_ids: list[str], seqs: list[int]
) -> set[tuple[str, str, str, int]]:
    t = log_chunks.c
    stmt = select(t.run_id, t.step_name, t.stream, t.seq).where(
        t.org_id == org_id, t.run_id.in_(run_ids), t.seq.in_(seqs)
    )
    return {(r[0], r[1], r[2], r[3]) for r in conn.execute(stmt)}


def _update_stream_stats(conn: Connection, org_id: str, kept: dict[StreamKey, int]) -> None:
    rows = [
        {
            "org_id": org_id,
            "run_id": k[0],
            "step_name": k[1],
            "stream": k[2],
            "kept_bytes": size,
            "dropped_bytes": 0,
            "dropped_lo": None,
            "dropped_hi": None,
        }
        for k, size in sorted(kept.items())
    ]
    insert_many(conn, _streams_upsert(conn.dialect.name), rows)


@cache
def _streams_upsert(dialect: str) -> Any:
    ins = insert(log_streams, dialect)
    ex = ins.excluded
    return ins.on_conflict_do_update(
        index_elements=[
            log_streams.c.org_id,
            log_streams.c.run_id,
            log_streams.c.step_name,
            log_streams.c.stream,
        ],
        set_={
            "kept_bytes": log_streams.c.kept_bytes + ex.kept_bytes,
            "dropped_bytes": log_streams.c.dropped_bytes + ex.dropped_bytes,
        },
    )


def _enforce_cap(conn: Connection, org_id: str, key: StreamKey, cap: int) -> None:
    """Drop the middle of a stream that outgrew the cap, and remember how much and which seqs."""
    t = log_chunks.c
    where = (t.org_id == org_id, t.run_id == key[0], t.step_name == key[1], t.stream == key[2])
    sizes = [
        (r.seq, r.size) for r in conn.execute(select(t.seq, t.size).where(*where).order_by(t.seq))
    ]
    drop = chunks_to_drop(sizes, cap)
    if not drop:
        return
    size_of = dict(sizes)
    freed = sum(size_of[s] for s in drop)
    conn.execute(delete(log_chunks).where(*where, t.seq.in_(drop)))
    s = log_streams.c
    row = conn.execute(
        select(s.dropped_lo, s.dropped_hi).where(
            s.org_id == org_id, s.run_id == key[0], s.step_name == key[1], s.stream == key[2]
        )
    ).one()
    lo = min(drop) if row.dropped_lo is None else min(row.dropped_lo, min(drop))
    hi = max(drop) if row.dropped_hi is None else max(row.dropped_hi, max(drop))
    conn.execute(
        log_streams.update()
        .where(s.org_id == org_id, s.run_id == key[0], s.step_name == key[1], s.stream == key[2])
        .values(
            kept_bytes=s.kept_bytes - freed,
            dropped_bytes=s.dropped_bytes + freed,
            dropped_lo=lo,
            dropped_hi=hi,
        )
    )
