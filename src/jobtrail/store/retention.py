"""Pruning runs whose last event is older than the retention, with their steps, events and logs.
It works one organization at a time, through the (org_id, last_event_ts) index."""

from sqlalchemy import Engine, delete, or_, select

from jobtrail.store.dialect import write_transaction
from jobtrail.store.schema import (
    events,
    log_chunks,
    log_streams,
    organizations,
    runs,
    step_datasets,
    steps,
)

_BATCH = 500


def prune(engine: Engine, older_than: int, newer_than: int | None = None) -> int:
    """Delete every run whose last event is before `older_than` (µs), or after `newer_than`
    (a far-future timestamp stored before ingestion refused them would otherwise keep its run
    for ever); returns how many."""
    with engine.connect() as conn:
        org_ids: list[str] = list(conn.execute(select(organizations.c.id)).scalars())
    return sum(_prune_org(engine, org_id, older_than, newer_than) for org_id in org_ids)


def _prune_org(engine: Engine, org_id: str, older_than: int, newer_than: int | None) -> int:
    expired = runs.c.last_event_ts < older_than
    if newer_than is not None:
        expired = or_(expired, runs.c.last_event_ts > newer_than)
    pruned = 0
    while True:
        with write_transaction(engine) as conn:
            ids: list[str] = list(
                conn.execute(
                    select(runs.c.run_id).where(runs.c.org_id == org_id, expired).limit(_BATCH)
                ).scalars()
            )
            if not ids:
                return pruned
            for table in (events, steps, step_datasets, log_chunks, log_streams, runs):
                conn.execute(delete(table).where(table.c.org_id == org_id, table.c.run_id.in_(ids)))
            pruned += len(ids)
