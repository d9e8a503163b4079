"""Listing any window within the last week with a server that takes at most 96 hours and trims
to its event cap: plan the windows, split again those whose answer was trimmed, merge the runs.
Pure: the faces send the requests."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import isodate

from jobtrail.wire.limits import OLDEST_EVENT_HEADER, TRUNCATED_HEADER, WINDOW_MAX_SPAN
from jobtrail.wire.shapes import RunSummary

Moment = datetime | timedelta | str
_TICK = timedelta(microseconds=1)


def parse_moment(value: Moment, now: datetime) -> datetime:
    """A datetime, a timedelta from now, or an ISO 8601 timestamp or duration (`P-7D`, `-PT12H`,
    `PT0S`) as the API takes them."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no timezone; give an aware datetime")
        return value
    if isinstance(value, timedelta):
        return now + value
    text = value.strip()
    if not re.match(r"^[+-]?P", text, re.IGNORECASE):
        return datetime.fromisoformat(text)
    negative = text.startswith("-") or "-" in text[1:]
    body = text.lstrip("+-").replace("-", "").upper()
    delta = isodate.parse_duration(body)
    if not isinstance(delta, timedelta):
        raise ValueError(f"{value!r}: use days, hours, minutes or seconds")
    return now - delta if negative else now + delta


def plan(start: datetime, end: datetime, span: timedelta = WINDOW_MAX_SPAN) -> list["Window"]:
    """[start, end) cut into windows of at most `span`, newest first."""
    out: list[Window] = []
    upper = end
    while upper > start:
        lower = max(start, upper - span)
        out.append(Window(lower, upper))
        upper = lower
    return out


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass
class Listing:
    """The state of one `list_runs`: windows still to ask for, and the runs seen so far."""

    pending: list[Window]
    runs: dict[str, RunSummary] = field(default_factory=dict)
    windows: int = 0
    unsplittable: list[Window] = field(default_factory=list)

    def next(self) -> Window | None:
        return self.pending.pop(0) if self.pending else None

    def feed(self, window: Window, runs: list[RunSummary], headers: dict[str, str]) -> list[str]:
        """Take one window's answer: the ids of runs seen for the first time. A trimmed answer
        only covers [oldest kept event, end), so the part before it is asked for again (up to
        and including the oldest event's instant, where the trim may have cut a tie)."""
        self.windows += 1
        if headers.get(TRUNCATED_HEADER.lower()) == "true":
            oldest = datetime.fromisoformat(headers[OLDEST_EVENT_HEADER.lower()])
            if oldest + _TICK < window.end and oldest > window.start:
                self.pending.insert(0, Window(window.start, oldest + _TICK))
            else:  # more events in one instant than the cap: nothing smaller to ask for
                self.unsplittable.append(window)
        fresh: list[str] = []
        for run in runs:
            known = self.runs.get(run["runId"])
            if known is None:
                fresh.append(run["runId"])
            if known is None or _updated(run) >= _updated(known):
                self.runs[run["runId"]] = run
        return fresh

    def merged(self) -> list[RunSummary]:
        """Every run once, with its newest state, newest start first (as the server orders)."""
        return sorted(self.runs.values(), key=lambda r: r["startTime"] or "", reverse=True)


_NEVER = datetime.min.replace(tzinfo=UTC)


def _updated(run: RunSummary) -> datetime:
    return datetime.fromisoformat(run["lastUpdated"]) if run["lastUpdated"] else _NEVER
