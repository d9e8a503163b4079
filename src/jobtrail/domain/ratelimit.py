"""Token buckets for the rate limits (pure). A bucket's level is what it held when last settled
with the store, and it may go below zero: what several server processes admitted between two
settlements beyond the shared limit becomes a debt that later requests wait off, so over time the
admitted rate is the configured one."""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    rate: float  # tokens added per second
    burst: float  # the bucket's capacity

    def refill(self, level: float, elapsed: float) -> float:
        """The level `elapsed` seconds after it was `level` (a clock going back adds nothing)."""
        return min(self.burst, level + self.rate * max(0.0, elapsed))

    def retry_after(self, available: float) -> int:
        """Whole seconds until one token is back, at least 1."""
        return max(1, math.ceil((1 - available) / self.rate))


@dataclass(frozen=True)
class Limits:
    """The rules per API key and per organization; None: that limit is off."""

    key: Rule | None
    org: Rule | None


@dataclass
class Bucket:
    level: float  # tokens at `at`, as last settled with the store (negative: a debt)
    at: float  # seconds since the epoch
    spent: int = 0  # admitted by this process since `at`, not yet settled

    def available(self, rule: Rule, now: float) -> float:
        return rule.refill(self.level, now - self.at) - self.spent


def admit(buckets: list[tuple[Rule, Bucket]], now: float) -> int | None:
    """Take one token from every bucket when each has one: None. Otherwise take none and say
    how many seconds until all of them have one again."""
    waits = [
        rule.retry_after(avail)
        for rule, bucket in buckets
        if (avail := bucket.available(rule, now)) < 1
    ]
    if waits:
        return max(waits)
    for _rule, bucket in buckets:
        bucket.spent += 1
    return None
