"""The worker: a loop over periodic tasks, each guarded by a lease in the store, so any number
of workers (threads in `serve` processes, or `jobtrail worker`) on one store share the work
without doubling it. Time comes from an injected clock, so tests drive it instead of sleeping."""

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from jobtrail.settings import Settings
from jobtrail.store import leases, partitions, retention
from jobtrail.store.dialect import is_unavailable
from jobtrail.worker.alerting import Alerting
from jobtrail.worker.config import load_config

log = logging.getLogger("jobtrail.worker")

Clock = Callable[[], int]  # microseconds since the epoch
TaskFn = Callable[[Engine, int], int]  # (store, now) → how much work was done


@dataclass(frozen=True)
class Task:
    name: str
    every: timedelta
    run: TaskFn
    leased: bool = True  # one worker per round; False: every worker (work claimed per row)
    settle: Callable[[], None] | None = None  # waits for work the task left running


def retention_task(settings: Settings) -> Task:
    """Prune runs whose last event is outside the kept time bounds (moved here from the API
    app): older than the retention, or too far in the future."""

    def prune(engine: Engine, now: int) -> int:
        kept = settings.time_bounds(now)
        return retention.prune(engine, kept.earliest, kept.latest)

    return Task("retention", settings.prune_interval, prune)


PARTITIONS_AHEAD = timedelta(days=3)


def partitions_task(settings: Settings) -> Task:
    """Create the daily partitions (PostgreSQL) of every day ingestion may write to, from the
    retention's start to a few days ahead, so rows seldom land in the default partition."""

    def ensure(engine: Engine, now: int) -> int:
        return partitions.ensure(engine, now, settings.retention, PARTITIONS_AHEAD)

    return Task("partitions", settings.prune_interval, ensure)


def default_tasks(settings: Settings) -> list[Task]:
    alerting = Alerting(load_config(settings.alerts_config), settings.public_url)
    poll = timedelta(seconds=settings.worker_poll)
    return [
        partitions_task(settings),
        retention_task(settings),
        Task("alerts-evaluate", settings.alerts_interval, alerting.evaluate),
        Task("alerts-deliver", poll, alerting.deliver, leased=False, settle=alerting.wait),
    ]


@dataclass
class Worker:
    engine: Engine
    tasks: list[Task]
    clock: Clock
    poll: float = 1.0
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    _stop: threading.Event = field(default_factory=threading.Event)

    def run_once(self, *, force: bool = False) -> dict[str, int]:
        """One round: each task whose lease is free (or every task, with `force`) runs once."""
        done: dict[str, int] = {}
        for task in self.tasks:
            now = self.clock()
            every = int(task.every.total_seconds() * 1_000_000)
            try:  # the lease's claim meets an outage as the task would: the loop lives on
                if (
                    task.leased
                    and not force
                    and not leases.claim(self.engine, task.name, self.holder, now, every)
                ):
                    continue
                done[task.name] = task.run(self.engine, now)
            except DBAPIError as exc:
                if not is_unavailable(exc):
                    log.exception("worker: %s failed; it runs again next round", task.name)
                else:  # an outage, not a bug: no traceback in the log every round
                    log.warning("worker: %s: the store is unreachable (%s)", task.name, exc.orig)
            except Exception:  # one failing task never stops the others or the loop
                log.exception("worker: %s failed; it runs again next round", task.name)
        return done

    def run_forever(self) -> None:
        while not self._stop.is_set():
            for name, count in self.run_once().items():
                if count:
                    log.info("worker: %s did %d", name, count)
            self._stop.wait(self.poll)
        self.settle()

    def settle(self) -> None:
        """Wait for the work the tasks started (sends in flight)."""
        for task in self.tasks:
            if task.settle is not None:
                task.settle()

    def stop(self) -> None:
        """Finish the round in progress, then return from `run_forever`."""
        self._stop.set()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="jobtrail-worker", daemon=True)
        thread.start()
        return thread
