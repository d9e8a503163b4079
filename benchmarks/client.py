"""`JobsClient.list_runs` over a full week: by default 50,000 runs (three state events each, a
run every ~12 s, so most 96-hour windows are far over the 10,000-event cap and split again).
Wall time and requests made, beside two baselines measured in the same run:

- the sum of its requests (issue 14 item 3): the very requests the client sent (token exchange
  included), replayed one after the other with bare httpx, each timed to its last body byte;
  the client, which also parses and merges, should be no slower than that sum;
- one direct store query for the same runs (the floor, no HTTP, no windows).

The client asks for the week's two independent windows two at a time (`concurrency=2`, its
default); the same listing one window at a time is printed beside it. Each figure is the median
of `--repeat` rounds, the client and the replay alternating.

    python benchmarks/client.py [--runs 50000] [--repeat 3]    # a small size: --runs 2000"""

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
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


class Recorder(httpx.HTTPTransport):
    """The client's transport, keeping each request it sends (to replay them bare)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)


def client_listing(
    url: str, org_id: str, key_id: str, key: str, concurrency: int
) -> tuple[float, list[Any], Any]:
    """One `list_runs` of the week on a fresh client: wall time, runs, the requests it sent."""
    recorder = Recorder()
    with JobsClient(url, org_id, key_id, key, transport=recorder) as client:
        began = time.perf_counter()
        listed = client.list_runs("P-7D", "PT0S", concurrency=concurrency)
        wall = time.perf_counter() - began
    return wall, listed, recorder.sent


def replay(url: str, sent: list[httpx.Request]) -> float:
    """The same requests (same URLs, same headers and token) one after another with bare httpx,
    each timed until its body is read: the sum of the client's requests."""
    total = 0.0
    with httpx.Client(base_url=url, timeout=120) as http:
        for request in sent:
            began = time.perf_counter()
            resp = http.request(request.method, request.url, headers=request.headers)
            resp.read()
            total += time.perf_counter() - began
            assert resp.status_code == 200, resp.text
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = args.runs
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
            walls, serial, sums, floors = [], [], [], []
            for _ in range(args.repeat):
                ids = (server.url, org.id, key.key.key_id, key.secret)
                serial.append(client_listing(*ids, concurrency=1)[0])
                wall, listed, sent = client_listing(*ids, concurrency=2)
                walls.append(wall)
                sums.append(replay(server.url, sent))
                floor, stored = store_query(engine, org.id)
                floors.append(floor)
                assert len(listed) == stored == runs, (len(listed), stored, runs)
            wall, one, summed, floor = (statistics.median(x) for x in (walls, serial, sums, floors))
            print(
                f"  {name:8s} client {wall * 1000:8.1f} ms in {len(sent)} requests "
                f"(one window at a time: {one * 1000:8.1f} ms)   "
                f"sum of its requests {summed * 1000:8.1f} ms (client/sum {wall / summed:5.2f})   "
                f"store query {floor * 1000:7.1f} ms (client/store {wall / floor:6.1f})"
            )
            print(
                f"           rounds: client {[round(w * 1000) for w in walls]} ms, one at a "
                f"time {[round(w * 1000) for w in serial]} ms, "
                f"sum {[round(x * 1000) for x in sums]} ms"
            )


if __name__ == "__main__":
    main()
