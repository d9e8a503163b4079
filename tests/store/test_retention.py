"""Retention prunes old runs with their steps, events and logs, and nothing else."""

from sqlalchemy import Engine, func, select

from jobtrail.domain.batches import parse_batch
from jobtrail.store import accounts, retention
from jobtrail.store.ingest import ingest
from jobtrail.store.schema import events, log_chunks, runs, steps
from tests.support import ago, make_org, simple_run


def _count(engine: Engine, table: object, org_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.org_id == org_id)
            ).scalar_one()
        )  # type: ignore[attr-defined]


def test_prune_removes_only_old_runs(engine: Engine) -> None:
    org = make_org(engine)
    old = simple_run(ago(days=9), "old")
    new = simple_run(ago(hours=1), "new")
    ingest(engine, org.id, parse_batch({"events": old + new}), 1 << 24)
    assert _count(engine, runs, org.id) == 2
    cutoff = accounts.now_micros() - 7 * 86_400 * 1_000_000
    assert retention.prune(engine, cutoff) >= 1
    assert _count(engine, runs, org.id) == 1
    assert _count(engine, steps, org.id) == 2
    assert _count(engine, events, org.id) == sum(1 for ev in new if ev["kind"] != "log")
    assert _count(engine, log_chunks, org.id) == 3
    assert retention.prune(engine, cutoff) == 0


def test_prune_removes_runs_stored_with_a_far_future_timestamp(engine: Engine) -> None:
    """Stored before ingestion refused them: such a run stays the newest for ever otherwise."""
    org = make_org(engine)
    far = simple_run(ago(hours=1), "far")
    far[-1] = {**far[-1], "timestamp": "9999-12-31T23:59:59-01:00"}
    ingest(engine, org.id, parse_batch({"events": far + simple_run(ago(hours=1), "now")}), 1 << 24)
    now = accounts.now_micros()
    week_ago = now - 7 * 86_400 * 1_000_000
    retention.prune(engine, week_ago)  # the database is shared: other tests' runs may go too
    assert _count(engine, runs, org.id) == 2
    assert retention.prune(engine, week_ago, now + 300_000_000) >= 1
    assert _count(engine, runs, org.id) == 1
