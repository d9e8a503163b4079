"""Store rows → the Jobs API's JSON shapes (camelCase, RFC 3339 times, ISO 8601 durations)."""

from typing import Any

import orjson

from jobtrail.domain.states import TERMINAL, step_times
from jobtrail.domain.timefmt import format_duration, format_ts


def _ts(us: int | None) -> str | None:
    return None if us is None or us < 0 else format_ts(us)


def _times(row: Any) -> tuple[int | None, int | None]:
    return step_times(row.state, row.state_ts, row.first_event_ts, row.first_running_ts)


def _duration(start: int | None, end: int | None) -> str | None:
    if start is None or end is None:
        return None
    return format_duration(max(0, end - start))


class _Stamps(dict[int, str]):
    """Formatted timestamps of one response: a run's endTime is usually its lastUpdated too."""

    def __missing__(self, us: int) -> str:
        text = self[us] = format_ts(us)
        return text


def run_summary(row: Any, stamps: _Stamps | None = None) -> dict[str, Any]:
    """A run's summary from one pass over the row (listings make thousands of them)."""
    (
        run_id,
        job_id,
        job_name,
        environment,
        _run_key,
        state,
        state_ts,
        first_event_ts,
        first_running_ts,
        last_ts,
    ) = row
    stamps = stamps if stamps is not None else _Stamps()
    start = first_running_ts if first_running_ts is not None else first_event_ts
    end = state_ts if state in TERMINAL and state_ts >= 0 else None
    return {
        "runId": run_id,
        "jobId": job_id,
        "jobName": job_name,
        "environment": environment,
        "state": state,
        "startTime": None if start is None else stamps[start],
        "endTime": None if end is None else stamps[end],
        "duration": _duration(start, end),
        "lastUpdated": stamps[last_ts] if last_ts >= 0 else None,
    }


def run_list(rows: list[Any]) -> list[dict[str, Any]]:
    """Summaries of rows already in listing order (the store sorts them)."""
    stamps = _Stamps()
    return [run_summary(row, stamps) for row in rows]


def step_summary(row: Any) -> dict[str, Any]:
    start, end = _times(row)
    return {
        "name": row.name,
        "state": row.state,
        "dependencies": orjson.loads(row.dependencies),
        "startTime": _ts(start),
        "endTime": _ts(end),
        "duration": _duration(start, end),
        "attempt": row.attempt,
        "exitCode": row.exit_code,
    }


def step_sort_key(row: Any) -> tuple[int, int, str]:
    """Steps in the order they started; not-yet-started ones after, by name."""
    start, _ = _times(row)
    return (0 if start is not None else 1, start or 0, row.name)


def state_change(row: Any) -> dict[str, Any]:
    return {
        "state": row.state,
        "timestamp": format_ts(row.ts),
        "attempt": row.attempt,
        "exitCode": row.exit_code,
        "message": row.message,
    }


def key_summary(key: Any) -> dict[str, Any]:
    """An API key as the key-management API shows it (never its secret or hash)."""
    return {
        "keyId": key.key_id,
        "name": key.name,
        "role": key.role,
        "kind": key.kind,
        "createdAt": format_ts(key.created_at),
        "lastUsedAt": _ts(key.last_used_at),
        "expiresAt": _ts(key.expires_at),
        "revokedAt": _ts(key.revoked_at),
    }
