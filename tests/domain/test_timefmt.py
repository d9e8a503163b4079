"""Timestamps and durations as the API writes them."""

import pytest

from jobtrail.domain.timefmt import format_duration, format_ts


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
