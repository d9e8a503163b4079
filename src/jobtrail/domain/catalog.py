"""Job definitions (the catalog, SPEC §3.4 and §7): what a job is expected to do — its cron
schedule in a timezone, its owners, labels and alert settings — as reported by runners or put
through the API. One definition per (organization, job name, environment)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from jobtrail.domain.alert_settings import (
    AlertSettings,
    AlertSettingsError,
    check_channels,
    parse_alert_settings,
)
from jobtrail.domain.errors import InvalidDefinitions

MAX_DEFINITIONS = 1000
_NAME_MAX = 200
_KEYS = {
    *("jobName", "environment", "schedule", "timezone"),
    *("owners", "labels", "alerts", "scheduled"),
}


@dataclass(frozen=True)
class JobDefinition:
    job_name: str
    environment: str
    schedule: str | None = None
    timezone: str = "UTC"
    owners: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    scheduled: bool = True

    def to_json(self) -> dict[str, Any]:
        """The API's shape (camelCase), as a runner sends it."""
        return {
            "jobName": self.job_name,
            "environment": self.environment,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "owners": list(self.owners),
            "labels": dict(self.labels),
            "alerts": self.alerts.to_json(),
            "scheduled": self.scheduled,
        }


def check_schedule(value: str) -> str:
    if not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a cron expression such as '0 * * * *'")
    return value


def check_timezone(value: str) -> str:
    """An IANA zone name such as `Europe/Paris` (schedules are read in it)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a timezone such as 'Europe/Paris' or 'UTC'") from None
    return value


def next_run(schedule: str, timezone: str, after: datetime) -> datetime:
    """The first scheduled time strictly after `after`, in UTC; the schedule is read in its
    timezone, so `0 9 * * *` in Europe/Paris follows daylight saving."""
    local = after.astimezone(ZoneInfo(timezone))
    following: datetime = croniter(schedule, local).get_next(datetime)
    return following.astimezone(UTC)


def parse_definitions(body: Any, channels: frozenset[str] | None = None) -> list[JobDefinition]:
    """`{"definitions": [...]}` → definitions, or one error naming every bad entry's field.
    `channels`: the channels configured on the server, when it knows them; alert settings may
    name no other."""
    if not isinstance(body, dict) or not isinstance(body.get("definitions"), list):
        raise InvalidDefinitions('The body must be a JSON object {"definitions": [...]}.')
    items = body["definitions"]
    if len(items) > MAX_DEFINITIONS:
        raise InvalidDefinitions(f"At most {MAX_DEFINITIONS} definitions per request.")
    parsed, problems = [], []
    for index, item in enumerate(items):
        try:
            parsed.append(parse_definition(item, channels))
        except _Problem as exc:
            problems.append({"index": index, "field": exc.field, "message": exc.reason})
    if problems:
        shown = "; ".join(
            f"definitions[{p['index']}].{p['field']}: {p['message']}" for p in problems[:10]
        )
        raise InvalidDefinitions(f"Nothing was stored: {shown}.", details=problems)
    return parsed


class _Problem(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_definition(item: Any, channels: frozenset[str] | None = None) -> JobDefinition:
    if not isinstance(item, dict):
        raise _Problem("definition", "must be an object with jobName and environment")
    unknown = sorted(str(k) for k in item if k not in _KEYS)
    if unknown:
        raise _Problem(unknown[0], "unknown field")
    name = _name(item, "jobName")
    environment = _name(item, "environment")
    schedule = _optional_text(item, "schedule", check_schedule)
    timezone = _optional_text(item, "timezone", check_timezone) or "UTC"
    try:
        alerts = parse_alert_settings(item.get("alerts"))
        if channels is not None:
            check_channels(alerts, channels)
    except AlertSettingsError as exc:
        raise _Problem(f"alerts.{exc.field}", exc.reason) from None
    scheduled = item.get("scheduled", True)
    if not isinstance(scheduled, bool):
        raise _Problem("scheduled", "must be true or false")
    return JobDefinition(
        name, environment, schedule, timezone, _owners(item), _labels(item), alerts, scheduled
    )


def _name(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value or len(value) > _NAME_MAX:
        raise _Problem(key, f"required, a string of 1 to {_NAME_MAX} characters")
    return value


def _optional_text(item: dict[str, Any], key: str, check: Any) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Problem(key, "must be a string")
    try:
        checked: str = check(value)
    except ValueError as exc:
        raise _Problem(key, str(exc)) from None
    return checked


def _owners(item: dict[str, Any]) -> tuple[str, ...]:
    value = item.get("owners") or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Problem("owners", "must be a list of names or e-mail addresses")
    return tuple(value)


def _labels(item: dict[str, Any]) -> dict[str, str]:
    value = item.get("labels") or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _Problem("labels", "must be an object of string values")
    return {str(k): v for k, v in value.items()}
