"""The console in Chromium: the Jobs overview with 500 jobs, the Runs list with 50,000 runs in
its window (flags to run smaller) and a run page with a 200-node DAG, on each backend. Time from
navigation (a reload, signed in) to the first paint and to the table or the DAG being drawn and
usable (target under 1 s each; for the Runs list also until its last piece is in), and the
bytes the browser downloads for them."""

import argparse
import contextlib
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _harness import ROOT, Api, backends, make_org, serve
from playwright.sync_api import sync_playwright

from tests.browser import FLAGS, sign_in
from tests.support import event

RUNS = 50_000
JOBS = 500
DAG_STEPS = 200
ROUNDS = 5


def runs_events(runs: int, jobs: int) -> list[dict[str, Any]]:
    """`runs` runs over the last 90 hours, round-robin over `jobs` jobs."""
    now = datetime.now(UTC)
    out = []
    for r in range(runs):
        t = now - timedelta(hours=90) + timedelta(seconds=r * 88 * 3600 / runs)
        job = f"job-{r % jobs}"
        out.append(event("run", t, f"r{r}", job=job, state="RUNNING"))
        out.append(event("run", t + timedelta(seconds=20), f"r{r}", job=job, state="SUCCEEDED"))
    return out


def dag_events() -> list[dict[str, Any]]:
    """A 200-step run in 20 layers of 10; each step needs two steps of the layer before."""
    t = datetime.now(UTC) - timedelta(hours=1)
    out = [event("run", t, "big-dag", job="dbt-project", state="RUNNING")]
    for i in range(DAG_STEPS):
        layer, slot = divmod(i, 10)
        deps = [f"model_{(layer - 1) * 10 + (slot + k) % 10}" for k in (0, 3)] if layer else []
        step = {"name": f"model_{i}", "dependencies": deps}
        state = "FAILED" if i == 137 else "SUCCEEDED"
        out.append(
            event(
                "step",
                t + timedelta(seconds=layer),
                "big-dag",
                job="dbt-project",
                step=step,
                state=state,
            )
        )
    return out


def measure(page: Any, url: str, selector: str, count: int) -> tuple[float, float, int]:
    """Median reload → first paint and reload → `count` matches of `selector`, and bytes."""
    sizes: list[int] = []

    def record(response: Any) -> None:
        if response.ok and response.status != 304:
            # (a poll answered after the page moved on has no body: not this load's bytes)
            with contextlib.suppress(Exception):
                sizes.append(len(response.body()))

    page.on("response", record)
    page.goto(url)
    times, paints = [], []
    for _ in range(ROUNDS):
        sizes.clear()
        began = time.perf_counter()
        page.reload()
        page.locator(selector).nth(count - 1).wait_for()
        times.append(time.perf_counter() - began)
        paint = page.evaluate(
            "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? 0"
        )
        paints.append(paint / 1000)
    return statistics.median(paints), statistics.median(times), sum(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--jobs", type=int, default=JOBS)
    args = parser.parse_args()
    print(f"console in headless Chromium, median of {ROUNDS} reloads (target under 1 s each)")
    for name, backend in backends():
        with backend() as db_url:  # type: ignore[operator]
            figures = measure_all(db_url, args.runs, args.jobs)
        print(name)
        for page, (paint, ready, size) in figures.items():
            print(
                f"  {page}: first paint {paint * 1000:.0f} ms, usable in {ready * 1000:.0f} ms, "
                f"{size / 1024:.0f} KiB downloaded",
                flush=True,
            )


def measure_all(db_url: str, runs: int, jobs: int) -> dict[str, tuple[float, float, int]]:
    with serve(db_url) as (server, engine):
        org = make_org(engine)
        api = Api(server, org, "admin")
        events = runs_events(runs, jobs) + dag_events()
        for i in range(0, len(events), 10_000):
            api.ingest(events[i : i + 10_000])
        dag_run = next(
            r for r in api.runs("PT-24H", "PT0S").json() if r["jobName"] == "dbt-project"
        )
        api.close()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{server.url}/console")
            read = org.keys["read"]
            sign_in(page, org.id, read.key.key_id, read.secret)
            page.locator("#jobs-table tbody tr").first.wait_for()
            home = f"{server.url}/console#/jobs"
            figures = {
                f"Jobs overview, {jobs + 1} jobs": measure(
                    page, home, "#jobs-table tbody tr", jobs + 1
                ),
                f"Runs list, {runs + 1:,} runs (96 h, paged), first page": measure(
                    page, f"{server.url}/console#/runs?window=96h", "#pager:not([hidden])", 1
                ),
                f"Runs list, {runs + 1:,} runs (96 h, paged), all loaded": measure(
                    page,
                    f"{server.url}/console#/runs?window=96h",
                    "#runs[aria-busy=false] tbody tr",
                    1,
                ),
                f"run page, {DAG_STEPS}-node DAG": measure(
                    page, f"{server.url}/console#/runs/{dag_run['runId']}", "#dag .step", DAG_STEPS
                ),
            }
            page.screenshot(path=str(ROOT / "artifacts" / "console-dag-200.png"))
            browser.close()
    return figures


if __name__ == "__main__":
    main()
