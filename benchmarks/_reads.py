"""Shared by the read benchmarks: the workloads they read (built with the tests' event builder)
and the raw SQL of the same reads, run through the bare driver connection (no SQLAlchemy
statement building, no result processing): the floor any server could reach."""

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness import Api
from sqlalchemy import Engine

from tests.support import event

STEPS = ["git-clone-cache", "extract", "transform", "run-dbt", "publish"]
LINES = 50  # per stream, as in a typical dbt run's step
CHUNKS = 5  # per stream: the runner flushes output a few times per step
DETAIL_STEP = "run-dbt"


def _lines(name: str, stream: str, count: int) -> list[str]:
    word = "OK" if stream == "stdout" else "WARN"
    return [
        f"{i:02d}:14:03  {i} of {count} {word} created sql table model analytics.{name}_{i} "
        f"[SELECT 1234 in 0.52s]\n"
        for i in range(count)
    ]


def run_events(
    run_key: str,
    start: datetime,
    *,
    job: str = "bench",
    env: str = "prod",
    lines: int = LINES,
    chunks: tuple[int, int] = (CHUNKS, CHUNKS),
) -> list[dict[str, Any]]:
    """One run of a five-step DAG; each step writes `lines` lines on stdout and on stderr, in
    `chunks` log events (stdout's, stderr's)."""
    kw: dict[str, Any] = {"job": job, "env": env}
    s = timedelta(seconds=1)
    out = [event("run", start, run_key, state="RUNNING", **kw)]
    for i, name in enumerate(STEPS):
        t = start + (10 * i + 1) * s
        step = {"name": name, "dependencies": [STEPS[i - 1]] if i else []}
        out.append(event("step", t, run_key, step=step, state="RUNNING", attempt=1, **kw))
        for stream, pieces in zip(("stdout", "stderr"), chunks, strict=True):
            text = _lines(name, stream, lines)
            per = -(-len(text) // pieces)
            for seq, at in enumerate(range(0, len(text), per)):
                data = "".join(text[at : at + per])
                out.append(
                    event("log", t + s, run_key, step=name, stream=stream, data=data, seq=seq, **kw)
                )
        end = t + 8 * s
        out.append(event("step", end, run_key, step=step, state="SUCCEEDED", exitCode=0, **kw))
    out.append(event("run", start + 60 * s, run_key, state="SUCCEEDED", **kw))
    return out


def seed_detail_run(api: Api) -> str:
    """One run as a reader opens it: returns its run id."""
    api.ingest(run_events("detail-run", datetime.now(UTC) - timedelta(minutes=30)))
    runs = api.runs("PT-2H", "PT0S", jobName="bench").json()
    assert len(runs) == 1, runs
    return str(runs[0]["runId"])


# The reads each endpoint needs, as plain SQL with the values bound positionally. Each list is
# run on one pooled connection, as a hand-written server would.
def _q(sql: str) -> str:
    return " ".join(sql.split())


RUN = _q("""SELECT run_id, job_id, job_name, environment, run_key, state, state_ts,
    first_event_ts, first_running_ts, last_ts FROM runs WHERE org_id = ? AND run_id = ?""")
STEPS_SQL = _q("""SELECT name, state, state_ts, dependencies, attempt, exit_code, message,
    first_event_ts, first_running_ts FROM steps WHERE org_id = ? AND run_id = ?""")
STEP = _q("""SELECT name, state, state_ts, dependencies, attempt, exit_code, message,
    first_event_ts, first_running_ts FROM steps WHERE org_id = ? AND run_id = ? AND name = ?""")
HISTORY = _q("""SELECT ts, state, attempt, exit_code, message FROM events
    WHERE org_id = ? AND run_id = ? AND step_name = ? AND kind = 'step'
    ORDER BY ts, state_rank, event_id""")
STATS = _q("""SELECT stream, kept_bytes, dropped_bytes FROM log_streams
    WHERE org_id = ? AND run_id = ? AND step_name = ?""")
DATASETS_RUN = _q("""SELECT step_name, direction, namespace, name FROM step_datasets
    WHERE org_id = ? AND run_id = ?""")
DATASETS_STEP = _q("""SELECT step_name, direction, namespace, name FROM step_datasets
    WHERE org_id = ? AND run_id = ? AND step_name = ?""")
CHUNKS_SQL = _q("""SELECT stream, seq, data FROM log_chunks
    WHERE org_id = ? AND run_id = ? AND step_name = ? ORDER BY stream, seq""")


def raw_reads(endpoint: str, org: str, run_id: str) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements (with values) that answer `endpoint`: run detail and steps read the run,
    its steps and its datasets; step detail the step, its history, its streams' sizes, its
    datasets and its log chunks."""
    run = (org, run_id)
    step = (org, run_id, DETAIL_STEP)
    if endpoint in ("run", "steps"):
        return [(RUN, run), (STEPS_SQL, run), (DATASETS_RUN, run)]
    assert endpoint == "step", endpoint
    return [
        (STEP, step),
        (HISTORY, step),
        (STATS, step),
        (DATASETS_STEP, step),
        (CHUNKS_SQL, step),
    ]


def raw_sql(engine: Engine, reads: list[tuple[str, tuple[Any, ...]]]) -> int:
    """Run the reads on one pooled driver connection, fetching every row; returns the rows.
    On PostgreSQL in autocommit, as the server reads (store.queries): no BEGIN and ROLLBACK
    round trips."""
    postgres = engine.dialect.name == "postgresql"
    rows = 0
    conn = engine.raw_connection()
    driver: Any = conn.dbapi_connection
    try:
        if postgres:
            driver.autocommit = True
        cur = conn.cursor()
        for sql, params in reads:
            cur.execute(sql.replace("?", "%s") if postgres else sql, params)
            rows += len(cur.fetchall())
        cur.close()
        conn.rollback()
    finally:
        if postgres:
            driver.autocommit = False
        conn.close()
    return rows


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used: robust to a loaded machine, unlike
    wall time, since time spent waiting for a core is not counted."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


IDLE_SAMPLE = 3.0  # seconds


def server_cpu_ms(pid: int, call: Callable[[], object], rounds: int) -> float:
    """The server's CPU ms per call (clock ticks: use enough rounds for 1 s or more), less
    what its background work (worker, syncs) spends meanwhile, sampled while it is idle: on a
    loaded machine requests take longer and that background time would otherwise count."""
    idle_began, idle_cpu = time.perf_counter(), process_cpu(pid)
    time.sleep(IDLE_SAMPLE)
    idle_rate = (process_cpu(pid) - idle_cpu) / (time.perf_counter() - idle_began)
    began, before = time.perf_counter(), process_cpu(pid)
    for _ in range(rounds):
        call()
    spent = process_cpu(pid) - before - idle_rate * (time.perf_counter() - began)
    return max(0.0, spent) / rounds * 1000


def own_cpu_ms(call: Callable[[], object], rounds: int) -> float:
    """This process's CPU ms per call (the raw SQL runs here)."""
    before = time.process_time()
    for _ in range(rounds):
        call()
    return (time.process_time() - before) / rounds * 1000
