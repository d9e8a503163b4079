"""Leases on periodic background work (the worker's claims): a conditional UPDATE that must
change exactly one row, the same on SQLite and PostgreSQL, so of several workers sharing one
store exactly one runs each round of a task. The row keeps when the task last ran; each worker
judges "due" by its own interval, so a worker configured to run a task more often is not held
off by one that runs it rarely."""

from sqlalchemy import Engine, select, update

from jobtrail.store.dialect import insert_ignore, write_transaction
from jobtrail.store.schema import worker_leases as wl


def claim(engine: Engine, name: str, holder: str, now: int, every: int) -> bool:
    """Take the task `name` at `now` (µs) when it last ran at least `every` µs ago."""
    with write_transaction(engine) as conn:
        conn.execute(insert_ignore(wl, conn).values(name=name, holder="", until=0))
        due = update(wl).where(wl.c.name == name, wl.c.until <= now - every)
        taken = conn.execute(due.values(holder=holder, until=now))
        return taken.rowcount == 1


def marked(engine: Engine, name: str) -> int | None:
    """The time last recorded under `name` by `mark` (a task's high-water mark), if any."""
    with engine.connect() as conn:
        found = conn.execute(select(wl.c.until).where(wl.c.name == name)).scalar()
    return None if found is None else int(found)


def mark(engine: Engine, name: str, at: int) -> None:
    """Record `at` under `name`: e.g. the time an alert evaluation round completed, so the next
    round knows which scheduled ticks went by in between."""
    with write_transaction(engine) as conn:
        conn.execute(insert_ignore(wl, conn).values(name=name, holder="", until=at))
        conn.execute(update(wl).where(wl.c.name == name).values(until=at))
