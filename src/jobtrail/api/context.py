"""What a request handler needs from the process: the store, the settings, the signing secret,
and the per-process caches in front of the store (key validity, key usage, rate limits)."""

import threading
import time
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Engine

from jobtrail.api.live import LiveTails
from jobtrail.api.metrics import Metrics
from jobtrail.api.tokens import VerifiedTokens
from jobtrail.settings import Settings
from jobtrail.store import accounts
from jobtrail.store.group_commit import GroupCommitter
from jobtrail.store.ratelimit import Limiter


class KeyCache:
    """Remembers for a few seconds whether a key may still be used, so revocation takes effect
    within that time without a database read on every request."""

    def __init__(self, engine: Engine, ttl: float) -> None:
        self._engine = engine
        self._ttl = ttl
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, accounts.ApiKey | None]] = {}

    def usable(self, key_id: str) -> bool:
        key = self.get(key_id)
        return key is not None and key.usable(accounts.now_micros())

    def fresh(self, key_id: str) -> bool:
        """Whether `get` would answer from memory, without reading the store."""
        with self._lock:
            hit = self._seen.get(key_id)
        return hit is not None and time.monotonic() - hit[0] < self._ttl

    def get(self, key_id: str) -> accounts.ApiKey | None:
        """The key's record as read at most `ttl` seconds ago."""
        now = time.monotonic()
        with self._lock:
            hit = self._seen.get(key_id)
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        key = accounts.get_key(self._engine, key_id)
        with self._lock:
            self._seen[key_id] = (now, key)
        return key


class KeyUsage:
    """When keys were last used, kept to the minute without a write per request: bearer uses are
    noted in memory and written by the background task (`flush`), token exchanges at once; this
    process writes a key's row at most once a minute, and the store's conditional update keeps
    it so across processes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._written: dict[str, int] = {}  # key id → when this process last recorded a use
        self._pending: dict[str, int] = {}

    def note(self, key_id: str, at: int) -> None:
        with self._lock:
            if at - self._written.get(key_id, 0) >= accounts.USAGE_RESOLUTION:
                self._pending[key_id] = at

    def record(self, key_id: str, at: int) -> None:
        """Write now (a token exchange, already a store round trip) if not done this minute."""
        self.note(key_id, at)
        with self._lock:
            due = self._pending.pop(key_id, None)
            if due is not None:
                self._written[key_id] = due
        if due is not None:
            accounts.touch_key(self._engine, key_id, due)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._written.update(pending)
        items = sorted(pending.items())
        for done, (key_id, at) in enumerate(items):
            try:
                accounts.touch_key(self._engine, key_id, at)
            except Exception:
                self._put_back(items[done:])
                raise

    def _put_back(self, items: list[tuple[str, int]]) -> None:
        """Uses not written (the store was out of reach): the next flush writes them."""
        with self._lock:
            for key_id, at in items:
                self._written.pop(key_id, None)
                self._pending.setdefault(key_id, at)


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    secret: str
    keys: KeyCache = field(init=False)
    tokens: VerifiedTokens = field(init=False)
    live: LiveTails = field(init=False)
    metrics: Metrics = field(init=False)
    usage: KeyUsage = field(init=False)
    limiter: Limiter = field(init=False)
    committer: GroupCommitter = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyCache(self.engine, self.settings.key_cache_seconds)
        self.tokens = VerifiedTokens(self.secret)
        self.live = LiveTails(self.engine)
        self.metrics = Metrics(self.settings.metrics_org_label)
        self.usage = KeyUsage(self.engine)
        self.limiter = Limiter(self.engine, self.settings.rate_limits())
        self.committer = GroupCommitter(self.engine, 64 if self.settings.group_commit else 1)


async def get_context(request: Request) -> AppContext:
    """Async on purpose: FastAPI runs sync dependencies in a thread, a hop this one needs not."""
    ctx: AppContext = request.app.state.ctx
    return ctx
