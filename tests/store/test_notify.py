"""PostgreSQL announces each ingested run to every listener (what wakes live log tails)."""

import queue
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from jobtrail.domain import identity
from jobtrail.domain.batches import parse_batch
from jobtrail.store.ingest import ingest
from jobtrail.store.notify import Listener, can_notify, run_key
from tests.support import ago, make_org, simple_run


@pytest.fixture
def heard(engine: Engine) -> Iterator["queue.Queue[str | None]"]:
    if not can_notify(engine):
        pytest.skip("SQLite has no notifications: tails poll there")
    got: queue.Queue[str | None] = queue.Queue()
    listener = Listener(engine, got.put)
    listener.start()
    assert listener.listening.wait(10)
    yield got
    listener.stop()


def test_each_ingested_run_is_announced_at_commit(
    engine: Engine, heard: "queue.Queue[str | None]"
) -> None:
    org = make_org(engine)
    events = simple_run(ago(minutes=5), "a") + simple_run(ago(minutes=5), "b")
    ingest(engine, org.id, parse_batch({"events": events}), 1 << 24)
    job = identity.job_id(org.id, "prod", "webmodel")
    expected = {run_key(org.id, identity.run_id(org.id, job, k)) for k in ("a", "b")}
    assert {heard.get(timeout=10), heard.get(timeout=10)} == expected
    ingest(engine, org.id, parse_batch({"events": events}), 1 << 24)  # only duplicates: silent
    ingest(engine, org.id, parse_batch({"events": simple_run(ago(minutes=5), "c")}), 1 << 24)
    c = run_key(org.id, identity.run_id(org.id, job, "c"))
    assert heard.get(timeout=10) == c  # notifications come in commit order: none in between
