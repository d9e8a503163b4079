"""Token buckets (pure): bursts, refill, debt, and never more than the rule allows."""

from hypothesis import given
from hypothesis import strategies as st

from jobtrail.domain.ratelimit import Bucket, Rule, admit

RULE = Rule(rate=2.0, burst=5)


def test_a_full_bucket_admits_its_burst_then_says_when_to_retry() -> None:
    bucket = Bucket(RULE.burst, at=100.0)
    assert [admit([(RULE, bucket)], 100.0) for _ in range(6)] == [None] * 5 + [1]
    assert bucket.spent == 5


def test_refill_at_the_rate_up_to_the_burst() -> None:
    bucket = Bucket(0.0, at=0.0)
    assert admit([(RULE, bucket)], 0.4) == 1  # 0.8 of a token
    assert admit([(RULE, bucket)], 0.5) is None
    assert RULE.refill(0.0, 3600) == RULE.burst
    assert RULE.refill(3.0, -10) == 3.0  # a clock going back adds nothing


def test_a_debt_is_waited_off() -> None:
    bucket = Bucket(-9.0, at=0.0)  # others admitted 9 more than the bucket held
    assert admit([(RULE, bucket)], 0.0) == 5  # (1 - -9) / 2 per second
    assert admit([(RULE, bucket)], 5.0) is None


def test_two_buckets_take_from_neither_when_one_is_empty() -> None:
    key, org = Bucket(5.0, at=0.0), Bucket(0.0, at=0.0)
    assert admit([(RULE, key), (Rule(0.5, 10), org)], 0.0) == 2
    assert key.spent == 0
    assert org.spent == 0


@given(
    rate=st.floats(0.1, 50),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=300),
)
def test_never_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, gaps: list[float]
) -> None:
    rule, bucket, now, admitted = Rule(rate, burst), Bucket(burst, at=0.0), 0.0, 0
    for gap in gaps:
        now += gap
        wait = admit([(rule, bucket)], now)
        admitted += wait is None
        assert wait is None or wait >= 1
        assert admitted <= burst + rate * now + 1e-9
