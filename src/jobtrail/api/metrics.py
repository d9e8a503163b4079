"""Prometheus metrics (SPEC §3.6). Counters and histograms are recorded where things happen (one
ingestion batch, one HTTP request: never per event); under `--workers N` they go through
prometheus-client's multiprocess files. Runs in progress and the last success per job are read
from the store at scrape time, so every worker answers the same. The organization is a label
only with JOBTRAIL_METRICS_ORG_LABEL, which keeps the series count bounded by jobs otherwise."""

import os
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobtrail.domain.timefmt import MICROS
from jobtrail.store import accounts, insights
from jobtrail.store.ingest import IngestResult
from jobtrail.wire import paths

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RUN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400)
STEP_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The process's series, registered on a registry of their own (one app, one set)."""

    def __init__(self, org_label: bool) -> None:
        self.org_label = org_label
        self.registry = CollectorRegistry()
        job = ["organization"] * org_label + ["job", "environment"]
        reg = self.registry
        self.runs = Counter(
            "jobtrail_runs_finished", "Runs that reached a final state, by state.",
            [*job, "state"], registry=reg,
        )  # fmt: skip
        self.run_seconds = Histogram(
            "jobtrail_run_duration_seconds", "Duration of final runs.", job,
            buckets=RUN_BUCKETS, registry=reg,
        )  # fmt: skip
        self.step_seconds = Histogram(
            "jobtrail_step_duration_seconds", "Duration of final steps, by the job they are of.",
            job, buckets=STEP_BUCKETS, registry=reg,
        )  # fmt: skip
        org = ["organization"] * org_label
        self.ingested = Counter("jobtrail_events_ingested", "Events stored.", org, registry=reg)
        self.rejected = Counter(
            "jobtrail_events_rejected", "Events not stored: duplicates, or in a refused batch.",
            [*org, "reason"], registry=reg,
        )  # fmt: skip
        self.http = Histogram(
            "jobtrail_http_request_duration_seconds", "HTTP request latency.",
            ["method", "route", "status"], buckets=HTTP_BUCKETS, registry=reg,
        )  # fmt: skip

    def _org(self, org_id: str) -> list[str]:
        return [org_id] if self.org_label else []

    def ingested_batch(self, engine: Engine, org_id: str, result: IngestResult) -> None:
        """Counts for one stored batch; reads back only the runs and steps it finished."""
        org = self._org(org_id)
        (self.ingested.labels(*org) if org else self.ingested).inc(result.accepted)
        if result.duplicates:
            self.rejected.labels(*org, "duplicate").inc(result.duplicates)
        if not (result.finished_runs or result.finished_steps):
            return
        with engine.connect() as conn:
            done = insights.finished_runs(conn, org_id, list(result.finished_runs))
            steps = insights.finished_steps(conn, org_id, list(result.finished_steps))
        # One series lookup per job and state, not per run or step (a batch finishes hundreds
        # of steps of a few jobs, and `labels` costs as much as the observation).
        finished: dict[tuple[str, ...], int] = {}
        run_seconds: dict[tuple[str, ...], list[float]] = {}
        step_seconds: dict[tuple[str, ...], list[float]] = {}
        for r in done:
            key = (*org, r.job_name, r.environment)
            finished[(*key, r.state)] = finished.get((*key, r.state), 0) + 1
            if r.dur is not None:
                run_seconds.setdefault(key, []).append(r.dur / MICROS)
        for s in steps:
            if s.dur is not None:
                step_seconds.setdefault((*org, s.job_name, s.environment), []).append(
                    s.dur / MICROS
                )
        for labels, count in finished.items():
            self.runs.labels(*labels).inc(count)
        for histogram, values in (
            (self.run_seconds, run_seconds),
            (self.step_seconds, step_seconds),
        ):
            for labels, seconds in values.items():
                series = histogram.labels(*labels)
                for value in seconds:
                    series.observe(value)

    def refused_batch(self, org_id: str, reason: str, events: int) -> None:
        self.rejected.labels(*self._org(org_id), reason).inc(events)


class StoreCollector(Collector):
    """Runs in progress and the last success per job, read from the store at scrape time."""

    def __init__(self, engine: Engine, org_label: bool, retention_us: int) -> None:
        self.engine = engine
        self.org_label = org_label
        self.retention_us = retention_us

    def collect(self) -> Iterator[Metric]:
        labels = ["organization"] * self.org_label + ["job", "environment"]
        running = GaugeMetricFamily("jobtrail_runs_in_progress", "Runs not final.", labels=labels)
        success = GaugeMetricFamily(
            "jobtrail_last_success_timestamp_seconds",
            "When the newest successful run of a job ended (Unix time).",
            labels=labels,
        )
        totals: dict[tuple[str, ...], list[Any]] = {}
        with self.engine.connect() as conn:
            rows = insights.live_figures(conn, accounts.now_micros() - self.retention_us)
        for r in rows:
            key = (r.org_id,) * self.org_label + (r.job_name, r.environment)
            seen = totals.setdefault(key, [0, None])
            seen[0] += r.running
            if r.last_success is not None:
                seen[1] = max(seen[1] or 0, r.last_success)
        for key, (count, last) in sorted(totals.items()):
            running.add_metric(list(key), count)
            if last is not None:
                success.add_metric(list(key), last / MICROS)
        yield running
        yield success
        yield from self._deliveries()

    def _deliveries(self) -> Iterator[Metric]:
        """Alert deliveries by channel, as the worker (whichever process it runs in) recorded
        them in the store: delivered or failed for good (counters), pending (a gauge: waiting
        for a first try or for a retry), and attempts (counter: retries show as attempts
        beyond the deliveries)."""
        org = ["organization"] * self.org_label
        done = CounterMetricFamily(
            "jobtrail_alert_deliveries",
            "Alert deliveries that ended: delivered, or failed after their last retry.",
            labels=[*org, "channel", "status"],
        )
        pending = GaugeMetricFamily(
            "jobtrail_alert_deliveries_pending",
            "Alert deliveries not yet delivered (first try or a retry still due).",
            labels=[*org, "channel"],
        )
        attempts = CounterMetricFamily(
            "jobtrail_alert_delivery_attempts",
            "Attempts to deliver alerts, failed ones included.",
            labels=[*org, "channel"],
        )
        counts: dict[tuple[str, ...], int] = {}
        tries: dict[tuple[str, ...], int] = {}
        with self.engine.connect() as conn:
            rows = insights.delivery_figures(conn)
        for r in rows:
            key = (r.org_id,) * self.org_label + (r.channel,)
            counts[(*key, r.status)] = counts.get((*key, r.status), 0) + r.deliveries
            tries[key] = tries.get(key, 0) + int(r.attempts or 0)
        for key, value in sorted(counts.items()):
            if key[-1] == "pending":
                pending.add_metric(list(key[:-1]), value)
            else:
                done.add_metric(list(key), value)
        for key, value in sorted(tries.items()):
            attempts.add_metric(list(key), value)
        yield done
        yield pending
        yield attempts


def scrape(metrics: Metrics, store: StoreCollector) -> bytes:
    """The text exposition: every worker's series when multiprocess, plus the store's."""
    registry = metrics.registry
    if multiprocess_dir():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry_with_store = CollectorRegistry()
    registry_with_store.register(store)
    return generate_latest(registry) + generate_latest(registry_with_store)


class LatencyMiddleware:
    """Observes every HTTP request's latency by route template (bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "other")
            self.metrics.http.labels(scope["method"], path, str(status[0])).observe(
                time.perf_counter() - started
            )


def install_metrics(app: FastAPI, metrics: Metrics, store: StoreCollector) -> None:
    app.add_middleware(LatencyMiddleware, metrics=metrics)

    @app.get(paths.METRICS, include_in_schema=False)
    async def metrics_endpoint(_request: Request) -> Response:
        body = await run_in_threadpool(scrape, metrics, store)
        return Response(body, media_type=CONTENT_TYPE)
