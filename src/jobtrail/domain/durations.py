"""Durations as people write them in job specs: `30m`, `1h30m`, `45s`, or ISO 8601 `PT30M`."""

import re
from datetime import timedelta

import isodate

_SHORT = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(text: str | int | float) -> timedelta:
    """A positive duration; raises ValueError with a readable message otherwise."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 30m, 1h30m, 45s or PT30M")
    value = timedelta(seconds=text) if isinstance(text, int | float) else _parse_text(text.strip())
    if value <= timedelta(0):
        raise ValueError(f"{text!r} must be longer than zero")
    return value


def _parse_text(text: str) -> timedelta:
    match = _SHORT.match(text)
    if text and match and any(match.groups()):
        hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
        return timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if text.upper().startswith("P"):
        try:
            parsed = isodate.parse_duration(text.upper())
        except (isodate.ISO8601Error, ValueError):
            parsed = None
        if isinstance(parsed, timedelta):
            return parsed
    raise ValueError(f"{text!r} is not a duration such as 30m, 1h30m, 45s or PT30M")
