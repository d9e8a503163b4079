"""Pruning runs whose last event is older than the retention, with their steps, events and logs.
It works one organization at a time, through the (org_id, last_event_ts) index.

On PostgreSQL events and log chunks live in daily partitions (store/partitions.py), the bulk of
the rows: a day goes whole, by DROP, once it is past the retention and no kept run still has
rows in it. A pruned run's own rows (run, steps, log stream counts) go at once as on SQLite, but
its events and log chunks stay in their day until it is dropped (within a day), unreachable
since every read starts from the run; only those in the default partition (days never created)
are deleted row by row."""

from typing import Any

from sqlalchemy import Engine, column, delete, or_, select, table

from jobtrail.store import partitions
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
    tables: tuple[Any, ...] = _ROW_TABLES
    if partitions.is_partitioned(engine):
        partitions.drop_expired(engine, older_than, org_ids)
        tables = _PARTITIONED_ROW_TABLES
    return sum(_prune_org(engine, tables, org_id, older_than, newer_than) for org_id in org_ids)


_ROW_TABLES = (events, steps, step_datasets, log_chunks, log_streams, runs)
_PARTITIONED_ROW_TABLES = (
    *(table(f"{name}_default", column("org_id"), column("run_id")) for name in partitions.TABLES),
    steps,
    step_datasets,
    log_streams,
    runs,
)


def _prune_org(
    engine: Engine,
    tables: tuple[Any, ...],
    org_id: str,
    older_than: int,
    newer_than: int | None,
) -> int:
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
            for t in tables:
                conn.execute(delete(t).where(t.c.org_id == org_id, t.c.run_id.in_(ids)))
            pruned += len(ids)
