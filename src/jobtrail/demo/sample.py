"""Realistic sample runs as ingestion events (pure: the caller posts them through the API).

Several jobs and environments, runs every few hours over the last four days, DAGs of steps,
multi-line stdout, failures with an error in stderr, and one run still RUNNING."""

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from jobtrail.wire.events import build_event
from jobtrail.wire.shapes import Kind

_DBT_OUT = """Running with dbt=1.8.7
Registered adapter: snowflake=1.8.3
Found {models} models, {tests} data tests, 4 sources, 0 exposures, 612 macros

Concurrency: 8 threads (target='prod')

{lines}
Finished running {models} table models in 0 hours {mins} minutes and {secs} seconds.
"""

_DBT_ERR = """Database Error in model {model} (models/{model}.sql)
  002003 (42S02): SQL compilation error:
  Object 'ANALYTICS.ATOMIC.EVENTS_STAGED' does not exist or not authorized.
  compiled Code at target/run/snowplow_web/models/{model}.sql
"""


@dataclass(frozen=True)
class JobShape:
    name: str
    environment: str
    every_hours: int
    steps: tuple[tuple[str, tuple[str, ...]], ...]
    failure_rate: float


JOBS = (
    JobShape(
        "webmodel",
        "com.acme-prod1",
        3,
        (("git-clone-cache", ()), ("run-dbt", ("git-clone-cache",))),
        0.12,
    ),
    JobShape(
        "webmodel",
        "com.acme-qa1",
        6,
        (("git-clone-cache", ()), ("run-dbt", ("git-clone-cache",))),
        0.3,
    ),
    JobShape(
        "orders-daily",
        "com.acme-prod1",
        8,
        (
            ("extract-orders", ()),
            ("extract-customers", ()),
            ("transform", ("extract-orders", "extract-customers")),
            ("data-tests", ("transform",)),
            ("publish", ("data-tests",)),
        ),
        0.15,
    ),
    JobShape(
        "marketing-attribution",
        "com.acme-eu",
        12,
        (("git-clone-cache", ()), ("run-dbt", ("git-clone-cache",)), ("notify", ("run-dbt",))),
        0.1,
    ),
)


class _Builder:
    def __init__(self, job: JobShape, run_key: str) -> None:
        self.job = job
        self.run_key = run_key
        self.events: list[dict[str, Any]] = []
        self.seq: dict[tuple[str, str], int] = {}

    def _add(self, kind: Kind, at: datetime, **fields: Any) -> None:
        n = len(self.events)
        event = build_event(
            kind,
            at,
            job=self.job.name,
            environment=self.job.environment,
            run_key=self.run_key,
            event_id=f"demo-{self.job.name}-{self.job.environment}-{self.run_key}-{n}",
            **fields,
        )
        self.events.append(dict(event))

    def run(self, at: datetime, state: str) -> None:
        self._add("run", at, state=state)

    def step(self, at: datetime, name: str, state: str, **extra: Any) -> None:
        deps = list(dict(self.job.steps)[name])
        self._add("step", at, step={"name": name, "dependencies": deps}, state=state, **extra)

    def log(self, at: datetime, name: str, stream: str, text: str) -> None:
        seq = self.seq.get((name, stream), 0)
        self.seq[(name, stream)] = seq + 1
        self._add("log", at, step=name, stream=stream, data=text, seq=seq)


def _stdout(name: str, rnd: random.Random) -> str:
    if "dbt" in name or name == "transform":
        models = rnd.randint(12, 40)
        lines = "\n".join(
            f"{i + 1} of {models} OK created sql table model derived.model_{i:02d} "
            f"[SUCCESS 1 in {rnd.uniform(0.5, 30):.2f}s]"
            for i in range(models)
        )
        return _DBT_OUT.format(
            models=models,
            tests=models * 2,
            lines=lines,
            mins=rnd.randint(1, 9),
            secs=rnd.randint(0, 59),
        )
    return "".join(
        f"[{name}] {verb} batch {i} ... ok\n"
        for i, verb in enumerate(
            rnd.choices(["fetching", "writing", "checking"], k=rnd.randint(3, 12))
        )
    )


def _one_run(
    job: JobShape, start: datetime, now: datetime, rnd: random.Random
) -> list[dict[str, Any]]:
    b = _Builder(job, start.strftime("%Y%m%dT%H%M"))
    b.run(start, "PENDING")
    b.run(start + timedelta(seconds=2), "RUNNING")
    t = start + timedelta(seconds=3)
    failed_at = rnd.randrange(len(job.steps)) if rnd.random() < job.failure_rate else None
    running_now = False
    for i, (name, _deps) in enumerate(job.steps):
        if failed_at is not None and i > failed_at:
            b.step(t, name, "SKIPPED", message="an upstream step failed")
            continue
        b.step(t, name, "RUNNING", attempt=1)
        took = timedelta(seconds=rnd.randint(5, 300))
        if t + took > now:
            b.log(t + timedelta(seconds=1), name, "stdout", _stdout(name, rnd)[:400])
            running_now = True
            break
        b.log(t + took / 2, name, "stdout", _stdout(name, rnd))
        t += took
        if i == failed_at:
            model = f"derived.model_{rnd.randint(0, 11):02d}"
            b.log(t, name, "stderr", _DBT_ERR.format(model=model))
            b.step(
                t, name, "FAILED", attempt=1, exitCode=2, message=f"Database Error in model {model}"
            )
        else:
            b.step(t, name, "SUCCEEDED", attempt=1, exitCode=0)
    if not running_now:
        b.run(t + timedelta(seconds=1), "FAILED" if failed_at is not None else "SUCCEEDED")
    return b.events


def sample_events(now: datetime, days: float = 4, seed: int = 7) -> list[dict[str, Any]]:
    """Events for every job's runs over the last `days`, the newest still running."""
    rnd = random.Random(seed)
    events: list[dict[str, Any]] = []
    for job in JOBS:
        first = now - timedelta(days=days)
        start = first.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        while start < now:
            events.extend(_one_run(job, start, now, rnd))
            start += timedelta(hours=job.every_hours)
    # One run that is certainly in progress when the demo starts.
    # (five steps of at least 5 s each cannot all have ended 20 s after the start).
    steady = replace(JOBS[2], failure_rate=0.0)
    events.extend(_one_run(steady, now - timedelta(seconds=20), now, rnd))
    return events
