"""Daily partitions on PostgreSQL: the worker creates them ahead on its (injected) clock,
retention drops whole expired days instead of deleting their rows, a day still holding rows of
a kept run waits, and eventId / log chunk keys stay unique across days on both backends."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, func, select, text

from jobtrail.domain.batches import parse_batch
from jobtrail.domain.errors import EventConflict
from jobtrail.settings import Settings, normalise_db_url
from jobtrail.store import migrate, partitions
from jobtrail.store.dialect import is_sqlite, make_engine, write_transaction
from jobtrail.store.ingest import ingest, prepare, write_prepared
from jobtrail.store.logs import StreamRef, chunk_sizes, iter_chunks
from jobtrail.store.schema import events, log_chunks, runs
from jobtrail.worker.loop import Worker, partitions_task, retention_task
from tests.conftest import fresh_database
from tests.support import SECRET, ago, event, make_org, simple_run

DAY = timedelta(days=1)
CAP = 1 << 24


def _store(engine: Engine, org_id: str, batch: list[dict[str, Any]]) -> Any:
    return ingest(engine, org_id, parse_batch({"events": batch}), CAP)


def _count(engine: Engine, table: Any, org_id: str, run_key: str | None = None) -> int:
    stmt = select(func.count()).select_from(table).where(table.c.org_id == org_id)
    if run_key is not None:
        run_ids = select(runs.c.run_id).where(runs.c.org_id == org_id, runs.c.run_key == run_key)
        stmt = stmt.where(table.c.run_id.in_(run_ids))
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def _run_keys(engine: Engine, org_id: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(runs.c.run_key).where(runs.c.org_id == org_id)).scalars())


def _exists(engine: Engine, name: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None


def _us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def test_an_event_id_repeated_on_another_day_with_other_content_is_a_conflict(
    engine: Engine,
) -> None:
    org = make_org(engine)
    first = event("run", ago(days=1), "cross-day", state="RUNNING", eventId="same-id")
    assert _store(engine, org.id, [first]).accepted == 1
    again = event("run", ago(minutes=1), "cross-day", state="RUNNING", eventId="same-id")
    with pytest.raises(EventConflict) as refused:
        _store(engine, org.id, [again])
    assert "same-id" in str(refused.value)
    assert _store(engine, org.id, [first]).duplicates == 1  # the same event again: a duplicate
    assert _count(engine, events, org.id) == 1


def test_a_log_chunk_repeated_on_another_day_is_a_duplicate(engine: Engine) -> None:
    org = make_org(engine)
    kw: dict[str, Any] = {"step": "s", "stream": "stdout", "seq": 0}
    first = event("log", ago(days=1), "chunks", data="first\n", **kw)
    assert _store(engine, org.id, [first]).accepted == 1
    later = event("log", ago(minutes=1), "chunks", data="second\n", **kw)
    result = _store(engine, org.id, [later])
    assert (result.accepted, result.duplicates) == (0, 1)
    assert _count(engine, log_chunks, org.id) == 1
    with engine.connect() as conn:
        run_id = conn.execute(select(runs.c.run_id).where(runs.c.org_id == org.id)).scalar_one()
    ref = StreamRef(org.id, run_id, "s", "stdout")
    assert b"".join(iter_chunks(engine, ref, chunk_sizes(engine, ref))) == b"first\n"


@pytest.fixture(scope="module")
def pg_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A PostgreSQL database of this module's own: its partitions follow a clock of its own."""
    with fresh_database("postgres", tmp_path_factory) as url:
        eng = make_engine(normalise_db_url(url))
        migrate.upgrade(eng)
        yield eng
        eng.dispose()


def test_worker_creates_days_ahead_and_retention_drops_whole_days(pg_engine: Engine) -> None:
    engine = pg_engine
    settings = Settings(secret=SECRET, retention=timedelta(days=7))
    d0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + 40 * DAY
    clock = [_us(d0 + timedelta(hours=12))]
    worker = Worker(engine, [partitions_task(settings), retention_task(settings)], lambda: clock[0])

    worker.run_once(force=True)
    expected = set(range(_us(d0 - 7 * DAY), _us(d0 + 3 * DAY) + 1, partitions.DAY))
    with engine.connect() as conn:
        assert expected <= set(partitions.days(conn, "events"))
        assert expected <= set(partitions.days(conn, "log_chunks"))

    org = make_org(engine)
    d1 = d0 - DAY
    straddle = simple_run(d1 + timedelta(hours=23), "straddle")
    late = event("run", d0 + 7 * DAY + timedelta(hours=13), "straddle", state="SUCCEEDED")
    batch = [
        *simple_run(d1 + timedelta(hours=10), "gone"),
        *straddle,
        late,
        *simple_run(d0 + timedelta(hours=12), "kept-a-while"),
        *simple_run(d0 - 30 * DAY, "ancient"),  # before every partition: the default one
    ]
    _store(engine, org.id, batch)
    straddle_events = _count(engine, events, org.id, "straddle")
    assert straddle_events == sum(1 for e in [*straddle, late] if e["kind"] != "log")

    # Eight days on: the cutoff is d0 + 1 day + 1 hour. The days before d1 are dropped whole;
    # d1 holds rows of "straddle" (kept: its last event is later), so d1 and later stay.
    clock[0] = _us(d0 + 8 * DAY + timedelta(hours=1))
    worker.run_once(force=True)
    assert not _exists(engine, partitions.partition_name("events", _us(d1 - DAY)))
    assert not _exists(engine, partitions.partition_name("log_chunks", _us(d1 - DAY)))
    assert _exists(engine, partitions.partition_name("events", _us(d1)))
    assert _exists(engine, partitions.partition_name("events", _us(d0 + 11 * DAY)))  # ahead
    assert _run_keys(engine, org.id) == {"straddle"}  # runs go at the cutoff, as on SQLite
    assert _count(engine, events, org.id, "straddle") == straddle_events  # kept run: whole
    with engine.connect() as conn:  # the default partition's rows are deleted by row
        assert conn.execute(text("SELECT count(*) FROM events_default")).scalar() == 0

    # Past the end of "straddle": every day before the cutoff goes, its rows with it.
    clock[0] = _us(d0 + 14 * DAY + timedelta(hours=14))
    worker.run_once(force=True)
    assert _run_keys(engine, org.id) == set()
    for day in (d1, d0, d0 + 6 * DAY):
        assert not _exists(engine, partitions.partition_name("events", _us(day)))
    with engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(events)).scalar_one()
        assert left == 1  # the late event, in a day not wholly expired yet
    clock[0] += partitions.DAY
    worker.run_once(force=True)
    assert _count(engine, events, org.id) == 0
    assert _count(engine, log_chunks, org.id) == 0


def _at_0004(url: str) -> Engine:
    engine = make_engine(normalise_db_url(url))
    config = migrate.alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        conn.commit()
    return engine


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0008_converts_a_store_with_data_and_back(
    backend: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    with fresh_database(backend, tmp_path_factory) as url:
        engine = _at_0004(url)
        now = _us(datetime.now(UTC))
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO runs (org_id, run_id, job_id, job_name, environment, run_key, "
                    "state, state_ts, state_rank, state_eid, first_event_ts, last_ts, last_rank, "
                    "last_eid, last_event_ts) VALUES ('o', 'r', 'j', 'j', 'e', 'k', 'RUNNING', "
                    ":a, 1, 'e1', :a, :a, 1, 'e1', :b)"
                ),
                {"a": now - 3_600_000_000, "b": now},
            )
            conn.execute(
                text(
                    "INSERT INTO events (org_id, event_id, ts, kind, run_id, state, state_rank, "
                    "fingerprint) VALUES ('o', 'e1', :a, 'run', 'r', 'RUNNING', 1, 'f'), "
                    "('o', 'e2', :old, 'run', 'r', 'RUNNING', 1, 'g')"
                ),
                {"a": now - 3_600_000_000, "old": now - 400 * partitions.DAY},
            )
            conn.execute(
                text(
                    "INSERT INTO log_chunks (org_id, run_id, step_name, stream, seq, size, data) "
                    "VALUES ('o', 'r', 's', 'stdout', 0, 3, :d)"
                ),
                {"d": b"hi\n"},
            )
        migrate.upgrade(engine)
        assert migrate.is_current(engine)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 2
            chunk = conn.execute(select(log_chunks.c.ts, log_chunks.c.data)).one()
            assert tuple(chunk) == (now - 3_600_000_000, b"hi\n")  # the run's first event
            if not is_sqlite(conn):
                where = text("SELECT tableoid::regclass::text FROM events WHERE event_id = :e")
                day = partitions.day_start(now - 3_600_000_000)
                assert conn.execute(where, {"e": "e1"}).scalar() == partitions.partition_name(
                    "events", day
                )
                assert conn.execute(where, {"e": "e2"}).scalar() == "events_default"
        config = migrate.alembic_config()
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0004")
            conn.commit()
            assert conn.execute(text("SELECT count(*) FROM events")).scalar() == 2
            assert conn.execute(text("SELECT count(*) FROM log_chunks")).scalar() == 1
            command.upgrade(config, "head")
            conn.commit()
        assert migrate.is_current(engine)
        engine.dispose()


def test_a_busy_day_is_dropped_by_a_later_round(pg_engine: Engine) -> None:
    """A long read holds the table: the DROP gives up after its lock timeout instead of holding
    up every request behind it, and the next round drops the day."""
    engine = pg_engine
    day = partitions.day_start(_us(datetime.now(UTC))) + 100 * partitions.DAY
    with engine.begin() as conn:
        for table in partitions.TABLES:
            partitions.create_day(conn, table, day)
    reader = engine.connect()
    reader.begin()
    reader.execute(select(func.count()).select_from(events))  # holds a lock on every day
    try:
        assert partitions.drop_expired(engine, day + partitions.DAY, []) == 0
        assert _exists(engine, partitions.partition_name("events", day))
    finally:
        reader.rollback()
        reader.close()
    assert partitions.drop_expired(engine, day + partitions.DAY, []) >= 2
    assert not _exists(engine, partitions.partition_name("events", day))


def _wait_blocked_or_done(engine: Engine, thread: threading.Thread) -> None:
    """Until the thread has finished or its transaction waits on a lock held by ours (a
    condition, not a timing: the poll only bounds how long a broken store may take)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(2000):
        thread.join(0.01)
        if not thread.is_alive():
            return
        with engine.connect() as conn:
            if conn.execute(waiting).scalar():
                return
    raise AssertionError("the second writer neither finished nor waited")


@pytest.mark.parametrize("kind", ["event", "chunk"])
def test_concurrent_writers_of_one_key_on_two_days_store_it_once(
    pg_engine: Engine, kind: str
) -> None:
    """The first transaction still open when the second one checks its key: the second must
    wait for the commit and then see the row, not store the key a second time (events: the
    key locks; chunks: the lock on their run's row, which the writer takes first)."""
    org = make_org(pg_engine)
    if kind == "event":
        kw: dict[str, Any] = {"state": "RUNNING", "eventId": "raced-id"}
        first = event("run", ago(days=1), "raced", **kw)
        second = event("run", ago(minutes=1), "raced", **kw)
    else:
        kw = {"step": "s", "stream": "stdout", "seq": 0}
        first = event("log", ago(days=1), "raced", data="first\n", **kw)
        second = event("log", ago(minutes=1), "raced", data="second\n", **kw)
    outcome: list[Any] = []

    def other_writer() -> None:
        try:
            outcome.append(_store(pg_engine, org.id, [second]))
        except EventConflict as exc:
            outcome.append(exc)

    thread = threading.Thread(target=other_writer)
    with write_transaction(pg_engine) as conn:
        assert write_prepared(conn, prepare(org.id, parse_batch({"events": [first]})), CAP)
        thread.start()
        _wait_blocked_or_done(pg_engine, thread)
    thread.join(30)
    assert not thread.is_alive()
    if kind == "event":
        assert isinstance(outcome[0], EventConflict)
        assert _count(pg_engine, events, org.id) == 1
    else:
        assert (outcome[0].accepted, outcome[0].duplicates) == (0, 1)
        assert _count(pg_engine, log_chunks, org.id) == 1


def test_the_cross_day_key_check_is_planned_afresh_each_time(pg_engine: Engine) -> None:
    """psycopg prepares a statement run five times, and PostgreSQL may then keep a generic plan:
    made while today's partition was empty, it probed the day through an index that matched
    only the organization, one scan of the org's day per checked event (55 s for a 10,000-event
    batch at 20,000 events in the day). The check never runs on a generic plan."""
    org = make_org(pg_engine)
    rows = [{"org_id": org.id, "event_id": f"e{i}", "ts": _us(ago(minutes=i))} for i in range(3)]
    with pg_engine.connect() as conn:
        for _ in range(12):  # past psycopg's prepare threshold and PostgreSQL's five custom plans
            with conn.begin():
                assert not partitions.clashes(conn, "events", rows)
        plans = conn.exec_driver_sql(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%%CROSS JOIN LATERAL%%'"
        ).all()
    assert plans, "the check was not prepared: this test no longer sees its plans"
    assert all(generic == 0 and custom > 0 for generic, custom in plans)
