"""Store rows → the Jobs API's JSON shapes (camelCase, RFC 3339 times, ISO 8601 durations)."""

from typing import Any

import orjson

from jobtrail.domain.states import is_terminal
from jobtrail.domain.timefmt import format_duration, format_ts


def _ts(us: int | None) -> str | None:
    return None if us is None or us < 0 else format_ts(us)


def _times(row: Any) -> tuple[int | None, int | None]:
    start = row.first_running_ts if row.first_running_ts is not None else row.first_event_ts
    end = row.state_ts if is_terminal(row.state) and row.state_ts >= 0 else None
    return start, end


def _duration(start: int | None, end: int | None) -> str | None:
    if start is None or end is None:
        return None
    return format_duration(max(0, end - start))


def run_summary(row: Any) -> dict[str, Any]:
    start, end = _times(row)
    return {
        "runId": row.run_id,
        "jobId": row.job_id,
        "jobName": row.job_name,
        "environment": row.environment,
        "state": row.state,
        "startTime": _ts(start),
        "endTime": _ts(end),
        "duration": _duration(start, end),
        "lastUpdated": _ts(row.last_ts),
    }


def run_sort_key(row: Any) -> tuple[int, str, str, str]:
    """Newest startTime first; runs without one last; ties by job, environment and the
    reporter's run key, so the order is stable and the same wherever the events came from."""
    start, _ = _times(row)
    return (-(start if start is not None else -(2**62)), row.job_name, row.environment, row.run_key)


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
