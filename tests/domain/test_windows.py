"""The window rules as pure functions, with a fixed `now`."""

from datetime import UTC, datetime, timedelta

import pytest

from jobtrail.domain.errors import InvalidWindow
from jobtrail.domain.timefmt import to_micros
from jobtrail.domain.windows import parse_window

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _span(frm: str, to: str) -> tuple[datetime, datetime]:
    w = parse_window(frm, to, NOW)
    return (
        datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=w.start),
        datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=w.end),
    )


@pytest.mark.parametrize(
    ("frm", "to", "hours_ago"),
    [
        ("PT-12H", "PT0S", (12, 0)),
        ("-PT12H", "PT0S", (12, 0)),
        ("P-1D", "PT0S", (24, 0)),
        ("-P1D", "-PT1H", (24, 1)),
        ("PT-1H-30M", "PT0S", (1.5, 0)),
        ("pt-96h", "pt0s", (96, 0)),
        ("PT-168H", "PT-72H", (168, 72)),
        ("2026-11-28T00:00:00Z", "2026-11-28T12:00:00Z", (12, 0)),
        ("2026-11-28T02:00:00+02:00", "2026-11-28T12:00:00+00:00", (12, 0)),
        ("2026-11-28T02:00:00 02:00", "2026-11-28T07:00:00-05:00", (12, 0)),  # unencoded +
        ("2026-11-28T00:00:00.250Z", "2026-11-28T12:00:00Z", (11.99993055, 0)),
    ],
)
def test_accepted_formats(frm: str, to: str, hours_ago: tuple[float, float]) -> None:
    start, end = _span(frm, to)
    assert abs((NOW - start).total_seconds() - hours_ago[0] * 3600) < 1
    assert abs((NOW - end).total_seconds() - hours_ago[1] * 3600) < 1


@pytest.mark.parametrize(
    ("frm", "to", "needle"),
    [
        ("PT-12H", "2026-11-28T12:00:00Z", "same type"),
        ("2026-11-28T00:00:00Z", "PT0S", "same type"),
        ("PT0S", "PT-12H", "not be after `to`"),
        ("2026-11-28T12:00:00Z", "2026-11-28T00:00:00Z", "not be after `to`"),
        ("PT-97H", "PT0S", "spans 97 hours; it may span 96 hours at most"),
        ("P-5D", "PT-1H", "spans 119 hours"),
        ("PT-200H", "PT-150H", "more than 7 days ago"),
        ("2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z", "more than 7 days ago"),
        ("PT-1H", "PT1H", "in the future"),
        ("2026-11-28T11:00:00Z", "2026-11-28T13:00:00Z", "in the future"),
        ("2026-11-28T00:00:00", "2026-11-28T01:00:00", "no UTC offset"),
        ("yesterday", "today", "neither an ISO 8601 timestamp"),
        ("PTXH", "PT0S", "not an ISO 8601 duration"),
        ("PT-1H30M", "PT0S", "mixes signs"),
        ("-PT-1H", "PT0S", "mixes signs"),
        (None, "PT0S", "from are required"),
        ("PT-1H", "", "to are required"),
    ],
)
def test_rejected_windows_name_the_rule(frm: str | None, to: str | None, needle: str) -> None:
    with pytest.raises(InvalidWindow) as err:
        parse_window(frm, to, NOW)
    assert needle in err.value.message


def test_window_exactly_96_hours_and_a_week_old_is_fine() -> None:
    w = parse_window("PT-168H", "PT-72H", NOW)
    assert w.end - w.start == to_micros(NOW) - to_micros(NOW - timedelta(hours=96))


@pytest.mark.parametrize(("frm", "to"), [("PT-1H", "PT-1H"), ("PT0S", "PT0S")])
def test_from_equal_to_is_an_empty_window(frm: str, to: str) -> None:
    w = parse_window(frm, to, NOW)
    assert w.start == w.end
