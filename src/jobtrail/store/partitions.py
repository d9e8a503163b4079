"""Daily time partitions of the big tables on PostgreSQL (SPEC §8): `events` and `log_chunks` are
partitioned by `ts` (microseconds) into one table per UTC day, `<table>_pYYYYMMDD`, plus a
`<table>_default` partition for rows outside every day created so far (so ingestion never
fails for want of a partition). The worker creates days ahead; retention drops whole days
instead of deleting their rows. SQLite keeps one plain table each: every function here is a
no-op there.

A partitioned table's unique keys must hold the partition key, so on PostgreSQL the keys are
(org, eventId, ts) and (org, run, step, stream, seq, ts). A repeat with the same timestamp (a
resend) collides as before; `clashes` finds the other case, the same eventId or chunk with
another timestamp in another day, which ingestion then treats like any known key (a 409 for an
eventId with other content, a duplicate for a chunk). `clashes` cannot see a row another
transaction has not committed yet, so writers of the same key first take turns (see
`lock_buckets`)."""

import logging
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from jobtrail.store.dialect import is_sqlite, write_transaction

log = logging.getLogger("jobtrail.store")

DAY = 86_400_000_000  # µs
_LOCK_NOT_AVAILABLE = "55P03"
TABLES = ("events", "log_chunks")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_partitioned(bind: Engine | Connection) -> bool:
    return not is_sqlite(bind)


def day_start(ts: int) -> int:
    return ts - ts % DAY


def partition_name(table: str, day: int) -> str:
    return f"{table}_p{(_EPOCH + timedelta(microseconds=day)).strftime('%Y%m%d')}"


def _day_of(name: str, table: str) -> int | None:
    """The first µs of a daily partition's day, from its name; None for any other table."""
    suffix = name.removeprefix(f"{table}_p")
    if suffix == name or len(suffix) != 8 or not suffix.isdigit():
        return None
    moment = datetime.strptime(suffix, "%Y%m%d").replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def is_partition(name: str | None) -> bool:
    """Whether a table is one of the partitions made here (schema comparisons leave them out:
    the schema module describes the partitioned parent)."""
    return name is not None and any(
        _day_of(name, t) is not None or name == f"{t}_default" for t in TABLES
    )


def include_name(name: str | None, type_: str, _parent: object) -> bool:
    """Alembic's `include_name` hook: everything but the partitions."""
    return not (type_ == "table" and is_partition(name))


def days(conn: Connection, table: str) -> list[int]:
    """The days that have a partition of `table`, oldest first."""
    names: list[str] = list(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = CAST(:parent AS regclass)"
            ),
            {"parent": table},
        ).scalars()
    )
    return sorted(d for d in (_day_of(n, table) for n in names) if d is not None)


def create_day(conn: Connection, table: str, day: int) -> bool:
    """Give `day` a partition of `table` unless it has one; rows of that day already in the
    default partition move into it. Returns whether it created one."""
    name = partition_name(table, day)
    if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None:
        return False
    bounds = {"lo": day, "hi": day + DAY}
    conn.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)"))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {table}_default WHERE ts >= :lo AND ts < :hi "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        ),
        bounds,
    )
    # ATTACH (unlike CREATE ... PARTITION OF) leaves reads and writes of the parent running.
    conn.execute(
        text(
            f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({day}) TO ({day + DAY})"
        )
    )
    return True


def ensure(engine: Engine, now: int, behind: timedelta, ahead: timedelta) -> int:
    """Partitions for every day from `now - behind` to `now + ahead` (the days ingestion may
    write to); returns how many were created."""
    if is_sqlite(engine):
        return 0
    first = day_start(now - int(behind / timedelta(microseconds=1)))
    last = day_start(now + int(ahead / timedelta(microseconds=1)))
    created = 0
    for table in TABLES:
        for day in range(first, last + 1, DAY):
            with write_transaction(engine) as conn:
                created += create_day(conn, table, day)
    return created


def drop_expired(engine: Engine, older_than: int, org_ids: Sequence[str]) -> int:
    """Drop the daily partitions wholly before `older_than`, except those still holding rows of
    a run that is kept (one whose last event is newer, which started before the day ended):
    such a day waits until that run expires, so a kept run never loses its early events or log.
    A DROP, not a DELETE: cheap whatever the size of the day. Returns the partitions dropped."""
    with engine.connect() as conn:
        parts = {t: days(conn, t) for t in TABLES}
    candidates = sorted({d for ds in parts.values() for d in ds if d + DAY <= older_than})
    if not candidates:
        return 0
    limit = _oldest_kept_start(engine, older_than, org_ids)
    drop = [d for d in candidates if limit is None or d + DAY <= limit]
    if not drop:
        return 0
    try:
        with write_transaction(engine) as conn:
            # A DROP waits for the reads and writes in flight and holds up those after it:
            # never for long; the next round tries again.
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            names = [partition_name(t, d) for t in TABLES for d in drop if d in parts[t]]
            for name in names:
                conn.execute(text(f"DROP TABLE {name}"))
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        log.warning("retention: the partitions of %d day(s) were busy; next round", len(drop))
        return 0
    return len(names)


def _oldest_kept_start(engine: Engine, older_than: int, org_ids: Sequence[str]) -> int | None:
    """The earliest row time of a kept run (last event at or after `older_than`) that started
    before it, over every organization, one organization at a time (through the runs' retention
    index). A run with no state event yet counts from its first log chunk."""
    earliest: int | None = None
    first = text(
        "SELECT min(first_event_ts), bool_or(first_event_ts IS NULL) FROM runs "
        "WHERE org_id = :org AND last_event_ts >= :cut AND "
        "(first_event_ts < :cut OR first_event_ts IS NULL)"
    )
    logs_only = text(
        "SELECT min(c.ts) FROM log_chunks c JOIN runs r "
        "ON r.org_id = c.org_id AND r.run_id = c.run_id "
        "WHERE r.org_id = :org AND r.last_event_ts >= :cut AND r.first_event_ts IS NULL"
    )
    with engine.connect() as conn:
        for org_id in org_ids:
            params = {"org": org_id, "cut": older_than}
            row = conn.execute(first, params).one()
            starts: list[int | None] = [row[0]]
            any_logs_only = row[1]
            if any_logs_only:
                starts.append(conn.execute(logs_only, params).scalar())
            for start in starts:
                if start is not None and (earliest is None or start < earliest):
                    earliest = start
    return earliest


def _arrays(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in columns}


# One index probe per row and partition (LATERAL ... LIMIT 1): a join over the whole
# organization would read every event it has. Driver SQL, the arrays sent in binary (`%b`):
# psycopg's text format quotes each element through a regex, five times the cost.
_EVENT_CLASH = (
    "SELECT b.event_id FROM unnest(%(event_id)b::text[], %(ts)b::bigint[]) AS b(event_id, ts) "
    "CROSS JOIN LATERAL (SELECT 1 FROM events e WHERE e.org_id = %(org)s "
    "AND e.event_id = b.event_id AND e.ts <> b.ts LIMIT 1) AS other LIMIT 1"
)
_CHUNK_KEY = ("run_id", "step_name", "stream", "seq", "ts")
_CHUNK_CLASH = (
    "SELECT 1 FROM unnest(%(run_id)b::text[], %(step_name)b::text[], %(stream)b::text[], "
    "%(seq)b::bigint[], %(ts)b::bigint[]) AS b(run_id, step_name, stream, seq, ts) "
    "CROSS JOIN LATERAL (SELECT 1 FROM log_chunks c WHERE c.org_id = %(org)s "
    "AND c.run_id = b.run_id AND c.step_name = b.step_name AND c.stream = b.stream "
    "AND c.seq = b.seq AND c.ts <> b.ts LIMIT 1) AS other LIMIT 1"
)


# Event key locks: transaction-scoped advisory locks in a namespace of their own (the two-int
# form, apart from the migration lock's bigint), one per bucket of a hash of (org, eventId). The
# buckets bound the locks one transaction holds whatever its batches (a group commit's too; a
# lock taken again is not counted again): PostgreSQL's lock table has max_locks_per_transaction
# (64 by default) x connections (100) slots for everyone, and a batch may hold 10,000 events.
# Two eventIds sharing a bucket only make their writers take turns.
_LOCK_SPACE = 0x6A74  # "jt"
LOCK_BUCKETS = 1024
_LOCK = "SELECT count(pg_advisory_xact_lock(%(space)s, b)) FROM unnest(%(buckets)b::int[]) AS b"


def lock_buckets(rows: Sequence[dict[str, Any]]) -> list[int]:
    """The lock buckets of the event rows' keys, each once, ascending: stable across processes
    (crc32, not Python's salted hash).

    A writer takes its event rows' buckets before the insert (`lock_all`): a concurrent writer
    of the same eventId waits there until this transaction commits, and its `clashes` (a fresh
    statement under READ COMMITTED) then sees the committed row. Taken outside the insert's
    savepoint, whose rollback would release them. Nothing for log chunks: a chunk's key holds
    its run, and ingestion upserts the run's row before writing its chunks, so that row's lock
    already makes two writers of one chunk take turns. Nothing on SQLite, whose unique keys
    hold no timestamp."""
    return sorted(
        {
            zlib.crc32(f"{row['org_id']}\x1f{row['event_id']}".encode()) % LOCK_BUCKETS
            for row in rows
        }
    )


# SET LOCAL of both settings in one statement (set_config's third argument: this transaction).
_PROBE_PLANS = text(
    "SELECT set_config('enable_seqscan', :seqscan, true), "
    "set_config('plan_cache_mode', :plans, true)"
)


def lock_all(conn: Connection, buckets: Sequence[int]) -> None:
    """Take these lock buckets at once, ascending, in one statement (a batch's own go through
    here too, so two batches never wait on each other in a cycle; a lock taken again costs
    nothing): the group committer takes the union of its batches' buckets first, so that two
    groups, each in one transaction, never hold some and wait for the others' in a cycle. Batch
    by batch,
    they did: PostgreSQL found each deadlock only after deadlock_timeout (1 s), then the group
    was written again batch by batch (50 clients of mixed traffic: ingest p50 4 to 5 s)."""
    if buckets and not is_sqlite(conn):
        conn.exec_driver_sql(_LOCK, {"space": _LOCK_SPACE, "buckets": sorted(set(buckets))})


def clashes(conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> bool:
    """Whether a row just written shares its key (without the timestamp) with a stored row of
    another timestamp, which the partitioned unique key lets through. Always False on SQLite,
    where the key itself refuses it."""
    if not rows or is_sqlite(conn):
        return False
    org = rows[0]["org_id"]
    if table == "events":
        stmt, params = _EVENT_CLASH, _arrays(rows, ("event_id", "ts"))
    else:
        stmt, params = _CHUNK_CLASH, _arrays(rows, _CHUNK_KEY)
    # Index probes of the key whatever the statistics say: on days not analysed yet the planner
    # takes a day for a few rows and scans it once per probed row, quadratic in the day's size.
    # A plan made afresh for each check: psycopg prepares a statement run five times, and the
    # server's generic plan, once chosen, stays until the day is analysed again: made while
    # today's partition was empty, it probed the day through the organization-only prefix of
    # another index (any index fits an empty table), each probe reading every row the org has
    # that day (55 s for a 10,000-event batch at 20,000 rows in the day, with autovacuum off).
    # Restored only after success: a failed statement ends the transaction, and SET LOCAL with
    # it (a statement sent after the failure would hide the store's error behind another).
    conn.execute(_PROBE_PLANS, {"seqscan": "off", "plans": "force_custom_plan"})
    found = conn.exec_driver_sql(stmt, {"org": org, **params}).first() is not None
    conn.execute(_PROBE_PLANS, {"seqscan": "on", "plans": "auto"})
    return found
