"""Timestamps as integer microseconds since the epoch (UTC), and their RFC 3339 / ISO 8601 text."""

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROS = 1_000_000


def to_micros(dt: datetime) -> int:
    """Aware datetime → microseconds since the epoch; integer keys sort and compare the same way
    on SQLite and PostgreSQL, which keeps the store's dialect differences small."""
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS + delta.microseconds


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def format_ts(us: int) -> str:
    """RFC 3339 in UTC with `Z`; fractional seconds only when present."""
    dt = from_micros(us)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_duration(us: int) -> str:
    """ISO 8601 duration such as `PT4M12S` (hours are not folded into days)."""
    sign = "-" if us < 0 else ""
    us = abs(us)
    seconds, micros = divmod(us, MICROS)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours}H")
    if minutes:
        parts.append(f"{minutes}M")
    if secs or micros or not parts:
        if micros:
            frac = f"{micros:06d}".rstrip("0")
            parts.append(f"{secs}.{frac}S")
        else:
            parts.append(f"{secs}S")
    return f"{sign}PT{''.join(parts)}"
