"""Insights at size: 500 jobs over 7 days with 100,000 runs (flags to run it smaller).
p50/p95 of `GET .../insights/v1/jobs` over HTTP against the raw SQL of the same figures,
measured in the same run: once without the newest runs (`recent=0`) and once as the console's
overview asks (`recent=30`: the newest 30 runs of each job too). Target on SQLite: p50 under
100 ms, ratio at most 2.

The raw SQL is what a person would write by hand over the same schema and indexes, run on a bare
DB-API connection: on PostgreSQL one statement (percentile_cont inline) and, for the newest runs,
a LATERAL join; on SQLite the totals in one statement, then per job the one or two durations
around each percentile's rank by ORDER BY ... LIMIT ... OFFSET on the duration index (named, as
SQLite's planner prefers the other), and the newest runs by ORDER BY ... LIMIT. Beside the wall
times (noisy on a shared machine), the CPU time the server process spent per request, which on
SQLite includes the queries (on PostgreSQL they run in the database's process)."""

import argparse
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness import Api, Server, backends, make_org, percentile, serve
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


# --- the same figures by hand ------------------------------------------------------------

_TOTALS = """
SELECT job_id, environment, job_name, count(*),
  sum(CASE WHEN state = 'SUCCEEDED' THEN 1 ELSE 0 END),
  sum(CASE WHEN state = 'FAILED' THEN 1 ELSE 0 END),
  sum(CASE WHEN state = 'CANCELLED' THEN 1 ELSE 0 END),
  sum(CASE WHEN state = 'RUNNING' THEN 1 ELSE 0 END),
  sum(CASE WHEN state = 'PENDING' THEN 1 ELSE 0 END),
  max(duration), max(start_ts), max(CASE WHEN state = 'SUCCEEDED' THEN state_ts END), {extra}
FROM runs WHERE org_id = {org} AND start_ts >= {start} AND start_ts < {end}
GROUP BY job_id, environment, job_name"""

PG_TOTALS = _TOTALS.format(
    extra="percentile_cont(0.5) WITHIN GROUP (ORDER BY duration),\n"
    "  percentile_cont(0.95) WITHIN GROUP (ORDER BY duration)",
    org="%(org)s",
    start="%(start)s",
    end="%(end)s",
)
PG_RECENT = """
SELECT w.job_id, n.run_id, n.state, n.start_ts, n.duration
FROM (VALUES {rows}) AS w(job_id, environment, job_name)
JOIN LATERAL (
  SELECT run_id, state, start_ts, duration FROM runs
  WHERE org_id = %s AND job_id = w.job_id AND environment = w.environment
    AND job_name = w.job_name AND start_ts >= %s AND start_ts < %s
  ORDER BY start_ts DESC, run_id LIMIT %s) n ON true"""

SQLITE_TOTALS = _TOTALS.format(extra="count(duration)", org="?", start="?", end="?")
SQLITE_BY_DURATION = """
SELECT duration FROM runs INDEXED BY ix_runs_durations
WHERE org_id = ? AND job_id = ? AND environment = ? AND job_name = ?
  AND duration IS NOT NULL AND start_ts >= ? AND start_ts < ?
ORDER BY duration {order} LIMIT ? OFFSET ?"""
SQLITE_RECENT = """
SELECT run_id, state, start_ts, duration FROM runs
WHERE org_id = ? AND job_id = ? AND environment = ? AND job_name = ?
  AND start_ts >= ? AND start_ts < ?
ORDER BY start_ts DESC, run_id LIMIT ?"""


def _sqlite_pct(cur: Any, args: tuple[Any, ...], n: int, p: float) -> float | None:
    if not n:
        return None
    pos = p * (n - 1)
    low = int(pos)
    frac = pos - low
    count = 2 if frac else 1
    if low <= n - low - count:
        sql, offset, flip = SQLITE_BY_DURATION.format(order="ASC"), low, False
    else:
        sql, offset, flip = SQLITE_BY_DURATION.format(order="DESC"), n - low - count, True
    vals = [r[0] for r in cur.execute(sql, (*args, count, offset)).fetchall()]
    vals = vals[::-1] if flip else vals
    return vals[0] + (vals[-1] - vals[0]) * frac


def raw_sqlite(dbapi: Any, org: str, start: int, end: int, recent: int) -> int:
    dbapi.execute("BEGIN")
    try:
        totals = dbapi.execute(SQLITE_TOTALS, (org, start, end)).fetchall()
        for row in totals:
            args = (org, row[0], row[1], row[2], start, end)
            _sqlite_pct(dbapi, args, row[12], 0.5), _sqlite_pct(dbapi, args, row[12], 0.95)
            if recent:
                dbapi.execute(SQLITE_RECENT, (*args, recent)).fetchall()
    finally:
        dbapi.execute("COMMIT")
    return len(totals)


def raw_postgres(dbapi: Any, org: str, start: int, end: int, recent: int) -> int:
    with dbapi.cursor() as cur:
        cur.execute(PG_TOTALS, {"org": org, "start": start, "end": end})
        totals = cur.fetchall()
        if recent:
            keys = [v for row in totals for v in row[:3]]
            rows = ", ".join(["(%s, %s, %s)"] * len(totals))
            cur.execute(PG_RECENT.format(rows=rows), (*keys, org, start, end, recent))
            cur.fetchall()
    dbapi.commit()
    return len(totals)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (USER_HZ)


class Figures:
    """Wall ms per call, and CPU per call: for the API the server process's, plus on PostgreSQL
    the database backends'; for the raw SQL on SQLite the benchmark process's (the queries run
    in-process), on PostgreSQL the backends'."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu = 0.0

    def cpu_ms(self) -> float:
        return self.cpu * 1000 / len(self.wall)


def compare(
    api: Api, server: Server, engine: Engine, org_id: str, rounds: int, recent: int
) -> tuple[Figures, Figures]:
    """The API and the raw SQL in turn, round by round, so both meet the same load."""
    end = int(time.time() * 1_000_000)
    start = end - 7 * DAY_US
    sqlite = engine.dialect.name == "sqlite"
    query: Callable[..., int] = raw_sqlite if sqlite else raw_postgres
    http, raw = Figures(), Figures()
    with engine.connect() as conn:
        dbapi = conn.connection.driver_connection

        def backends_cpu() -> float:
            if sqlite:
                return 0.0
            with dbapi.cursor() as cur:
                cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
                pids = [row[0] for row in cur.fetchall()]
            dbapi.commit()
            return sum(cpu_seconds(pid) for pid in pids if Path(f"/proc/{pid}").exists())

        for _ in range(rounds):
            cpu = cpu_seconds(server.process.pid) + backends_cpu()
            began = time.perf_counter()
            resp = api.get("/insights/v1/jobs", params={"recent": str(recent)})
            http.wall.append((time.perf_counter() - began) * 1000)
            http.cpu += cpu_seconds(server.process.pid) + backends_cpu() - cpu
            assert resp.status_code == 200, (resp.status_code, resp.text[:300])
            body = resp.json()
            assert all(len(j["recentRuns"]) == min(recent, j["runs"]) for j in body)
            cpu = time.process_time() if sqlite else backends_cpu()
            began = time.perf_counter()
            found = query(dbapi, org_id, start, end, recent)
            raw.wall.append((time.perf_counter() - began) * 1000)
            raw.cpu += (time.process_time() if sqlite else backends_cpu()) - cpu
            assert found == len(body), (found, len(body))
    return http, raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    print(f"insights: {args.jobs} jobs, {args.runs:,} runs over 7 days, {args.rounds} rounds")
    print("target: SQLite p50 under 100 ms, ratio at most 2")
    print(
        "backend  recent |  API p50  API p95  CPU/req | SQL p50  SQL p95 CPU/call | ratio p50  CPU"
    )
    for name, backend in backends():
        with backend() as db_url, serve(db_url) as (server, engine):  # type: ignore[operator]
            org = make_org(engine)
            api = Api(server, org, "admin")
            events = run_events(args.jobs, args.runs)
            for i in range(0, len(events), 10_000):
                api.ingest(events[i : i + 10_000])
            # Statistics, and on PostgreSQL the visibility map that index-only scans need, as
            # autovacuum keeps them on a production database.
            vacuum = "ANALYZE" if engine.dialect.name == "sqlite" else "VACUUM ANALYZE runs"
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(vacuum))
            for recent in (0, 30):
                compare(api, server, engine, org.id, 3, recent)  # warm
                http, raw = compare(api, server, engine, org.id, args.rounds, recent)
                p50, raw50 = percentile(http.wall, 50), percentile(raw.wall, 50)
                print(
                    f"{name:8} {recent:6} | {p50:5.0f} ms {percentile(http.wall, 95):5.0f} ms "
                    f"{http.cpu_ms():5.0f} ms | {raw50:4.0f} ms {percentile(raw.wall, 95):5.0f} ms"
                    f" {raw.cpu_ms():5.0f} ms | {p50 / raw50:9.2f} "
                    f"{http.cpu_ms() / max(raw.cpu_ms(), 0.1):5.2f}",
                    flush=True,
                )
            api.close()


if __name__ == "__main__":
    main()
