"""Server memory: the RSS of one server process (one worker, background work on) after ingesting
2,000 runs of five steps with their logs (about 10,000 steps and 54,000 events, built with the
tests' event builder) and after reading them, and its growth per 1,000 requests over a repeated
read loop (target: at most 100 MB after the reads, flat across the loop). Beside them, the same
process's RSS at start, before any request: what the code and libraries alone take. Each figure
is read after SETTLE seconds without requests: the server gives back to the system, once a
second, what its last requests freed."""

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from _harness import Api, backends, make_org, rss_kib, serve
from _reads import STEPS, run_events

RUNS = 2_000
BATCH = 1_000  # events per ingest request
LOOPS = 4
PER_LOOP = 1_000
SETTLE = 1.5


def workload() -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(hours=90)
    out: list[dict[str, Any]] = []
    for r in range(RUNS):
        at = start + timedelta(seconds=r * 150)
        out += run_events(f"run-{r}", at, job=f"job-{r % 20}", lines=25, chunks=(2, 1))
    return out


def reads(run_ids: list[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """The requests a console and the client make: listings, run details, steps, step details."""
    requests: list[tuple[str, dict[str, str]]] = [
        ("/jobs/v1/runs", {"from": "PT-96H", "to": "PT0S"})
    ]
    for run_id in run_ids:
        run = f"/jobs/v1/runs/{run_id}"
        requests += [(run, {}), (f"{run}/steps", {})]
        requests += [(f"{run}/steps/{step}", {}) for step in STEPS]
    return itertools.cycle(requests)


def mb(kib: int) -> str:
    """Decimal megabytes, as the target is stated."""
    return f"{kib * 1024 / 1e6:.1f} MB"


def main() -> None:
    events = workload()
    print(f"server memory: {RUNS} runs, {len(events)} events; {LOOPS} x {PER_LOOP} reads")
    for name, backend in backends():
        with backend() as db_url, serve(db_url) as (server, engine):  # type: ignore[operator]
            pid = server.process.pid
            org = make_org(engine)
            time.sleep(SETTLE)
            at_start = rss_kib(pid)
            api = Api(server, org, "admin")
            for i in range(0, len(events), BATCH):
                api.ingest(events[i : i + BATCH])
            time.sleep(SETTLE)
            after_ingest = rss_kib(pid)
            listing = api.runs("PT-96H", "PT0S").json()
            run_ids = [r["runId"] for r in listing][:300]
            loop = reads(run_ids)
            after: list[int] = []
            for _ in range(LOOPS):
                for _ in range(PER_LOOP):
                    path, params = next(loop)
                    assert api.get(path, params=params).status_code == 200, path
                time.sleep(SETTLE)
                after.append(rss_kib(pid))
            api.close()
            growth = (after[-1] - after[0]) / (LOOPS - 1)
            print(
                f"  {name:8s} RSS at start {mb(at_start)}   after ingest {mb(after_ingest)}   "
                f"after reads {mb(max(after))} (target <= 100 MB)   growth per "
                f"{PER_LOOP} requests {growth:.0f} KiB (loops: "
                f"{', '.join(mb(a) for a in after)})"
            )


if __name__ == "__main__":
    main()
