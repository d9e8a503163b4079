"""Live log tails wait here for their run to change: woken by PostgreSQL notifications, or, on
SQLite (or while the notification channel is down), after a short poll interval."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Engine

from jobtrail.store.notify import Listener, can_notify, run_key

POLL = 0.5  # seconds between looks for new output where nothing notifies
SAFETY_NET = 30.0  # seconds: a tail looks anyway, however quiet the channel


class LiveTails:
    def __init__(self, engine: Engine) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener = Listener(engine, self._from_thread) if can_notify(engine) else None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        if self._listener is not None:
            self._listener.start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()

    @contextmanager
    def watch(self, org_id: str, run_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the run changes: clear it before reading, then `wait` on it,
        and a change that lands in between is not missed."""
        key, changed = run_key(org_id, run_id), asyncio.Event()
        self._waiters.setdefault(key, set()).add(changed)
        try:
            yield changed
        finally:
            waiting = self._waiters[key]
            waiting.discard(changed)
            if not waiting:
                del self._waiters[key]

    async def wait(self, changed: asyncio.Event) -> None:
        """Until the run changed, or the poll interval passed where nothing would tell."""
        notified = self._listener is not None and self._listener.listening.is_set()
        with suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), SAFETY_NET if notified else POLL)

    def _from_thread(self, payload: str | None) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake, payload)

    def _wake(self, payload: str | None) -> None:
        """Wake the tails of one run, or all of them (None: notifications may have been lost)."""
        groups = self._waiters.values() if payload is None else [self._waiters.get(payload, set())]
        for waiting in groups:
            for changed in waiting:
                changed.set()
