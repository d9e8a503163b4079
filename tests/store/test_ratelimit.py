"""Rate limits shared through the store: two limiters on one database (as two server processes
would be), on an injected clock, settle into the same buckets."""

import uuid

import pytest
from sqlalchemy import Engine

from jobtrail.domain.errors import RateLimited
from jobtrail.domain.ratelimit import Limits, Rule
from jobtrail.store.ratelimit import Limiter, read_levels

BURST = 10
ORG_ONLY = Limits(key=None, org=Rule(rate=0.5, burst=BURST))


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def _admitted(limiter: Limiter, org: str, key: str, tries: int) -> int:
    admitted = 0
    for _ in range(tries):
        try:
            limiter.check(org, key)
            admitted += 1
        except RateLimited:
            pass
    return admitted


def test_two_processes_share_one_organization_bucket(engine: Engine) -> None:
    clock, org = Clock(), str(uuid.uuid4())
    first, second = Limiter(engine, ORG_ONLY, clock), Limiter(engine, ORG_ONLY, clock)
    assert _admitted(first, org, "k1", 6) == 6
    first.sync()
    assert read_levels(engine, [f"org:{org}"])[f"org:{org}"][0] == pytest.approx(4)
    # The second process sees the organization for the first time: it reads what is left.
    assert _admitted(second, org, "k2", 10) == 4
    second.sync()
    # The first still holds the level of its last settlement: it may overshoot, by at most that.
    overshoot = _admitted(first, org, "k1", 10)
    assert overshoot == 4
    first.sync()
    second.sync()
    # The overshoot is a debt both wait off: nothing more until it is paid back.
    assert _admitted(first, org, "k1", 5) + _admitted(second, org, "k2", 5) == 0
    with pytest.raises(RateLimited) as refused:
        second.check(org, "k2")
    assert refused.value.retry_after == 10  # (1 - (-4)) / 0.5 per second
    assert "organization" in refused.value.message
    clock.now += 10
    assert _admitted(second, org, "k2", 3) == 1


def test_keys_have_buckets_of_their_own(engine: Engine) -> None:
    limits = Limits(key=Rule(rate=1, burst=2), org=None)
    limiter, org = Limiter(engine, limits, Clock()), str(uuid.uuid4())
    assert _admitted(limiter, org, "a", 5) == 2
    assert _admitted(limiter, org, "b", 5) == 2
    with pytest.raises(RateLimited) as refused:
        limiter.check(org, "a")
    assert "API key" in refused.value.message


def test_idle_limiter_touches_nothing_and_off_admits_all(engine: Engine) -> None:
    off = Limiter(engine, Limits(key=None, org=None), Clock())
    assert not off.enabled
    assert _admitted(off, str(uuid.uuid4()), "k", 1000) == 1000
    off.sync()  # nothing in use: no store access needed


def test_forgotten_after_idle_and_read_again(engine: Engine) -> None:
    clock, org = Clock(), str(uuid.uuid4())
    limiter = Limiter(engine, ORG_ONLY, clock)
    assert _admitted(limiter, org, "k", BURST + 5) == BURST
    limiter.sync()
    clock.now += 120  # idle: forgotten, refilled meanwhile
    limiter.sync()
    assert _admitted(limiter, org, "k", BURST + 5) == BURST
