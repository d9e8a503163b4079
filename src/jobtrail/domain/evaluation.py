"""Alert evaluation (SPEC §7) as one pure function over a snapshot: the time, each job's
definition with its settings, its recent runs → the condition instances that hold now.

Each instance carries an idempotency key naming exactly what it is about (the failed run, the
missed tick), so evaluating again — the next round, another worker, after a crash — yields the
same key, and the store raises each instance once."""

import hashlib
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import croniter

from jobtrail.domain.alert_settings import AlertSettings
from jobtrail.domain.timefmt import format_ts, to_micros

AUTO_FACTOR = 3.0  # stuck_after: auto = this times the p95 of recent successful durations
SLOW_FACTOR = 3.0  # too_slow default: this times the median of recent successful durations
MIN_HISTORY = 5  # successful runs needed before `auto` and too_slow judge anything
EARLY = 60_000_000  # a run may start this much before its tick (clock skew) and still count
_US = 1_000_000
# Backfill after the worker was down: the ticks whose deadline passed since the previous round
# are all judged, at most this many per job and this far back (inside the runs' lookback).
BACKFILL_TICKS = 48
BACKFILL_SPAN = 24 * 3600 * _US


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    state: str
    start: int | None  # µs since the epoch
    end: int | None
    failed_step: str | None = None
    failed_step_owners: tuple[str, ...] = ()  # the failed step's own (a dbt node's meta.owner)

    @property
    def duration(self) -> int | None:
        return None if self.start is None or self.end is None else self.end - self.start


@dataclass(frozen=True)
class JobSnapshot:
    org_id: str
    job_name: str
    environment: str
    settings: AlertSettings  # already merged over the organization's defaults
    runs: list[RunFacts]  # recent runs, any order
    schedule: str | None = None
    timezone: str = "UTC"
    first_seen: int = 0  # ticks before the definition was first reported are not judged
    open_since: int | None = None  # when the oldest open alert of this job was raised
    history: list[int] = field(default_factory=list)  # recent successful durations (µs)


@dataclass(frozen=True)
class Condition:
    org_id: str
    job_name: str
    environment: str
    condition: str
    key: str  # the idempotency key of this instance
    run_id: str | None = None
    scheduled_at: int | None = None  # for late, missed, too_often: the tick concerned
    detail: str = ""


def evaluate(now: int, jobs: list[JobSnapshot], since: int | None = None) -> list[Condition]:
    """Every condition instance that holds at `now`, filtered by each job's `on` list.

    `since`: when the previous round ran. Every scheduled tick whose deadline (tick + grace)
    passed after it is judged, so ticks that went by while no worker ran are not skipped; the
    latest tick whose deadline passed is judged in any case."""
    found: list[Condition] = []
    for job in jobs:
        wanted = set(job.settings.on or ())
        found += [c for c in _job_conditions(now, job, since) if c.condition in wanted]
    return found


def _job_conditions(now: int, job: JobSnapshot, since: int | None) -> Iterator[Condition]:
    yield from _run_conditions(now, job)
    if job.schedule:
        yield from _schedule_conditions(now, job, since)
    recovered = _recovered(job)
    if recovered is not None:
        yield recovered


def _make(
    job: JobSnapshot,
    condition: str,
    about: str,
    *,
    detail: str,
    run_id: str | None = None,
    scheduled_at: int | None = None,
) -> Condition:
    parts = (job.org_id, job.environment, job.job_name, condition, about)
    key = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]  # header-safe
    return Condition(
        job.org_id, job.job_name, job.environment, condition, key, run_id, scheduled_at, detail
    )


def _run_conditions(now: int, job: JobSnapshot) -> Iterator[Condition]:
    # The p95 behind `auto` is a third of a round's evaluation time: only for a running job.
    stuck = _stuck_limit(job) if any(r.state == "RUNNING" for r in job.runs) else None
    slow = _slow_limit(job)
    minimum = job.settings.min_duration
    for run in job.runs:
        if run.state in ("FAILED", "CANCELLED"):
            detail = f"step {run.failed_step} failed" if run.failed_step else run.state.lower()
            yield _make(job, run.state.lower(), run.run_id, run_id=run.run_id, detail=detail)
        elif run.state == "RUNNING" and stuck is not None and run.start is not None:
            if now - run.start > stuck:
                detail = f"running for {_human(now - run.start)}, limit {_human(stuck)}"
                yield _make(job, "stuck", run.run_id, run_id=run.run_id, detail=detail)
        elif run.state == "SUCCEEDED" and run.duration is not None:
            if minimum is not None and run.duration < minimum.total_seconds() * _US:
                limit = int(minimum.total_seconds() * _US)
                detail = f"took {_human(run.duration)}, minimum {_human(limit)}"
                yield _make(job, "too_short", run.run_id, run_id=run.run_id, detail=detail)
            if slow is not None and run.duration > slow:
                detail = f"took {_human(run.duration)}, usual limit {_human(slow)}"
                yield _make(job, "too_slow", run.run_id, run_id=run.run_id, detail=detail)


def _stuck_limit(job: JobSnapshot) -> int | None:
    setting = job.settings.stuck_after
    if isinstance(setting, timedelta):
        return int(setting.total_seconds() * _US)
    if setting == "auto" and len(job.history) >= MIN_HISTORY:
        p95 = statistics.quantiles(job.history, n=20, method="inclusive")[-1]
        return int(AUTO_FACTOR * p95)
    return None


def _slow_limit(job: JobSnapshot) -> int | None:
    if len(job.history) < MIN_HISTORY:
        return None
    factor = job.settings.slow_factor or SLOW_FACTOR
    return int(factor * statistics.median(job.history))


def _recovered(job: JobSnapshot) -> Condition | None:
    """The newest ended run succeeded after an alert was raised: the job is well again."""
    if job.open_since is None:
        return None
    ended = [r for r in job.runs if r.end is not None and r.state != "RUNNING"]
    if not ended:
        return None
    last = max(ended, key=lambda r: r.end or 0)
    if last.state != "SUCCEEDED" or (last.end or 0) <= job.open_since:
        return None
    return _make(job, "recovered", last.run_id, run_id=last.run_id, detail="succeeded again")


def _schedule_conditions(now: int, job: JobSnapshot, since: int | None) -> Iterator[Condition]:
    """For each judged tick: late when no run started within the grace after it; missed when
    no run succeeded between the tick before it and it (plus grace); too often when more than
    one run started in that interval."""
    grace = int((job.settings.late_after or timedelta(0)).total_seconds() * _US)
    for tick in _judged_ticks(job, now, grace, since):
        if tick < job.first_seen:
            continue
        if not any(
            r.start is not None and tick - EARLY <= r.start <= tick + grace for r in job.runs
        ):
            detail = f"no run started within {_human(grace)} of {format_ts(tick)}"
            yield _make(job, "late", str(tick), scheduled_at=tick, detail=detail)
        yield from _period_conditions(job, _tick_before(job, tick - 1), tick, grace)


def _period_conditions(job: JobSnapshot, begin: int, end: int, grace: int) -> Iterator[Condition]:
    if begin < job.first_seen:
        return
    if not any(
        r.state == "SUCCEEDED" and r.end and begin - EARLY <= r.end <= end + grace for r in job.runs
    ):
        detail = f"no successful run for the run scheduled at {format_ts(begin)}"
        yield _make(job, "missed", str(begin), scheduled_at=begin, detail=detail)
    count = sum(
        1 for r in job.runs if r.start is not None and begin - EARLY <= r.start < end - EARLY
    )
    if count > 1:
        detail = f"{count} runs started between {format_ts(begin)} and {format_ts(end)}"
        yield _make(job, "too_often", str(begin), scheduled_at=begin, detail=detail)


def _judged_ticks(job: JobSnapshot, now: int, grace: int, since: int | None) -> list[int]:
    """The latest tick whose deadline (tick + grace) has passed at `now`, and every earlier one
    whose deadline passed after `since`, newest first, within the backfill bounds."""
    tick = _tick_before(job, now - grace)
    ticks = [tick]
    if since is None:
        return ticks
    lowest = max(since - grace, now - BACKFILL_SPAN, job.first_seen - 1)
    while len(ticks) < BACKFILL_TICKS:
        tick = _tick_before(job, tick - 1)
        if tick <= lowest:
            break
        ticks.append(tick)
    return ticks


def _tick_before(job: JobSnapshot, moment: int) -> int:
    """The latest scheduled time at or before `moment` (µs)."""
    assert job.schedule is not None
    return _previous_tick(job.schedule, job.timezone, moment)


@lru_cache(maxsize=4096)
def _previous_tick(schedule: str, timezone: str, moment: int) -> int:
    """Cached: in one round most jobs share a few schedules and the same moment, and croniter
    is most of a round's time without it."""
    local = _dt(moment).astimezone(ZoneInfo(timezone)) + timedelta(microseconds=1)
    previous: datetime = croniter(schedule, local).get_prev(datetime)
    return to_micros(previous)


def _dt(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _human(us: int) -> str:
    seconds = max(0, us // _US)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
