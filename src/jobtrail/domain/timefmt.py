"""Timestamps as integer microseconds since the epoch (UTC), and their RFC 3339 / ISO 8601 text."""

from datetime import UTC, datetime, timedelta
from functools import lru_cache

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROS = 1_000_000
_MICROSECOND = timedelta(microseconds=1)


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 / ISO 8601 text → datetime. RFC 3339 allows a lowercase `t` and `z`, which
    `datetime.fromisoformat` refuses, so they are raised first. Raises ValueError."""
    return datetime.fromisoformat(text.upper())


def to_micros(dt: datetime) -> int:
    """Aware datetime → microseconds since the epoch; integer keys sort and compare the same way
    on SQLite and PostgreSQL, which keeps the store's dialect differences small."""
    return (dt - _EPOCH) // _MICROSECOND  # exact: a timedelta is a whole number of µs


_MINUTE = 60 * MICROS
# The range `datetime` (and RFC 3339's four-digit year) can write; `format_ts` clamps to it.
FIRST_MICROS = to_micros(datetime(1, 1, 1, tzinfo=UTC))
LAST_MICROS = to_micros(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))


@lru_cache(maxsize=65_536)
def _minute(minutes: int) -> str:
    """`2026-11-27T10:04:` for a minute since the epoch."""
    return (_EPOCH + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:")


def format_ts(us: int) -> str:
    """RFC 3339 in UTC with `Z`; fractional seconds only when present. Listings format tens of
    thousands of these, so the date-hour-minute part comes from a cache. A stored value outside
    years 1-9999 (ingested before such events were refused) is written as the nearest end of
    that range rather than breaking the whole response."""
    us = min(max(us, FIRST_MICROS), LAST_MICROS)
    minutes, rest = divmod(us, _MINUTE)
    seconds, micros = divmod(rest, MICROS)
    if micros:
        return f"{_minute(minutes)}{seconds:02d}.{micros:06d}Z"
    return f"{_minute(minutes)}{seconds:02d}Z"


def format_duration(us: int) -> str:
    """ISO 8601 duration such as `PT4M12S` (hours are not folded into days). Listings write
    thousands of these: the whole seconds' part comes from a cache."""
    if us < 0:
        return "-" + format_duration(-us)
    seconds, micros = divmod(us, MICROS)
    text, secs = _hours_minutes(seconds)
    if micros:
        return f"{text}{secs}.{micros:06d}".rstrip("0") + "S"
    if secs or len(text) == 2:
        return f"{text}{secs}S"
    return text


@lru_cache(maxsize=4096)  # a listing's worth, polled again and again
def _hours_minutes(seconds: int) -> tuple[str, int]:
    """(`PT1H2M` or `PT`..., the seconds left) for a whole number of seconds."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    return text, secs
