"""Background delivery of a run's events, in order. While the destination answers, batches go
straight to it; once it fails, every event goes through the durable spool until the spool is
drained again, so the order holds and nothing is lost however long the outage."""

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobtrail.runner.sinks import BatchRefused, RetryLater, Sink
from jobtrail.runner.spool import Spool, spools_in

log = logging.getLogger("jobtrail.runner")

MAX_EVENTS = 1000
MAX_BYTES = 1024 * 1024  # per request: small enough to keep the runner lean
LINGER = 0.2  # how long an idle loop waits before checking the spool again
BATCH_WINDOW = 0.1  # how long a batch waits for more events after its first
MAX_BACKOFF = 10.0
MAX_RETRY_AFTER = 120.0  # the longest wait a server's `Retry-After` can impose
ABORT_GRACE = 1.0  # how long `close` waits for a request in flight once it gives up
MAX_PENDING = 2 * 1024 * 1024  # queued bytes before the steps' pumps pause (`emit` waits at 2x)


def _size(event: dict[str, Any]) -> int:
    return len(event.get("data") or "") + 400


class Delivery:
    def __init__(
        self, sink: Sink, spool: Spool | None, wait: Callable[[float], object] | None = None
    ) -> None:
        """`wait` pauses between attempts (by default until `close` gives up): tests inject
        one to see the pauses without sleeping through them."""
        self._sink = sink
        self._spool = spool
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()  # None: the end
        self._ended = False
        self._abort = threading.Event()
        self._hurried = threading.Event()
        self._held: list[dict[str, Any]] = []  # a failed batch when there is no spool
        self._inflight: list[dict[str, Any]] = []  # the batch being sent right now
        self._pending = 0
        self._room = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="jobtrail-delivery", daemon=True)
        self._pause = wait or self._abort.wait
        self._told: float | None = None  # the Retry-After of the last failure, if any

    def start(self) -> "Delivery":
        self._thread.start()
        return self

    def _full(self, limit: int) -> bool:
        """More than `limit` bytes wait, and the loop is still there to take them."""
        return self._pending > limit and self._thread.is_alive() and not self._abort.is_set()

    def has_room(self) -> bool:
        """Whether more output may come now: the runner's pumps pause while this is False, which
        slows each step down to what the destination (or the spool) takes."""
        return not self._full(MAX_PENDING)

    def emit(self, event: dict[str, Any]) -> None:
        """Queue an event. Only a producer that ignores `has_room` ever waits here (at twice the
        limit), so memory stays bounded whoever emits."""
        size = _size(event)
        with self._room:
            while self._full(2 * MAX_PENDING):
                self._room.wait(0.5)
            self._pending += size
        self._queue.put(event)

    def _taken(self, events: list[dict[str, Any]]) -> None:
        with self._room:
            self._pending -= sum(_size(e) for e in events)
            self._room.notify_all()

    def hurry(self) -> None:
        """Stop waiting for the destination (Ctrl+C while `close` waits): the rest is spooled."""
        self._hurried.set()

    def close(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds (or until `hurry`) for delivery; spool what is left.
        True when all went."""
        self._queue.put(None)  # wakes the loop at once instead of after its linger
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and not self._hurried.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._thread.join(min(remaining, 0.1))
        if self._thread.is_alive():
            self._abort.set()
            self._thread.join(ABORT_GRACE)
        # A request still hanging: its batch is spooled too (a later delivery of events that
        # did arrive is harmless, eventIds make it idempotent; losing them would not be).
        inflight = self._inflight if self._thread.is_alive() else []
        leftover = inflight + self._held + self._drain_all()
        if leftover and self._spool is not None:
            self._spool.append(leftover)
        elif leftover:
            log.error("%d events could not be delivered and there is no spool", len(leftover))
        if not self._thread.is_alive():
            self._sink.close()
        return not leftover and not (self._spool is not None and self._spool.pending())

    def _drain_all(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        while batch := self._drain_queue(10**9):
            events += batch
        return events

    def _drain_queue(self, limit: int, until: float = 0.0) -> list[dict[str, Any]]:
        """Up to `limit` bytes of queued events, waiting for more until the monotonic time
        `until` (by default, not at all); stops at the end marker."""
        batch: list[dict[str, Any]] = []
        size = 0
        while len(batch) < MAX_EVENTS and size < limit:
            wait = until - time.monotonic()
            try:
                event = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if event is None:
                self._ended = True
                break
            batch.append(event)
            size += _size(event)
        return batch

    def _take(self) -> list[dict[str, Any]]:
        """The next batch: what arrives within BATCH_WINDOW of its first event, so a burst of
        state changes goes in one request, not one request each."""
        if self._ended:
            return []
        try:
            first = self._queue.get(timeout=LINGER)
        except queue.Empty:
            return []
        if first is None:
            self._ended = True
            return []
        until = time.monotonic() + BATCH_WINDOW
        batch = [first, *self._drain_queue(MAX_BYTES - _size(first), until)]
        self._taken(batch)
        return batch

    def _wait(self, seconds: float) -> None:
        self._pause(seconds)

    def _failed(self, exc: RetryLater) -> None:
        self._told = exc.retry_after

    def _loop(self) -> None:
        backoff = 0.25
        while not self._abort.is_set():
            batch = self._held or self._take()
            self._held = []
            spooling = self._spool is not None and self._spool.pending()
            if not batch and not spooling:
                if self._ended:
                    return
                continue
            self._inflight = batch
            ok = self._through_spool(batch) if spooling else self._direct(batch)
            self._inflight = []
            if ok:
                backoff = 0.25
                continue
            told, self._told = self._told, None
            # The server's Retry-After when it gave one (a rate limit, an outage it knows the
            # length of; never a busy loop on `0`), else our own exponential backoff.
            self._wait(backoff if told is None else min(max(told, LINGER), MAX_RETRY_AFTER))
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _direct(self, batch: list[dict[str, Any]]) -> bool:
        try:
            _send(self._sink, batch)
            return True
        except RetryLater as exc:
            self._failed(exc)
            log.warning("delivery failed (%s); spooling", exc)
            if self._spool is not None:
                self._spool.append(batch)
            else:
                self._held = batch
            return False

    def _through_spool(self, batch: list[dict[str, Any]]) -> bool:
        assert self._spool is not None
        self._spool.append(batch)
        try:
            drained = _drain(self._spool, self._sink, writer_gone=False, stop=self._abort.is_set)
            return drained is not None
        except RetryLater as exc:
            self._failed(exc)
            log.warning("delivery still failing (%s)", exc)
            return False


def _send(sink: Sink, events: list[dict[str, Any]]) -> int:
    """Send a batch: the number of events the destination took. A batch it refuses for good is
    logged and passed over, since retrying cannot help; RetryLater when it is unreachable."""
    if not events:
        return 0
    try:
        sink.deliver(events)
    except BatchRefused as exc:
        log.error("events refused, dropped: %s", exc)
        return 0
    return len(events)


def _drain(
    spool: Spool, sink: Sink, *, writer_gone: bool, stop: Callable[[], bool] = lambda: False
) -> int | None:
    """Send a spool's undelivered events in order, committing after each batch, and remove it
    once all went: the number of events taken, or None when `stop` cut it short."""
    sent = 0
    for events, offset in spool.batches(MAX_EVENTS, MAX_BYTES, writer_gone=writer_gone):
        sent += _send(sink, events)
        spool.commit(offset)
        if stop():
            return None
    spool.remove_if_delivered()
    return sent


def flush_spool(spool: Spool, sink: Sink) -> int | None:
    """Deliver what a spool holds (`jobtrail flush`, the agent): the number of events sent, or
    None when a live run holds the spool and delivers it itself."""
    if not spool.claim():
        return None
    try:
        return _drain(spool, sink, writer_gone=True)
    finally:
        spool.release()


class SpoolSweeper:
    """The agent's after-tick hook: deliver the spools of runs that have ended (left by an
    outage), in a thread of its own so an unreachable server never holds up the schedule."""

    def __init__(self, folder: Path, make_sink: Callable[[], Sink]) -> None:
        self._folder = folder
        self._make_sink = make_sink
        self._thread: threading.Thread | None = None

    def __call__(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        if not spools_in(self._folder):
            return
        self._thread = threading.Thread(target=self._sweep, name="jobtrail-spools", daemon=True)
        self._thread.start()

    def _sweep(self) -> None:
        sink = self._make_sink()
        try:
            for spool in spools_in(self._folder):
                sent = flush_spool(spool, sink)  # None: a live run delivers it itself
                if sent:
                    log.info("delivered %d spooled events from %s", sent, spool.path.name)
        except RetryLater:
            pass  # still unreachable: a later tick tries again
        finally:
            sink.close()
