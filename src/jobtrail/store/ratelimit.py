"""Rate limits per API key and per organization, shared by every server process of one store.

A request costs no database round trip: each process admits against its own copy of the shared
token buckets and, every sync interval, settles what it admitted into the `rate_buckets` table
(one transaction for all the scopes it saw) and reads back the levels the other processes left.
Accuracy: between two settlements each of P processes admits at most what the bucket held at the
last settlement plus the refill, so a burst may overshoot the limit by up to (P - 1) times that;
the overshoot is recorded as a debt (a negative level) which every process then waits off, so the
rate admitted over time is the configured one. A process sees a scope for the first time with one
read of its row (not on later requests)."""

import threading
import time
from collections.abc import Callable, Iterable

from sqlalchemy import Engine, bindparam, select, update

from jobtrail.domain.errors import RateLimited
from jobtrail.domain.ratelimit import Bucket, Limits, Rule, admit
from jobtrail.store.dialect import insert_ignore, write_transaction
from jobtrail.store.schema import rate_buckets

IDLE = 60.0  # seconds: a scope unused this long (and settled) is forgotten by the process
_MICROS = 1_000_000


class Limiter:
    def __init__(self, engine: Engine, limits: Limits, clock: Callable[[], float] = time.time):
        self._engine = engine
        self._rules = {"key": limits.key, "org": limits.org}
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, Bucket] = {}
        self._seen: dict[str, float] = {}

    @property
    def enabled(self) -> bool:
        return any(self._rules.values())

    def needs_read(self, org_id: str, key_id: str) -> bool:
        """Whether `check` would read the store: a limited scope this process has not seen."""
        with self._lock:
            return any(
                rule and scope not in self._buckets
                for scope, rule in (
                    (f"key:{key_id}", self._rules["key"]),
                    (f"org:{org_id}", self._rules["org"]),
                )
            )

    def check(self, org_id: str, key_id: str) -> None:
        """Admit one request of this key and organization, or raise RateLimited."""
        scopes = [
            (s, r)
            for s, r in (
                (f"key:{key_id}", self._rules["key"]),
                (f"org:{org_id}", self._rules["org"]),
            )
            if r
        ]
        if not scopes:
            return
        now = self._clock()
        with self._lock:
            for scope, _rule in scopes:
                self._seen[scope] = now  # in use: `sync` keeps it from now on
            missing = [scope for scope, _rule in scopes if scope not in self._buckets]
        shared = read_levels(self._engine, missing) if missing else {}
        with self._lock:
            for scope, rule in scopes:
                level, at = shared.get(scope, (rule.burst, now))
                self._buckets.setdefault(scope, Bucket(level, at))
            pairs = [(rule, self._buckets[scope]) for scope, rule in scopes]
            wait = admit(pairs, now)
        if wait is not None:
            raise RateLimited(_message(scopes, pairs, now), retry_after=wait)

    def sync(self) -> None:
        """Settle what this process admitted and read back the shared levels (the background
        task calls this every sync interval; it touches the store only when scopes are in use)."""
        now = self._clock()
        with self._lock:
            for scope, bucket in list(self._buckets.items()):
                if bucket.spent == 0 and now - self._seen.get(scope, now) > IDLE:
                    del self._buckets[scope], self._seen[scope]
            spent = {s: b.spent for s, b in self._buckets.items() if b.spent}
        if not self._buckets:
            return
        levels = settle(self._engine, [(s, self._rule(s), n) for s, n in spent.items()], now)
        rest = [s for s in list(self._buckets) if s not in spent]
        levels.update(read_levels(self._engine, rest))
        with self._lock:
            for scope, (level, at) in levels.items():
                held = self._buckets.get(scope)
                if held is not None:
                    held.level, held.at = level, at
                    held.spent -= spent.get(scope, 0)

    def _rule(self, scope: str) -> Rule:
        rule = self._rules[scope.split(":", 1)[0]]
        assert rule is not None
        return rule


def _message(scopes: list[tuple[str, Rule]], pairs: list[tuple[Rule, Bucket]], now: float) -> str:
    for (scope, rule), (_r, bucket) in zip(scopes, pairs, strict=True):
        if bucket.available(rule, now) < 1:
            what = "API key" if scope.startswith("key:") else "organization"
            return (
                f"Too many requests for this {what}: at most {rule.rate:g} per second, "
                f"in bursts of up to {rule.burst:g}; retry after the time in `Retry-After`."
            )
    return "Too many requests; retry after the time in `Retry-After`."


def read_levels(engine: Engine, scopes: Iterable[str]) -> dict[str, tuple[float, float]]:
    """Each known scope's shared (level, settled-at seconds)."""
    wanted = sorted(scopes)
    if not wanted:
        return {}
    stmt = select(rate_buckets).where(rate_buckets.c.scope.in_(wanted))
    with engine.connect() as conn:
        return {r.scope: (r.level, r.updated_at / _MICROS) for r in conn.execute(stmt)}


_UPDATE = (
    update(rate_buckets)
    .where(rate_buckets.c.scope == bindparam("s"))
    .values(level=bindparam("l"), updated_at=bindparam("u"))
)


def settle(
    engine: Engine, spent: list[tuple[str, Rule, int]], now: float
) -> dict[str, tuple[float, float]]:
    """Refill each scope's shared bucket up to `now` and take what this process admitted, in
    one transaction; rows are locked in scope order so concurrent settlements never deadlock."""
    if not spent:
        return {}
    spent = sorted(spent, key=lambda item: item[0])
    at = int(now * _MICROS)
    out: dict[str, tuple[float, float]] = {}
    with write_transaction(engine) as conn:
        conn.execute(
            insert_ignore(rate_buckets, conn),
            [{"scope": s, "level": rule.burst, "updated_at": at} for s, rule, _n in spent],
        )
        stmt = (
            select(rate_buckets)
            .where(rate_buckets.c.scope.in_([s for s, _r, _n in spent]))
            .order_by(rate_buckets.c.scope)
            .with_for_update()
        )
        rows = {r.scope: r for r in conn.execute(stmt)}
        updates = []
        for scope, rule, taken in spent:
            row = rows[scope]
            level = rule.refill(row.level, (at - row.updated_at) / _MICROS) - taken
            settled = max(at, row.updated_at)
            updates.append({"s": scope, "l": level, "u": settled})
            out[scope] = (level, settled / _MICROS)
        conn.execute(_UPDATE, updates)
    return out
