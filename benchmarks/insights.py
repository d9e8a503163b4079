"""Insights at size: 500 jobs over 7 days with 100,000 runs (flags to run it smaller).
p50/p95 of `GET .../insights/v1/jobs` over HTTP against the raw SQL of the same aggregates,
measured in the same run. Target on SQLite: p50 under 100 ms, ratio at most 2."""

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from _harness import Api, backends, make_org, percentile, serve
from sqlalchemy import Engine, text

DAY_US = 86_400_000_000


def run_events(jobs: int, runs: int) -> list[dict[str, Any]]:
    """`runs` runs spread over the last 7 days round-robin over `jobs` jobs: RUNNING, then a
    final state 1 to 600 s later (one in ten failed)."""
    now = datetime.now(UTC)
    span = 7 * 86400 - 2 * 3600  # from 7 days less an hour ago to an hour ago
    out = []
    for r in range(runs):
        t = now - timedelta(seconds=span + 3600) + timedelta(seconds=r * span / runs)
        job = {"name": f"job-{r % jobs:03d}", "environment": "prod"}
        end = t + timedelta(seconds=1 + (r * 7919) % 600)
        for at, state in ((t, "RUNNING"), (end, "FAILED" if r % 10 == 3 else "SUCCEEDED")):
            out.append(
                {
                    "eventId": str(uuid.uuid4()),
                    "timestamp": at.isoformat().replace("+00:00", "Z"),
                    "kind": "run",
                    "job": job,
                    "runKey": f"run-{r}",
                    "state": state,
                }
            )
    return out


# The same figures as one hand-written statement per dialect: counts, max, and percentiles.
_DUR = "CASE WHEN state IN ('SUCCEEDED','FAILED','CANCELLED') THEN state_ts - st END"
_BASE = f"""
  SELECT job_id, state, state_ts, st, {_DUR} AS dur FROM (
    SELECT job_id, state, state_ts, COALESCE(first_running_ts, first_event_ts) AS st
    FROM runs WHERE org_id = :org AND last_event_ts >= :start) r
  WHERE st >= :start AND st < :end
"""


def _interpolated(p: float) -> str:
    """percentile_cont by hand for SQLite, as the store computes it."""
    pos = f"{p} * (n - 1)"
    low = f"CAST({pos} AS INT)"
    return (
        f"sum(CASE WHEN rn = {low} THEN dur * (1 - ({pos} - {low}))\n"
        f"  WHEN rn = {low} + 1 THEN dur * ({pos} - {low}) ELSE 0 END)"
    )


RAW_SQL = {
    "postgresql": f"""
SELECT job_id, count(*), sum(CASE WHEN state = 'SUCCEEDED' THEN 1 ELSE 0 END), max(dur),
  percentile_cont(0.5) WITHIN GROUP (ORDER BY dur),
  percentile_cont(0.95) WITHIN GROUP (ORDER BY dur)
FROM ({_BASE}) b GROUP BY job_id""",
    "sqlite": f"""
WITH b AS ({_BASE}),
ranked AS (SELECT job_id, dur, row_number() OVER (PARTITION BY job_id ORDER BY dur) - 1 AS rn,
  count(*) OVER (PARTITION BY job_id) AS n FROM b WHERE dur IS NOT NULL)
SELECT t.job_id, t.runs, t.ok, t.mx, p.p50, p.p95 FROM
  (SELECT job_id, count(*) AS runs, sum(state = 'SUCCEEDED') AS ok, max(dur) AS mx
   FROM b GROUP BY job_id) t
JOIN (SELECT job_id, {_interpolated(0.5)} AS p50, {_interpolated(0.95)} AS p95
  FROM ranked GROUP BY job_id) p ON p.job_id = t.job_id""",
}


def raw_sql_ms(engine: Engine, org_id: str, rounds: int, jobs: int) -> list[float]:
    end = int(time.time() * 1_000_000)
    params = {"org": org_id, "start": end - 7 * DAY_US, "end": end}
    sql = text(RAW_SQL[engine.dialect.name])
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        with engine.connect() as conn:
            rows = conn.execute(sql, params).all()
        times.append((time.perf_counter() - began) * 1000)
    assert len(rows) == jobs, len(rows)
    return times


def http_ms(api: Api, rounds: int, jobs: int) -> list[float]:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        resp = api.get("/insights/v1/jobs", params={"recent": "0"})
        times.append((time.perf_counter() - began) * 1000)
        assert resp.status_code == 200
    assert len(resp.json()) == jobs
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    print(f"insights: {args.jobs} jobs, {args.runs:,} runs over 7 days, {args.rounds} rounds")
    print("target: SQLite p50 under 100 ms, ratio at most 2")
    print("backend    API p50    API p95    SQL p50    SQL p95   ratio p50")
    for name, backend in backends():
        with backend() as db_url, serve(db_url) as (server, engine):  # type: ignore[operator]
            org = make_org(engine)
            api = Api(server, org, "ingest")
            events = run_events(args.jobs, args.runs)
            for i in range(0, len(events), 10_000):
                api.ingest(events[i : i + 10_000])
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
            http_ms(api, 3, args.jobs)  # warm
            http = http_ms(api, args.rounds, args.jobs)
            raw = raw_sql_ms(engine, org.id, args.rounds, args.jobs)
            api.close()
        p50, raw50 = percentile(http, 50), percentile(raw, 50)
        print(
            f"{name:9} {p50:7.1f} ms {percentile(http, 95):7.1f} ms "
            f"{raw50:7.1f} ms {percentile(raw, 95):7.1f} ms {p50 / raw50:8.2f}"
        )


if __name__ == "__main__":
    main()
