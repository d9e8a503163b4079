"""Timestamps and durations as the API writes them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobtrail.domain.timefmt import format_duration, format_ts, parse_timestamp, to_micros


@pytest.mark.parametrize(
    ("us", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1_764_000_000_123_456, "2025-11-24T16:00:00.123456Z"),
        (1_764_000_000_000_000, "2025-11-24T16:00:00Z"),
        (1_764_000_059_000_100, "2025-11-24T16:00:59.000100Z"),
        (951_868_800_000_000, "2000-03-01T00:00:00Z"),
    ],
)
def test_format_ts(us: int, text: str) -> None:
    assert format_ts(us) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "PT0S"),
        (16, "PT16S"),
        (252, "PT4M12S"),
        (60, "PT1M"),
        (3600, "PT1H"),
        (3601, "PT1H1S"),
        (100 * 3600 + 61, "PT100H1M1S"),
        (1.5, "PT1.5S"),
        (0.000001, "PT0.000001S"),
        (-90, "-PT1M30S"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(round(seconds * 1_000_000)) == text


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_format_ts_never_raises_on_a_stored_value(us: int) -> None:
    text = format_ts(us)
    assert text.endswith("Z")
    assert "0001-01-01T00:00:00Z" <= text <= "9999-12-31T23:59:59.999999Z"


def test_format_ts_clamps_past_year_9999() -> None:
    past_9999 = to_micros(parse_timestamp("9999-12-31T23:59:59-01:00"))
    assert format_ts(past_9999) == "9999-12-31T23:59:59.999999Z"


@pytest.mark.parametrize(
    "text", ["2026-11-27T10:00:00z", "2026-11-27t10:00:00Z", "2026-11-27t10:00:00.5z"]
)
def test_parse_timestamp_takes_lowercase_t_and_z(text: str) -> None:
    assert parse_timestamp(text) == parse_timestamp(text.upper())
