"""Alerts: one evaluation round over N scheduled jobs in 10 organizations (default 1,000 jobs,
5 runs each), its time against the SQL reads it needs (the snapshot) measured in the same run;
and the latency from a failing run's arrival at the server to the webhook receiver (p50, p95),
with the worker inside `jobtrail serve` (evaluation every second).

    python benchmarks/alerts.py                       # full size
    python benchmarks/alerts.py --jobs 100 --samples 5   # small (what a shared machine can run)
"""

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _harness import Api, backends, make_org, median, percentile, serve
from sqlalchemy import Engine

from jobtrail.domain.alert_settings import parse_alert_settings
from jobtrail.domain.batches import parse_batch
from jobtrail.domain.catalog import JobDefinition
from jobtrail.store import alerts, catalog
from jobtrail.store.accounts import now_micros
from jobtrail.store.ingest import ingest
from jobtrail.worker.alerting import LOOKBACK, Alerting
from jobtrail.worker.config import AlertsConfig
from tests.support import simple_run
from tests.worker.receiver import Receiver

ALL = parse_alert_settings(
    {"on": ["failed", "stuck", "too_short", "too_slow", "late", "missed", "too_often"],
     "stuck_after": "auto", "late_after": "10m"}
)  # fmt: skip


def populate(engine: Engine, jobs: int, orgs: int, runs: int) -> None:
    org_ids = [make_org(engine).id for _ in range(orgs)]
    start = datetime.now(UTC) - timedelta(hours=runs + 1)
    for i, org_id in enumerate(org_ids):
        names = [f"job-{j:04d}" for j in range(i, jobs, orgs)]
        definitions = [JobDefinition(n, "prod", "0 * * * *", alerts=ALL) for n in names]
        catalog.put_definitions(engine, org_id, definitions, now_micros() - 86_400_000_000)
        events = [
            e
            for n in names
            for r in range(runs)
            for e in simple_run(start + timedelta(hours=r), f"{n}-{r}", job=n, env="prod")
        ]
        for k in range(0, len(events), 5000):
            ingest(engine, org_id, parse_batch({"events": events[k : k + 5000]}), 1 << 24)


def snapshot_sql(engine: Engine, now: int) -> None:
    """The reads one round needs, alone."""
    alerts.recent_runs(engine, now - LOOKBACK)
    alerts.open_since(engine)
    catalog.all_definitions(engine)


def evaluation(engine: Engine, rounds: int) -> tuple[float, float]:
    alerting = Alerting(AlertsConfig(defaults=ALL))
    alerting.evaluate(engine, now_micros())  # the first round raises what holds now
    round_ms, sql_ms = [], []
    for _ in range(rounds):
        now = now_micros()
        t0 = time.perf_counter()
        alerting.evaluate(engine, now)
        t1 = time.perf_counter()
        snapshot_sql(engine, now)
        t2 = time.perf_counter()
        round_ms.append((t1 - t0) * 1000)
        sql_ms.append((t2 - t1) * 1000)
    return median(round_ms), median(sql_ms)


def latency(db_url: str, samples: int) -> list[float]:
    receiver = Receiver("bench-secret")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "alerts.toml"
        config.write_text(
            f'[defaults]\non = ["failed"]\nchannels = ["hook"]\n[channels.hook]\n'
            f'type = "webhook"\nurl = "{receiver.url}"\nsecret = "bench-secret"\n'
        )
        env = {"JOBTRAIL_ALERTS_CONFIG": str(config), "JOBTRAIL_ALERTS_INTERVAL": "PT1S",
               "JOBTRAIL_WORKER_POLL": "0.1"}  # fmt: skip
        with serve(db_url, **env) as (server, engine):
            api = Api(server, make_org(engine), "ingest")
            out = []
            for i in range(samples):
                seen = len(receiver.received)
                events = simple_run(datetime.now(UTC) - timedelta(seconds=8), f"l{i}", fail=True)
                t0 = time.perf_counter()
                api.ingest(events)
                while len(receiver.received) == seen:
                    time.sleep(0.005)
                out.append((time.perf_counter() - t0) * 1000)
            api.close()
    receiver.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--orgs", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5, help="runs per job")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=20, help="latency samples")
    args = parser.parse_args()
    print(f"{args.jobs} scheduled jobs, {args.orgs} organizations, {args.runs} runs each")
    print("backend   round p50   snapshot SQL p50   ratio   latency p50   latency p95")
    for name, backend in backends():
        with backend() as db_url, serve(db_url, JOBTRAIL_WORKER="false") as (_server, engine):  # type: ignore[operator]
            populate(engine, args.jobs, args.orgs, args.runs)
            round_ms, sql_ms = evaluation(engine, args.rounds)
        with backend() as db_url:  # type: ignore[operator]
            lat = latency(db_url, args.samples)
        print(
            f"{name:9} {round_ms:8.1f} ms {sql_ms:14.1f} ms {round_ms / sql_ms:7.2f}"
            f" {percentile(lat, 50):10.0f} ms {percentile(lat, 95):10.0f} ms"
        )


if __name__ == "__main__":
    main()
