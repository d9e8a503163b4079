"""The jobs catalog in the store: definitions upserted as runners report them, listed for the
API and read by the worker's evaluation."""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Row, select

from jobtrail.domain import identity
from jobtrail.domain.alert_settings import AlertSettings, parse_alert_settings
from jobtrail.domain.catalog import JobDefinition
from jobtrail.store.dialect import insert, write_transaction
from jobtrail.store.schema import job_definitions as jd


@dataclass(frozen=True)
class StoredDefinition:
    org_id: str
    job_id: str
    definition: JobDefinition
    first_seen: int
    last_seen: int


def put_definitions(engine: Engine, org_id: str, definitions: list[JobDefinition], now: int) -> int:
    """Insert or replace each definition (the last report wins); `first_seen` is kept."""
    if not definitions:
        return 0
    with write_transaction(engine) as conn:
        for definition in definitions:
            _upsert(conn, org_id, definition, now)
    return len(definitions)


def _upsert(conn: Connection, org_id: str, d: JobDefinition, now: int) -> None:
    values = _values(org_id, d)
    stmt = insert(jd, conn).values(**values, first_seen=now, last_seen=now)
    changed = {k: stmt.excluded[k] for k in (*values, "last_seen") if k not in _KEY}
    conn.execute(stmt.on_conflict_do_update(index_elements=list(_KEY), set_=changed))


_KEY = ("org_id", "job_name", "environment")


def _values(org_id: str, d: JobDefinition) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "job_name": d.job_name,
        "environment": d.environment,
        "job_id": identity.job_id(org_id, d.environment, d.job_name),
        "schedule": d.schedule,
        "timezone": d.timezone,
        "owners": orjson.dumps(list(d.owners)).decode(),
        "labels": orjson.dumps(d.labels).decode(),
        "alerts": orjson.dumps(d.alerts.to_json()).decode(),
        "scheduled": d.scheduled,
    }


@lru_cache(maxsize=1024)
def _settings(text: str) -> AlertSettings:
    """Stored settings, parsed once per distinct text: most jobs share a few, and parsing them
    was a fifth of an evaluation round over a thousand jobs (the result is immutable)."""
    return parse_alert_settings(orjson.loads(text))


def _stored(row: Row[Any]) -> StoredDefinition:
    definition = JobDefinition(
        job_name=row.job_name,
        environment=row.environment,
        schedule=row.schedule,
        timezone=row.timezone,
        owners=tuple(orjson.loads(row.owners)),
        labels=orjson.loads(row.labels),
        alerts=_settings(row.alerts),
        scheduled=bool(row.scheduled),
    )
    return StoredDefinition(row.org_id, row.job_id, definition, row.first_seen, row.last_seen)


def list_definitions(engine: Engine, org_id: str) -> list[StoredDefinition]:
    stmt = select(jd).where(jd.c.org_id == org_id).order_by(jd.c.job_name, jd.c.environment)
    with engine.connect() as conn:
        return [_stored(r) for r in conn.execute(stmt)]


def all_definitions(engine: Engine) -> list[StoredDefinition]:
    """Every definition of every organization (the worker's snapshot)."""
    with engine.connect() as conn:
        return [_stored(r) for r in conn.execute(select(jd).order_by(jd.c.org_id, jd.c.job_name))]
