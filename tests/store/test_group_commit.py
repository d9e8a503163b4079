"""Group commit: writes waiting together share one transaction, each gets its own outcome, and a
write that fails inside the group fails alone."""

import threading
import time
import uuid
import weakref
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from jobtrail.store import partitions
from jobtrail.store.group_commit import GroupCommitter
from jobtrail.store.schema import organizations


def _insert(name: str, seen: list[Connection]) -> Any:
    def work(conn: Connection) -> str:
        seen.append(conn)
        org_id = str(uuid.uuid4())
        conn.execute(organizations.insert().values(id=org_id, name=name, created_at=0))
        return org_id

    return work


def _names(engine: Engine, ids: list[str]) -> set[str]:
    with engine.connect() as conn:
        stmt = select(organizations.c.name).where(organizations.c.id.in_(ids))
        return set(conn.execute(stmt).scalars())


def test_waiting_writes_share_one_transaction_and_a_failure_stays_alone(engine: Engine) -> None:
    committer = GroupCommitter(engine)
    gate = threading.Event()
    seen: list[Connection] = []
    first = committer.submit(lambda conn: gate.wait(10))  # holds the committer busy
    futures: list[Future[str]] = [committer.submit(_insert(f"g{i}", seen)) for i in range(3)]

    def clash(conn: Connection) -> str:
        seen.append(conn)
        conn.execute(organizations.insert().values(id="dup", name="x", created_at=0))
        conn.execute(organizations.insert().values(id="dup", name="x", created_at=0))
        return "never"

    bad = committer.submit(clash)
    futures.append(committer.submit(_insert("g3", seen)))
    gate.set()
    assert first.result(10) is True
    ids = [f.result(10) for f in futures]
    with pytest.raises(IntegrityError):
        bad.result(10)
    committer.close()
    assert _names(engine, ids) == {"g0", "g1", "g2", "g3"}
    assert _names(engine, ["dup"]) == set()
    grouped = seen[:5]
    assert len({id(c) for c in grouped}) == 1  # the four writes and the clash: one transaction


def _held_buckets(conn: Connection) -> set[int]:
    """The event key lock buckets this transaction holds (advisory locks, two-int form)."""
    rows = conn.exec_driver_sql(
        "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
        "AND classid = %(space)s AND objsubid = 2",
        {"space": partitions._LOCK_SPACE},
    )
    return {int(r[0]) for r in rows}


def test_a_group_takes_every_batch_s_key_locks_before_its_first_write(engine: Engine) -> None:
    """Two processes' groups never wait on each other in a cycle: each holds the union of its
    batches' lock buckets before any batch writes (batch by batch, a group holding bucket 7
    and waiting for 3 deadlocked with one holding 3 and waiting for 7)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("key locks are PostgreSQL's (SQLite's unique keys hold no timestamp)")
    committer = GroupCommitter(engine)
    busy, gate = threading.Event(), threading.Event()
    held: list[set[int]] = []

    def hold(conn: Connection) -> bool:
        busy.set()
        return gate.wait(10)

    first = committer.submit(hold)
    assert busy.wait(10)  # the committer is in `first`: the two below queue up as one group
    later = [
        committer.submit(lambda conn: held.append(_held_buckets(conn)), locks=[7]),
        committer.submit(lambda conn: held.append(_held_buckets(conn)), locks=[3]),
    ]
    gate.set()
    assert first.result(10) is True
    for future in later:
        future.result(10)
    committer.close()
    assert held == [{3, 7}, {3, 7}]


def test_a_committed_write_is_not_kept_alive_by_the_committer(engine: Engine) -> None:
    """A batch's rows go once it is committed, not when the next write arrives."""

    class Rows:
        pass

    rows = Rows()
    alive = weakref.ref(rows)
    committer = GroupCommitter(engine)
    committer.submit(lambda conn, rows=rows: None).result(10)
    del rows
    deadline = time.monotonic() + 5
    while alive() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert alive() is None
    committer.close()
