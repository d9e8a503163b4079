"""`jobtrail agent JOBS_DIR`: runs every job spec in a folder on its cron schedule.

Each run is a `jobtrail run` subprocess, so a crashing job cannot take the agent down and a run
is killed cleanly as a whole; a job never runs twice at once (a tick that finds it running is
logged and skipped); specs are re-read on every scan, so added, changed and removed files are
picked up; SIGTERM/SIGINT cancel the running jobs (they report CANCELLED) and stop the agent."""

import contextlib
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from croniter import croniter

from jobtrail.runner.catalog import definition_payload
from jobtrail.runner.spec import JobSpec, SpecError, load_spec

log = logging.getLogger("jobtrail.agent")

Clock = Callable[[], datetime]


@dataclass
class _Job:
    path: Path
    spec: JobSpec
    mtime: float
    next_at: datetime
    process: subprocess.Popen[bytes] | None = None


@dataclass
class Agent:
    folder: Path
    run_args: list[str]  # passed to `jobtrail run` (server or store, parallelism, spool)
    clock: Clock = field(default=lambda: datetime.now(UTC))
    scan_interval: float = 1.0
    jobs: dict[Path, _Job] = field(default_factory=dict)
    broken: dict[Path, float] = field(default_factory=dict)
    after_tick: Callable[[], None] | None = None  # e.g. deliver spools left by ended runs
    run_at_start: bool = False  # run each job once when first seen, then on its schedule
    # Told the definitions of new and changed specs, and of removed ones as unscheduled.
    on_definitions: Callable[[list[dict[str, Any]]], None] | None = None
    output: Path | None = None  # where the runs' output goes (default: the agent's own)
    _stop: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self._stop.set()

    def run_forever(self) -> None:
        while not self._stop.is_set():
            self.tick()
            if self.after_tick is not None:
                self.after_tick()
            self._stop.wait(self.scan_interval)
        self.shutdown()

    def tick(self) -> None:
        """One pass: reload specs, reap finished runs, start the runs that are due."""
        self._scan()
        now = self.clock()
        for job in self.jobs.values():
            self._reap(job)
            if now < job.next_at:
                continue
            assert job.spec.schedule is not None
            job.next_at = croniter(job.spec.schedule, now).get_next(datetime)
            if job.process is not None:
                log.warning("%s: still running, this tick is skipped", job.spec.job)
                continue
            job.process = self._start(job)
            log.info("%s: started (pid %d)", job.spec.job, job.process.pid)

    def _start(self, job: _Job) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "jobtrail.cli", "run", str(job.path), *self.run_args]
        if self.output is None:
            return subprocess.Popen(cmd)
        with self.output.open("ab") as out:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)

    def _reap(self, job: _Job) -> None:
        if job.process is not None and job.process.poll() is not None:
            log.info("%s: finished with exit code %d", job.spec.job, job.process.returncode)
            job.process = None

    def _scan(self) -> None:
        paths = {p.resolve() for pattern in ("*.yaml", "*.yml") for p in self.folder.glob(pattern)}
        changed: list[dict[str, Any]] = []
        for gone in set(self.jobs) - paths:
            log.info("%s: spec removed", gone)
            retired = self.jobs.pop(gone)
            self._retire(retired)
            changed.append(definition_payload(retired.spec, scheduled=False))
        for path in sorted(paths):
            mtime = path.stat().st_mtime
            known = self.jobs.get(path)
            if (known and known.mtime == mtime) or self.broken.get(path) == mtime:
                continue
            self._load(path, mtime, known)
            if path in self.jobs:
                changed.append(definition_payload(self.jobs[path].spec))
        if changed and self.on_definitions is not None:
            self.on_definitions(changed)

    def _load(self, path: Path, mtime: float, known: _Job | None) -> None:
        try:
            spec = load_spec(path)
            if spec.schedule is None:
                raise SpecError(str(path), [f"{path}: schedule: the agent needs a cron schedule"])
        except SpecError as exc:
            self.broken[path] = mtime
            for problem in exc.problems:
                log.error("%s", problem)
            if known:
                self._retire(self.jobs.pop(path))
            return
        self.broken.pop(path, None)
        now = self.clock()
        first = self.run_at_start and known is None
        next_at = now if first else croniter(spec.schedule, now).get_next(datetime)
        process = known.process if known else None
        self.jobs[path] = _Job(path, spec, mtime, next_at, process)
        log.info("%s: scheduled %r, next run at %s", spec.job, spec.schedule, next_at.isoformat())

    @staticmethod
    def _retire(job: _Job) -> None:
        if job.process is not None and job.process.poll() is None:
            job.process.send_signal(signal.SIGTERM)

    def shutdown(self, timeout: float = 30, grace: float = 5) -> None:
        """Cancel running jobs (each reports CANCELLED) and wait up to `timeout` for them to
        deliver; then a second SIGTERM tells each to stop waiting and spool what is left, and
        only a run that still has not ended after `grace` is killed."""
        running = [j.process for j in self.jobs.values() if j.process and j.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        running = _wait_all(running, timeout)
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in _wait_all(running, grace):
            log.error("run pid %d did not stop; killed", process.pid)
            process.kill()
            process.wait()


def _wait_all(
    processes: list[subprocess.Popen[bytes]], timeout: float
) -> list[subprocess.Popen[bytes]]:
    """Wait for all of them, `timeout` seconds at most in all; those still running."""
    deadline = time.monotonic() + timeout
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(0.0, deadline - time.monotonic()))
    return [p for p in processes if p.poll() is None]
