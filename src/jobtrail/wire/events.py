"""The one event builder: every reporter (the runner, the demo, the tests) makes its events
here, so the ingestion shape is written once."""

import uuid
from datetime import UTC, datetime
from typing import Any, cast

from jobtrail.wire.limits import MAX_MESSAGE
from jobtrail.wire.shapes import Event, Kind, StepRef


def stamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, as events carry it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_event(
    kind: Kind,
    at: datetime | str,
    *,
    job: str,
    environment: str,
    run_key: str,
    event_id: str | None = None,
    step: str | StepRef | None = None,
    **fields: Any,
) -> Event:
    """An event of `kind`; `fields` are its other wire fields (`state`, `attempt`, `exitCode`,
    `message`, `stream`, `data`, `seq`), left out when None. A message is cut to the limit."""
    body: dict[str, Any] = {
        "eventId": event_id or str(uuid.uuid4()),
        "timestamp": at if isinstance(at, str) else stamp(at),
        "kind": kind,
        "job": {"name": job, "environment": environment},
        "runKey": run_key,
    }
    if step is not None:
        body["step"] = {"name": step} if isinstance(step, str) else step
    for name, value in fields.items():
        if value is not None:
            body[name] = value[:MAX_MESSAGE] if name == "message" else value
    return cast(Event, body)
