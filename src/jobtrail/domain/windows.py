"""The Jobs API's time-window rules (SPEC §3.2): parsing `from`/`to` and checking the limits."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import isodate

from jobtrail.domain.errors import InvalidWindow
from jobtrail.domain.timefmt import parse_timestamp, to_micros
from jobtrail.wire.limits import WINDOW_MAX_AGE as MAX_AGE
from jobtrail.wire.limits import WINDOW_MAX_SPAN as MAX_SPAN

CLOCK_SKEW = timedelta(minutes=5)

_DURATION_SHAPE = re.compile(r"^[+-]?P", re.IGNORECASE)


@dataclass(frozen=True)
class Window:
    """A checked half-open window [start, end) in microseconds since the epoch."""

    start: int
    end: int


def _is_duration(text: str) -> bool:
    return bool(_DURATION_SHAPE.match(text))


def _parse_duration(name: str, text: str) -> timedelta | isodate.Duration:
    """ISO 8601 duration; accepts the seed's `PT-12H` (signed components) and `-PT12H`."""
    sign = 1
    body = text
    if body[0] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    inner_minus = body.count("-")
    if inner_minus:
        numbers = len(re.findall(r"\d+(?:[.,]\d+)?", body))
        if inner_minus != numbers or sign == -1:
            raise InvalidWindow(
                f"`{name}`={text!r} mixes signs; write every component negative (PT-1H-30M) "
                "or put one minus in front (-PT1H30M)."
            )
        body = body.replace("-", "")
        sign = -1
    try:
        value = isodate.parse_duration(body.upper())
    except (isodate.ISO8601Error, ValueError) as exc:
        raise InvalidWindow(
            f"`{name}`={text!r} is not an ISO 8601 duration (examples: PT-12H, PT0S, P-1D)."
        ) from exc
    return -value if sign < 0 else value


def _relative(name: str, text: str, now: datetime) -> datetime:
    try:
        moment: datetime = now + _parse_duration(name, text)
    except (OverflowError, ValueError) as exc:
        raise InvalidWindow(f"`{name}`={text!r} reaches outside the calendar.") from exc
    return moment


def _parse_timestamp(name: str, text: str) -> datetime:
    # An unencoded `+` in a query string arrives as a space: `...T03:40:00 02:00`.
    fixed = re.sub(r"([Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$", r"\1+\2", text)
    try:
        value = parse_timestamp(fixed)
    except ValueError as exc:
        raise InvalidWindow(
            f"`{name}`={text!r} is neither an ISO 8601 timestamp (2020-12-02T03:40:00Z) "
            "nor an ISO 8601 duration (PT-12H)."
        ) from exc
    if value.tzinfo is None:
        raise InvalidWindow(
            f"`{name}`={text!r} has no UTC offset; add `Z` or an offset such as +02:00."
        )
    return value


def _fmt_hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hours" if hours != int(hours) else f"{int(hours)} hours"


def parse_window(from_text: str | None, to_text: str | None, now: datetime) -> Window:
    """Parse and check a window against every rule; raise InvalidWindow naming rule and values."""
    if not from_text or not to_text:
        missing = [n for n, v in (("from", from_text), ("to", to_text)) if not v]
        raise InvalidWindow(
            f"Query parameter(s) {' and '.join(missing)} are required: both ISO 8601 timestamps "
            "or both ISO 8601 durations relative to now (e.g. from=PT-12H&to=PT0S)."
        )
    start, end = _parse_pair(from_text, to_text, now)
    check_window(start, end, now)
    return Window(start=to_micros(start), end=to_micros(end))


def _parse_pair(from_text: str, to_text: str, now: datetime) -> tuple[datetime, datetime]:
    from_text, to_text = from_text.strip(), to_text.strip()
    kinds = (_is_duration(from_text), _is_duration(to_text))
    if kinds[0] != kinds[1]:
        raise InvalidWindow(
            "`from` and `to` must be of the same type: both ISO 8601 timestamps or both "
            f"ISO 8601 durations (got from={from_text!r}, to={to_text!r})."
        )
    if kinds[0]:
        start = _relative("from", from_text, now)
        end = _relative("to", to_text, now)
    else:
        start = _parse_timestamp("from", from_text)
        end = _parse_timestamp("to", to_text)
    return start, end


def check_window(start: datetime, end: datetime, now: datetime) -> None:
    """The seed's rules: from not after to, at most 96 hours, within the last week. `from ==
    to` is an empty window, not an error: connectors send it when a sync resumes in the second
    it saved."""
    if start > end:
        raise InvalidWindow(
            f"`from` must not be after `to` (from={start.isoformat()}, to={end.isoformat()})."
        )
    if end - start > MAX_SPAN:
        raise InvalidWindow(
            f"The window spans {_fmt_hours(end - start)}; it may span 96 hours at most. "
            "Split it into several requests."
        )
    oldest = now - MAX_AGE
    if start < oldest - CLOCK_SKEW:
        raise InvalidWindow(
            f"`from` ({start.isoformat()}) is more than 7 days ago; the window must lie within "
            f"the last week (not before {oldest.isoformat(timespec='seconds')})."
        )
    if end > now + CLOCK_SKEW:
        raise InvalidWindow(
            f"`to` ({end.isoformat()}) is in the future; the window must end by now "
            f"({now.isoformat(timespec='seconds')})."
        )


def parse_history_window(
    from_text: str | None, to_text: str | None, now: datetime, retention: timedelta
) -> Window:
    """The insights' window: any span within the retention (default: all of it), since their
    aggregates are bounded by the number of jobs, not of events."""
    start, end = (
        _parse_pair(from_text or "", to_text or "", now)
        if from_text or to_text
        else (
            now - retention,
            now,
        )
    )
    if start >= end:
        raise InvalidWindow(
            f"`from` must be before `to` (from={start.isoformat()}, to={end.isoformat()})."
        )
    if start < now - retention - CLOCK_SKEW:
        raise InvalidWindow(
            f"`from` ({start.isoformat()}) is older than the retention ({_fmt_hours(retention)}); "
            f"runs before {(now - retention).isoformat(timespec='seconds')} are no longer kept."
        )
    if end > now + CLOCK_SKEW:
        raise InvalidWindow(f"`to` ({end.isoformat()}) is in the future.")
    return Window(start=to_micros(start), end=to_micros(end))
