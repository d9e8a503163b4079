"""OpenLineage ingestion throughput over HTTP: single-event requests from 4 concurrent senders
(what the OpenLineage HTTP transport sends) and batches, beside native ingestion of the same runs
(one event per request, and batches) measured in the same run. Target on SQLite: at least 2,000
OpenLineage events/s from 4 single-event senders, every 200 meaning durably committed.

Beside it, the floors of that workload on this machine, measured in the same run: the HTTP floor
(the same 4 senders and bodies against FastAPI under uvicorn with an endpoint that stores
nothing) and the durable-commit floor (4 threads each waiting for a one-row insert to be
committed, through the group committer and each alone: what fsync allows). A sender waits for
its event to be durable before sending the next, so 4 senders can never beat 4 events per
commit latency, whatever the server does.

    python benchmarks/lineage.py [--runs 2000] [--batch 100]    # BENCH_BACKENDS=sqlite,postgres
"""

import argparse
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from _harness import ROOT, Api, backends, make_org, serve
from sqlalchemy import Connection, text

from jobtrail.domain.openlineage import parse_lineage
from jobtrail.store import accounts
from jobtrail.store.group_commit import GroupCommitter
from jobtrail.store.ingest import prepare, write_prepared
from jobtrail.store.lineage import write_datasets
from tests.support import event, free_port, iso

SENDERS = 4
TASKS = ("extract", "transform", "load")
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def _ol(kind: str, at: datetime, job: str, run: str, **facets: Any) -> dict[str, Any]:
    return {
        "eventType": kind,
        "eventTime": iso(at),
        "run": {"runId": run, "facets": facets},
        "job": {"namespace": "airflow", "name": job},
        "producer": "https://example.com/bench",
        "schemaURL": SCHEMA,
    }


def ol_run(n: int, start: datetime) -> list[dict[str, Any]]:
    """A DAG run with three task runs, 8 events, in the order a scheduler emits them."""
    root = str(uuid.uuid4())
    parent = {"run": {"runId": root}, "job": {"namespace": "airflow", "name": f"dag{n % 20}"}}
    out = [_ol("START", start, f"dag{n % 20}", root)]
    for i, task in enumerate(TASKS):
        run = str(uuid.uuid4())
        upstream = {"task": {"upstream_task_ids": list(TASKS[:i][-1:])}}
        at = start + timedelta(seconds=i + 1)
        for kind, offset in (("START", 0.0), ("COMPLETE", 0.5)):
            ev = _ol(
                kind,
                at + timedelta(seconds=offset),
                f"dag{n % 20}.{task}",
                run,
                parent=parent,
                airflow=upstream,
            )
            ev["outputs"] = [{"namespace": "warehouse", "name": f"t{n}.{task}"}]
            out.append(ev)
    out.append(_ol("COMPLETE", start + timedelta(seconds=5), f"dag{n % 20}", root))
    return out


def native_run(n: int, start: datetime) -> list[dict[str, Any]]:
    """The same run as jobtrail's own events: 8 state changes."""
    key, job = f"run-{n}", f"dag{n % 20}"
    out = [event("run", start, key, job=job, env="airflow", state="RUNNING")]
    for i, task in enumerate(TASKS):
        step = {"name": task, "dependencies": list(TASKS[:i][-1:])}
        at = start + timedelta(seconds=i + 1)
        out.append(event("step", at, key, job=job, env="airflow", step=step, state="RUNNING"))
        done = at + timedelta(seconds=0.5)
        out.append(event("step", done, key, job=job, env="airflow", step=step, state="SUCCEEDED"))
    out.append(
        event("run", start + timedelta(seconds=5), key, job=job, env="airflow", state="SUCCEEDED")
    )
    return out


def _on_threads(send: Callable[[int], None], count: int) -> float:
    """Seconds for `count` threads running send(0) .. send(count - 1) at once."""
    threads = [threading.Thread(target=send, args=(i,)) for i in range(count)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - began


def rate(url: str, headers: dict[str, str], bodies: list[list[tuple[bytes, int]]]) -> float:
    """Events/s with one thread per sender, each posting its bodies in order; every response
    must be a 200."""
    counts = [0] * len(bodies)
    failures: list[str] = []

    def send(i: int) -> None:
        with httpx.Client(timeout=60) as http:
            for body, n in bodies[i]:
                resp = http.post(url, content=body, headers=headers)
                if resp.status_code != 200:
                    failures.append(resp.text)
                    return
                counts[i] += n

    elapsed = _on_threads(send, len(bodies))
    if failures:
        raise SystemExit(f"a request failed: {failures[0]}")
    return sum(counts) / elapsed


def split(
    runs: list[list[dict[str, Any]]], batch: int, wrap: Callable[[list[Any]], Any]
) -> list[list[tuple[bytes, int]]]:
    """Each sender's share of the runs as request bodies of `batch` events."""
    per_sender: list[list[tuple[bytes, int]]] = []
    for s in range(SENDERS):
        events = [ev for run in runs[s::SENDERS] for ev in run]
        chunks = [events[i : i + batch] for i in range(0, len(events), batch)]
        per_sender.append([(orjson.dumps(wrap(c)), len(c)) for c in chunks])
    return per_sender


def _wrap_ol(chunk: list[Any]) -> Any:
    return chunk[0] if len(chunk) == 1 else chunk  # the transport sends a bare event


def _wrap_native(chunk: list[Any]) -> Any:
    return {"events": chunk}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000, help="DAG runs of 8 events each")
    parser.add_argument("--batch", type=int, default=100, help="events per batched request")
    args = parser.parse_args()
    start = datetime.now(UTC) - timedelta(hours=2)
    print(f"lineage: {args.runs} runs x 8 events, {SENDERS} concurrent senders")
    runs = [ol_run(n, start + timedelta(seconds=n)) for n in range(args.runs)]
    print(f"  HTTP floor (no-op endpoint, single events): {http_floor(runs):8,.0f} requests/s")
    for name, backend in backends():
        for grouped in ("1", "0"):
            measure(name, backend, grouped, args.runs, args.batch, start)
        with backend() as db_url, serve(db_url) as (_server, engine):  # type: ignore[operator]
            org_id = make_org(engine).id
            for size, label in ((64, "group commit"), (1, "commit alone")):
                print(
                    f"  {name:8s} {label} store only (no HTTP): "
                    f"{store_rate(engine, org_id, runs, size):8,.0f} OpenLineage events/s   "
                    f"floor (one-row durable commits): "
                    f"{commit_floor(engine, len(runs) * 8, size):8,.0f} events/s"
                )


def http_floor(runs: list[list[dict[str, Any]]]) -> float:
    """The 4 senders' single-event requests against an endpoint that stores nothing."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "_noop_app:app", "--port", str(port)]
    cmd += ["--log-level", "warning", "--no-access-log", "--app-dir", str(ROOT / "benchmarks")]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            headers = {"Content-Type": "application/json"}
            return rate(f"{url}/api/v1/lineage", headers, split(runs, 1, _wrap_ol))
        finally:
            proc.terminate()
            proc.wait(10)


def commit_floor(engine: Any, events: int, group: int) -> float:
    """4 threads, each inserting one row per event and waiting until it is committed: through
    the group committer (`group` > 1), or each commit alone. The physical limit of 4 senders
    that each wait for a durable 200."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, body TEXT)"))
    committer = GroupCommitter(engine, group)
    per_sender = events // SENDERS

    def insert(conn: Connection, i: int) -> None:
        conn.execute(text("INSERT INTO bench_floor (id, body) VALUES (:i, 'x')"), {"i": i})

    def send(s: int) -> None:
        for i in range(s * per_sender, (s + 1) * per_sender):
            committer.run(lambda conn, i=i: insert(conn, i))

    elapsed = _on_threads(send, SENDERS)
    committer.close()
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_floor"))
    return per_sender * SENDERS / elapsed


def store_rate(engine: Any, org_id: str, runs: list[list[dict[str, Any]]], group: int) -> float:
    """4 threads committing one mapped event each time through the committer: the commit
    sharing alone, without the HTTP stack's CPU."""
    committer = GroupCommitter(engine, group)
    works = []
    for s in range(SENDERS):
        mine = []
        for ev in (e for run in runs[s::SENDERS] for e in run):
            ev = {**ev, "run": {**ev["run"], "runId": str(uuid.uuid4())}}  # new rows each pass
            mapped = parse_lineage(ev, {})
            prepared = prepare(org_id, mapped.events)
            mine.append((mapped, prepared))
        works.append(mine)

    def send(i: int) -> None:
        for mapped, prepared in works[i]:
            committer.run(
                lambda conn, m=mapped, p=prepared: (
                    write_datasets(conn, org_id, m.datasets),
                    write_prepared(conn, p, 1 << 24),
                )
            )

    elapsed = _on_threads(send, SENDERS)
    committer.close()
    return sum(len(w) for w in works) / elapsed


def measure(
    name: str, backend: Any, grouped: str, runs: int, batch_size: int, start: datetime
) -> None:
    env = {"JOBTRAIL_GROUP_COMMIT": grouped}
    with backend() as db_url, serve(db_url, **env) as (server, engine):
        results = {}
        shapes = (
            (("single", 1), (f"batch {batch_size}", batch_size))
            if grouped == "1"
            else (("single", 1),)
        )
        for label, batch in shapes:
            org = make_org(engine)
            key = org.keys["ingest"]
            ol_headers = {
                "Authorization": "Bearer "
                + accounts.openlineage_api_key(key.key.key_id, key.secret),
                "Content-Type": "application/json",
            }
            ol_runs = [ol_run(n, start + timedelta(seconds=n)) for n in range(runs)]
            ol = rate(f"{server.url}/api/v1/lineage", ol_headers, split(ol_runs, batch, _wrap_ol))
            api = Api(server, make_org(engine), "ingest")
            native_headers = {
                "Authorization": f"Bearer {api.token}",
                "Content-Type": "application/json",
            }
            nat_runs = [native_run(n, start + timedelta(seconds=n)) for n in range(runs)]
            nat = rate(
                f"{server.url}{api.prefix}/jobs/v1/events",
                native_headers,
                split(nat_runs, batch, _wrap_native),
            )
            api.close()
            results[label] = (ol, nat)
        for label, (ol, nat) in results.items():
            grouping = "group commit" if grouped == "1" else "commit alone"
            goal = name == "sqlite" and label == "single" and grouped == "1"
            target = "  (target >= 2,000 events/s)" if goal else ""
            print(
                f"  {name:8s} {grouping} {label:10s} OpenLineage {ol:8,.0f} events/s   native "
                f"{nat:8,.0f} events/s   ratio {ol / nat:.2f}{target}"
            )


if __name__ == "__main__":
    main()
