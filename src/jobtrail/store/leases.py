"""Leases on periodic background work (the worker's claims): a conditional UPDATE that must
change exactly one row, the same on SQLite and PostgreSQL, so of several workers sharing one
store exactly one runs each round of a task."""

from sqlalchemy import Engine, update

from jobtrail.store.dialect import insert_ignore, write_transaction
from jobtrail.store.schema import worker_leases as wl


def claim(engine: Engine, name: str, holder: str, now: int, until: int) -> bool:
    """Take the lease `name` until `until` (µs) when it is free at `now`; True when taken."""
    with write_transaction(engine) as conn:
        conn.execute(insert_ignore(wl, conn).values(name=name, holder="", until=0))
        free = update(wl).where(wl.c.name == name, wl.c.until <= now)
        taken = conn.execute(free.values(holder=holder, until=until))
        return taken.rowcount == 1
