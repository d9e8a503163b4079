"""Concurrent writers of overlapping batches: nothing lost, nothing doubled, same result."""

import random
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, func, select

from jobtrail.domain.batches import parse_batch
from jobtrail.store.ingest import ingest
from jobtrail.store.schema import events, log_chunks
from tests.support import ago, make_org, simple_run


def test_overlapping_batches_from_many_threads(engine: Engine) -> None:
    org = make_org(engine)
    all_events = [ev for i in range(20) for ev in simple_run(ago(hours=2), f"run-{i}")]
    batches = [all_events[i : i + 30] for i in range(0, len(all_events), 15)]  # each event twice
    with ThreadPoolExecutor(6) as pool:
        results = list(
            pool.map(lambda b: ingest(engine, org.id, parse_batch({"events": b}), 1 << 24), batches)
        )
    assert sum(r.accepted for r in results) == len(all_events)
    logs = sum(1 for ev in all_events if ev["kind"] == "log")
    with engine.connect() as conn:
        for table, expected in ((events, len(all_events) - logs), (log_chunks, logs)):
            stmt = select(func.count()).select_from(table).where(table.c.org_id == org.id)
            assert conn.execute(stmt).scalar_one() == expected


def test_same_new_events_in_different_orders_never_fail(engine: Engine) -> None:
    """Many writers, each with all of the same new events shuffled differently: on PostgreSQL
    this deadlocked until rows were written in key order (and deadlocks retried)."""
    org = make_org(engine)
    all_events = [ev for i in range(15) for ev in simple_run(ago(hours=2), f"run-{i}")]
    batches = []
    for seed in range(12):
        shuffled = list(all_events)
        random.Random(seed).shuffle(shuffled)
        batches.append(shuffled)
    with ThreadPoolExecutor(6) as pool:
        results = list(
            pool.map(lambda b: ingest(engine, org.id, parse_batch({"events": b}), 1 << 24), batches)
        )
    assert sum(r.accepted for r in results) == len(all_events)
    assert sum(r.duplicates for r in results) == len(all_events) * (len(batches) - 1)
