"""Alerts in the store: the reads evaluation needs (recent runs, their failed steps, open
alerts), raising alerts once by idempotency key with their deliveries (the outbox), claiming
due deliveries, and listing alerts for the API."""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, func, select, update

from jobtrail.domain.evaluation import Condition, RunFacts
from jobtrail.domain.states import is_terminal
from jobtrail.store.dialect import insert, insert_ignore, write_transaction
from jobtrail.store.schema import alert_deliveries as ad
from jobtrail.store.schema import alert_silences as sil
from jobtrail.store.schema import alerts as al
from jobtrail.store.schema import organizations, runs, steps

JobKey = tuple[str, str, str]  # (org, job name, environment)


def recent_runs(engine: Engine, since: int) -> dict[JobKey, list[RunFacts]]:
    """Runs with an event since `since` (µs), per job, with the first failed step of each."""
    with engine.connect() as conn:
        org_ids: list[str] = list(conn.execute(select(organizations.c.id)).scalars())
        found: dict[JobKey, list[RunFacts]] = {}
        for org_id in org_ids:
            for key, facts in _org_runs(conn, org_id, since):
                found.setdefault(key, []).append(facts)
        return found


def _org_runs(conn: Connection, org_id: str, since: int) -> Iterable[tuple[JobKey, RunFacts]]:
    r = runs.c
    recent = and_(r.org_id == org_id, r.last_event_ts >= since)
    failed_steps = (
        select(steps.c.run_id, steps.c.name, steps.c.owners)
        .join(runs, and_(runs.c.org_id == steps.c.org_id, runs.c.run_id == steps.c.run_id))
        .where(recent, steps.c.org_id == org_id, steps.c.state == "FAILED")
    )
    failed: dict[str, tuple[str, tuple[str, ...]]] = {}  # run → its first failed step, owners
    for row in conn.execute(failed_steps):
        if row.run_id not in failed or row.name < failed[row.run_id][0]:
            owners = tuple(orjson.loads(row.owners)) if row.owners else ()
            failed[row.run_id] = (row.name, owners)
    stmt = select(
        r.job_name,
        r.environment,
        r.run_id,
        r.state,
        r.first_running_ts,
        r.first_event_ts,
        r.state_ts,
    ).where(recent)
    for row in conn.execute(stmt):
        start = row.first_running_ts if row.first_running_ts is not None else row.first_event_ts
        end = row.state_ts if is_terminal(row.state) and row.state_ts >= 0 else None
        step, owners = failed.get(row.run_id, (None, ()))
        facts = RunFacts(row.run_id, row.state, start, end, step, owners)
        yield (org_id, row.job_name, row.environment), facts


def open_since(engine: Engine) -> dict[JobKey, int]:
    """When the oldest open alert of each job was raised (recovered alerts aside)."""
    stmt = (
        select(al.c.org_id, al.c.job_name, al.c.environment, func.min(al.c.raised_at))
        .where(al.c.state == "open", al.c.condition != "recovered")
        .group_by(al.c.org_id, al.c.job_name, al.c.environment)
    )
    with engine.connect() as conn:
        return {(r[0], r[1], r[2]): int(r[3]) for r in conn.execute(stmt)}


def known_keys(engine: Engine, conditions: list[Condition]) -> set[str]:
    """The keys among `conditions` already raised: read per organization, so each lookup
    reads the alerts primary key (organization, key) and never scans across organizations."""
    per_org: dict[str, list[str]] = {}
    for c in conditions:
        per_org.setdefault(c.org_id, []).append(c.key)
    found: set[str] = set()
    with engine.connect() as conn:
        for org_id, keys in per_org.items():
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                stmt = select(al.c.alert_key).where(al.c.org_id == org_id, al.c.alert_key.in_(part))
                found.update(conn.execute(stmt).scalars())
    return found


@dataclass(frozen=True)
class NewAlert:
    condition: Condition
    message: str
    step_name: str | None
    channels: tuple[str, ...]
    recipients: tuple[str, ...]


def raise_alerts(engine: Engine, new: list[NewAlert], now: int) -> int:
    """Record each alert and its deliveries in one transaction, once per key (a key another
    worker recorded first is skipped with its deliveries); `recovered` resolves the job's open
    alerts. Returns how many were raised."""
    raised = 0
    for alert in new:
        with write_transaction(engine) as conn:
            raised += _raise(conn, alert, now)
    return raised


def _raise(conn: Connection, alert: NewAlert, now: int) -> int:
    c = alert.condition
    row = {
        "org_id": c.org_id, "alert_key": c.key, "job_name": c.job_name,
        "environment": c.environment, "condition": c.condition, "run_id": c.run_id,
        "step_name": alert.step_name, "scheduled_at": c.scheduled_at,
        "state": "resolved" if c.condition == "recovered" else "open",
        "raised_at": now, "resolved_at": now if c.condition == "recovered" else None,
        "message": alert.message,
        "recipients": orjson.dumps(list(alert.recipients)).decode(),
    }  # fmt: skip
    # RETURNING says whether this worker inserted the row (rowcount is -1 on psycopg here).
    inserted = insert_ignore(al, conn).values(**row).returning(al.c.alert_key)
    if conn.execute(inserted).first() is None:
        return 0
    for channel in alert.channels:
        conn.execute(
            insert_ignore(ad, conn).values(
                org_id=c.org_id,
                alert_key=c.key,
                channel=channel,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                claimed_until=0,
            )
        )
    if c.condition == "recovered":
        conn.execute(
            update(al)
            .where(
                al.c.org_id == c.org_id,
                al.c.job_name == c.job_name,
                al.c.environment == c.environment,
                al.c.state == "open",
            )
            .values(state="resolved", resolved_at=now)
        )
    return 1


@dataclass(frozen=True)
class Due:
    org_id: str
    alert_key: str
    channel: str
    attempts: int
    message: str
    condition: str
    job_name: str
    environment: str
    run_id: str | None
    recipients: tuple[str, ...]
    scheduled_at: int | None = None  # late, missed, too often: the tick concerned (µs)


def claim_due(
    engine: Engine,
    now: int,
    lease: int,
    limit: int = 100,
    busy: Mapping[str, int] | None = None,
    per_channel: int | None = None,
    channel: str | None = None,
) -> tuple[list[Due], bool]:
    """Claim up to `limit` due deliveries for `lease` µs: each by a conditional UPDATE that must
    change one row, so two workers never send the same attempt. With `per_channel`, no channel
    gets more than that many claims counting the `busy` ones (its sends already in flight), so
    one slow channel cannot take every sending thread. Also says whether a full batch was due
    (more may be left, even when other workers took some of this one). `channel`: only its
    deliveries."""
    taken = Counter(busy or {})
    full = [ch for ch, n in taken.items() if per_channel is not None and n >= per_channel]
    stmt = (
        select(ad.c.org_id, ad.c.alert_key, ad.c.channel)
        .where(ad.c.status == "pending", ad.c.next_attempt_at <= now, ad.c.claimed_until <= now)
        .order_by(ad.c.next_attempt_at)
        .limit(limit)
    )
    if full:
        stmt = stmt.where(ad.c.channel.not_in(full))
    if channel is not None:
        stmt = stmt.where(ad.c.channel == channel)
    with engine.connect() as conn:
        candidates = list(conn.execute(stmt))
    claimed: list[Due] = []
    for candidate in candidates:
        org_id, key, name = str(candidate[0]), str(candidate[1]), str(candidate[2])
        if per_channel is not None and taken[name] >= per_channel:
            continue  # left pending: a later round (or another worker) takes it
        with write_transaction(engine) as conn:
            mine = conn.execute(
                update(ad)
                .where(
                    ad.c.org_id == org_id,
                    ad.c.alert_key == key,
                    ad.c.channel == name,
                    ad.c.status == "pending",
                    ad.c.claimed_until <= now,
                )
                .values(claimed_until=now + lease, attempts=ad.c.attempts + 1, last_attempt_at=now)
            )
            if mine.rowcount != 1:
                continue
            taken[name] += 1
            row = conn.execute(
                select(
                    ad.c.attempts,
                    al.c.message,
                    al.c.condition,
                    al.c.job_name,
                    al.c.environment,
                    al.c.run_id,
                    al.c.recipients,
                    al.c.scheduled_at,
                )
                .join(al, and_(al.c.org_id == ad.c.org_id, al.c.alert_key == ad.c.alert_key))
                .where(ad.c.org_id == org_id, ad.c.alert_key == key, ad.c.channel == name)
            ).one()
        claimed.append(
            Due(
                org_id,
                key,
                name,
                row.attempts,
                row.message,
                row.condition,
                row.job_name,
                row.environment,
                row.run_id,
                tuple(orjson.loads(row.recipients)),
                row.scheduled_at,
            )
        )
    return claimed, len(candidates) == limit


def finish(engine: Engine, due: Due, error: str | None, retry_at: int | None) -> None:
    """Record an attempt: delivered (no error), to retry at `retry_at`, or failed for good."""
    status = "delivered" if error is None else ("pending" if retry_at is not None else "failed")
    with write_transaction(engine) as conn:
        conn.execute(
            update(ad)
            .where(
                ad.c.org_id == due.org_id,
                ad.c.alert_key == due.alert_key,
                ad.c.channel == due.channel,
            )
            .values(
                status=status,
                last_error=error,
                claimed_until=0,
                next_attempt_at=retry_at if retry_at is not None else ad.c.next_attempt_at,
            )
        )


def list_alerts(
    engine: Engine, org_id: str, only_open: bool, limit: int = 500
) -> list[dict[str, Any]]:
    """Newest first, each with its deliveries."""
    stmt = select(al).where(al.c.org_id == org_id)
    if only_open:
        stmt = stmt.where(al.c.state == "open")
    stmt = stmt.order_by(al.c.raised_at.desc()).limit(limit)
    with engine.connect() as conn:
        rows = [_plain(r) for r in conn.execute(stmt)]
        keys = [r["alert_key"] for r in rows]
        deliveries: dict[str, list[dict[str, Any]]] = {}
        if keys:
            drows = conn.execute(
                select(ad)
                .where(ad.c.org_id == org_id, ad.c.alert_key.in_(keys))
                .order_by(ad.c.channel)
            )
            for d in drows:
                deliveries.setdefault(d.alert_key, []).append(_plain(d))
    for row in rows:
        row["deliveries"] = deliveries.get(row["alert_key"], [])
    return rows


def silence(engine: Engine, org_id: str, job_name: str, environment: str, until: int) -> None:
    """Send no alert of this job to any channel until `until` (µs); they are still recorded."""
    with write_transaction(engine) as conn:
        stmt = insert(sil, conn).values(
            org_id=org_id, job_name=job_name, environment=environment, until=until
        )
        keys = ["org_id", "job_name", "environment"]
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_={"until": until}))


def silenced(engine: Engine, now: int) -> set[JobKey]:
    stmt = select(sil.c.org_id, sil.c.job_name, sil.c.environment).where(sil.c.until > now)
    with engine.connect() as conn:
        return {(r[0], r[1], r[2]) for r in conn.execute(stmt)}


def _plain(row: Any) -> dict[str, Any]:
    """A row as a dict with plain `str` keys (SQLAlchemy's are a str subclass)."""
    return {str(k): v for k, v in row._mapping.items()}
