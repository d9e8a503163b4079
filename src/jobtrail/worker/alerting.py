"""The worker's alert tasks: evaluate (snapshot from the store → the pure evaluation → new
alerts recorded with their deliveries) and deliver (claim due deliveries, send each on a thread
of its own so a slow or dead channel never holds up the others, record the outcome with
backoff)."""

import logging
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from jobtrail.domain.alert_message import AlertContext, recipients, render
from jobtrail.domain.alert_settings import AlertSettings
from jobtrail.domain.evaluation import Condition, JobSnapshot, RunFacts, evaluate
from jobtrail.store import alerts, catalog, leases
from jobtrail.store.logs import StreamRef, read_tail_lines
from jobtrail.wire import paths
from jobtrail.worker.channels import SendFailed, send
from jobtrail.worker.config import AlertsConfig

log = logging.getLogger("jobtrail.worker")

LOOKBACK = int(timedelta(days=2).total_seconds() * 1_000_000)  # runs evaluation looks at
HISTORY = 20  # successful runs behind `auto` and too_slow
MAX_ATTEMPTS = 8
BACKOFF_BASE = 10_000_000  # µs; doubles per attempt
BACKOFF_MAX = 3600 * 1_000_000
SENDERS = 16  # sending threads per worker, shared by every channel
PER_CHANNEL = 4  # sends in flight per channel: a dead channel holds at most these threads
DRAIN = 30.0  # seconds a sending thread goes on with its channel's next due deliveries
CLAIM = 120 * 1_000_000  # a claim outlives any attempt; a crashed sender's claim then lapses
EVALUATED = "alerts-evaluated"  # when the last evaluation round completed (backfill from there)


def snapshot(
    engine: Engine, config: AlertsConfig, now: int, definitions: list[catalog.StoredDefinition]
) -> list[JobSnapshot]:
    """Every job with a definition or a recent run, with its settings and recent runs."""
    recent = alerts.recent_runs(engine, now - LOOKBACK)
    opened = alerts.open_since(engine)
    defined = {(d.org_id, d.definition.job_name, d.definition.environment): d for d in definitions}
    jobs: list[JobSnapshot] = []
    for key in sorted(set(recent) | set(defined)):
        org_id, name, environment = key
        stored = defined.get(key)
        own = stored.definition.alerts if stored else AlertSettings()
        runs = recent.get(key, [])
        scheduled = stored is not None and stored.definition.scheduled
        jobs.append(
            JobSnapshot(
                org_id, name, environment,
                settings=own.merged_over(config.defaults_for(org_id)),
                runs=runs,
                schedule=stored.definition.schedule if scheduled and stored else None,
                timezone=stored.definition.timezone if stored else "UTC",
                first_seen=stored.first_seen if stored else 0,
                open_since=opened.get(key),
                history=_history(runs),
            )
        )  # fmt: skip
    return jobs


def _history(runs: list[RunFacts]) -> list[int]:
    done = sorted(
        (r for r in runs if r.state == "SUCCEEDED" and r.duration is not None),
        key=lambda r: r.end or 0,
    )
    return [r.duration for r in done[-HISTORY:] if r.duration is not None]


@dataclass
class Alerting:
    """Both alert tasks of one worker, sharing its configuration and its sending threads."""

    config: AlertsConfig
    public_url: str | None = None
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(SENDERS, "alert-send")
    )
    in_flight: dict["Future[None]", str] = field(default_factory=dict)  # → its channel

    def evaluate(self, engine: Engine, now: int) -> int:
        """One round: raise what holds at `now`, including scheduled ticks that went by since
        the last completed round (the worker was down); recorded once complete, so a round
        that failed half-way is judged again, and the store drops repeats by key."""
        since = leases.marked(engine, EVALUATED)
        definitions = catalog.all_definitions(engine)
        jobs = snapshot(engine, self.config, now, definitions)
        conditions = evaluate(now, jobs, since)
        known = alerts.known_keys(engine, conditions)
        by_job = {(j.org_id, j.job_name, j.environment): j for j in jobs}
        owners = {
            (d.org_id, d.definition.job_name, d.definition.environment): d.definition.owners
            for d in definitions
        }
        quiet = alerts.silenced(engine, now)
        new = [
            self._new_alert(engine, c, by_job, owners, quiet)
            for c in conditions
            if c.key not in known
        ]
        raised = alerts.raise_alerts(engine, new, now)
        leases.mark(engine, EVALUATED, now)
        return raised

    def _new_alert(
        self,
        engine: Engine,
        c: Condition,
        by_job: dict[alerts.JobKey, JobSnapshot],
        owners: dict[alerts.JobKey, tuple[str, ...]],
        quiet: set[alerts.JobKey],
    ) -> alerts.NewAlert:
        key = (c.org_id, c.job_name, c.environment)
        job = by_job[key]
        run = next((r for r in job.runs if r.run_id == c.run_id), None)
        tail = ""
        if run is not None and run.failed_step:
            ref = StreamRef(c.org_id, run.run_id, run.failed_step, "stderr")
            tail = read_tail_lines(engine, ref, 20).decode("utf-8", "replace")
        url = None
        if self.public_url and run is not None:
            url = paths.console_run_url(self.public_url, run.run_id)
        who = recipients(owners.get(key, ()), run)
        message = render(AlertContext(c, run, who, tail, url))
        channels = () if key in quiet else tuple(job.settings.channels or ())
        step = run.failed_step if run else None
        return alerts.NewAlert(c, message, step, channels, who)

    def deliver(self, engine: Engine, now: int) -> int:
        """Claim due deliveries and start sending each at once; returns how many were started.
        Only as many are claimed as there are free sending threads, at most PER_CHANNEL in
        flight per channel: a claimed send never waits in a queue (where its claim could lapse
        and another round send it again), and a slow or dead channel leaves the threads to the
        others while its other deliveries stay due. Each thread, its send done, claims the next
        due delivery of its channel, so a healthy channel's backlog drains without waiting
        for the next round."""
        self.in_flight = {f: ch for f, ch in self.in_flight.items() if not f.done()}
        until = time.monotonic() + DRAIN
        started = 0
        while (free := SENDERS - len(self.in_flight)) > 0:
            busy = Counter(self.in_flight.values())
            claimed, _ = alerts.claim_due(engine, now, CLAIM, free, busy, PER_CHANNEL)
            for due in claimed:
                sending = self.pool.submit(self._send_all, engine, due, now, until)
                self.in_flight[sending] = due.channel
            started += len(claimed)
            if not claimed:  # nothing more is due that may start now
                break
        return started

    def _send_all(self, engine: Engine, due: alerts.Due, now: int, until: float) -> None:
        """Send `due`, then the channel's next due deliveries one by one, until none is left,
        a send failed (the channel is likely down: the rest waits for later rounds), or DRAIN
        has passed (claims made with this round's `now` must not grow stale)."""
        while True:
            if not self._send(engine, due, now) or time.monotonic() >= until:
                return
            more, _ = alerts.claim_due(engine, now, CLAIM, 1, channel=due.channel)
            if not more:
                return
            due = more[0]

    def _send(self, engine: Engine, due: alerts.Due, now: int) -> bool:
        channel = self.config.channels.get(due.channel)
        try:
            if channel is None:
                raise SendFailed(f"no channel named {due.channel!r} is configured")
            send(channel, due)
        except SendFailed as exc:
            retry = None
            if due.attempts < MAX_ATTEMPTS and channel is not None:
                retry = now + min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (due.attempts - 1))
            log.warning("alert %s via %s: %s", due.alert_key, due.channel, exc)
            alerts.finish(engine, due, str(exc)[:1000], retry)
            return False
        alerts.finish(engine, due, None, None)
        return True

    def wait(self) -> None:
        """Let every send in flight end (for `worker --once` and shutdown)."""
        for future in list(self.in_flight):
            future.result()
        self.in_flight = {}
