"""`JobsClient.list_runs` over a full week: by default 50,000 runs (three state events each, a
run every ~12 s, so most 96-hour windows are far over the 10,000-event cap and split again).
Wall time and requests made, beside one direct store query for the same runs (the floor).

    python benchmarks/client.py [--runs 50000]    # full size; a small size: --runs 2000"""

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _harness import Api, backends, make_org, serve
from sqlalchemy import Engine, select

from jobtrail.client.sync import JobsClient
from jobtrail.store.schema import runs as runs_table
from tests.support import event


def week_events(count: int, now: datetime) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    span = timedelta(days=6, hours=23).total_seconds()
    for r in range(count):
        at = now - timedelta(days=6, hours=23) + timedelta(seconds=r * span / count)
        kw: dict[str, Any] = {"job": f"job-{r % 40}", "env": f"env-{r % 3}"}
        step = {"name": "a", "dependencies": []}
        out += [
            event("run", at, f"r{r}", state="RUNNING", **kw),
            event("step", at + timedelta(seconds=1), f"r{r}", step=step, state="SUCCEEDED", **kw),
            event("run", at + timedelta(seconds=2), f"r{r}", state="SUCCEEDED", **kw),
        ]
    return out


def store_query(engine: Engine, org_id: str) -> tuple[float, int]:
    """The same runs straight from the store: one indexed query, no HTTP, no windows."""
    began = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(
            select(runs_table.c.run_id, runs_table.c.state).where(runs_table.c.org_id == org_id)
        ).all()
    return time.perf_counter() - began, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50_000)
    runs = parser.parse_args().runs
    events = week_events(runs, datetime.now(UTC))
    print(f"list_runs(P-7D, PT0S): {runs} runs, {len(events)} state events over the last week")
    for name, backend in backends():
        with backend() as db_url, serve(db_url) as (server, engine):  # type: ignore[operator]
            org = make_org(engine)
            api = Api(server, org, "ingest")
            for i in range(0, len(events), 10_000):
                api.ingest(events[i : i + 10_000])
            api.close()
            key = org.keys["read"]
            with JobsClient(server.url, org.id, key.key.key_id, key.secret) as client:
                began = time.perf_counter()
                listed = client.list_runs("P-7D", "PT0S")
                wall = time.perf_counter() - began
                requests = client.requests
            floor, stored = store_query(engine, org.id)
            assert len(listed) == stored == runs, (len(listed), stored, runs)
            print(
                f"  {name:8s} client {wall * 1000:8.1f} ms in {requests} requests   "
                f"store query {floor * 1000:7.1f} ms   ratio {wall / floor:6.1f}"
            )


if __name__ == "__main__":
    main()
