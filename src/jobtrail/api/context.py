"""What a request handler needs from the process: the store, the settings, the signing secret."""

import threading
import time
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Engine

from jobtrail.api.live import LiveTails
from jobtrail.api.metrics import Metrics
from jobtrail.settings import Settings
from jobtrail.store import accounts
from jobtrail.store.group_commit import GroupCommitter


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


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    secret: str
    keys: KeyCache = field(init=False)
    live: LiveTails = field(init=False)
    metrics: Metrics = field(init=False)
    committer: GroupCommitter = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyCache(self.engine, self.settings.key_cache_seconds)
        self.live = LiveTails(self.engine)
        self.metrics = Metrics(self.settings.metrics_org_label)
        self.committer = GroupCommitter(self.engine, 64 if self.settings.group_commit else 1)


async def get_context(request: Request) -> AppContext:
    """Async on purpose: FastAPI runs sync dependencies in a thread, a hop this one needs not."""
    ctx: AppContext = request.app.state.ctx
    return ctx
