"""Group commit: concurrent small writes share one transaction and one fsync.

A single committer thread takes every piece of work waiting at that moment, runs each in its
own savepoint of one transaction and commits once; each caller gets its own outcome. A piece
that fails inside the group (a conflict with another writer, a bad row) is rolled back to its
savepoint and then committed alone, so it never fails the others, and a caller still hears
back only after its writes are durably committed."""

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from jobtrail.store.dialect import is_retryable, write_transaction
from jobtrail.store.ingest import backoff
from jobtrail.store.partitions import lock_all

T = TypeVar("T")
Work = Callable[[Connection], Any]
log = logging.getLogger("jobtrail.store")

_MAX_GROUP = 64
_SOLO_ATTEMPTS = 5  # a concurrent writer won a race (deadlock, unique key): retry after it


@dataclass
class _Item:
    work: Work
    future: "Future[Any]"
    locks: Sequence[int] = ()  # the event key lock buckets the work takes (partitions)


class GroupCommitter:
    def __init__(self, engine: Engine, max_group: int = _MAX_GROUP) -> None:
        self._engine = engine
        self._max = max_group
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, work: Callable[[Connection], T], locks: Sequence[int] = ()) -> "Future[T]":
        """Queue `work` (run inside a transaction the committer owns); the future resolves once
        its writes are committed, or with the error the work raised when committed alone.
        `locks`: the event key lock buckets the work will take (`Prepared.locks`),
        which a group takes for all its pieces at once, first."""
        self._start()
        future: Future[T] = Future()
        self._queue.put(_Item(work, future, locks))
        return future

    def run(self, work: Callable[[Connection], T]) -> T:
        return self.submit(work).result()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while self._commit_next():
            pass

    def _commit_next(self) -> bool:
        """Wait for work, commit all that is waiting then; False once closed. A call of its
        own, so the group (its batches' rows, a few MB) goes when it is committed rather than
        staying alive in the loop's variables until the next write arrives."""
        first = self._queue.get()
        if first is None:
            return False
        group = [first]
        while len(group) < self._max:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._commit(group)
                return False
            group.append(item)
        self._commit(group)
        return True

    def _commit(self, group: list[_Item]) -> None:
        if len(group) == 1:
            self._solo(group[0])
            return
        done: list[tuple[_Item, Any]] = []
        alone: list[_Item] = []
        try:
            with write_transaction(self._engine) as conn:
                lock_all(conn, [b for item in group for b in item.locks])
                for item in group:
                    savepoint = conn.begin_nested()
                    try:
                        result = item.work(conn)
                    except Exception:
                        savepoint.rollback()
                        alone.append(item)
                    else:
                        savepoint.commit()
                        done.append((item, result))
        except Exception:
            log.exception("group commit failed; committing its %d writes one by one", len(group))
            alone = group
            done = []
        for item, result in done:
            item.future.set_result(result)
        for item in alone:
            self._solo(item)

    def _solo(self, item: _Item) -> None:
        for attempt in range(_SOLO_ATTEMPTS):
            try:
                with write_transaction(self._engine) as conn:
                    result = item.work(conn)
            except DBAPIError as exc:
                if attempt == _SOLO_ATTEMPTS - 1 or not is_retryable(exc):
                    item.future.set_exception(exc)
                    return
                backoff(attempt)
            except Exception as exc:
                item.future.set_exception(exc)
                return
            else:
                item.future.set_result(result)
                return
