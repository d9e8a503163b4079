"""A typical step (about 50 lines on each stream): p50 of the step detail, the run detail and the
steps over HTTP beside the raw SQL of the same reads on the bare driver (targets: step detail
p50 at most 2 ms on SQLite; each at most 1.5x its raw SQL). Step detail with 1 MiB of stdout:
p50 of `GET .../steps/{step}` (target at most 20 ms). The full-log endpoint streaming a 100 MiB
log: the server's memory growth (target under 50 MiB). `--typical` runs the first part only."""

import os
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _harness import Api, backends, make_org, median, percentile, rss_kib, serve
from _reads import (
    DETAIL_STEP,
    own_cpu_ms,
    raw_reads,
    raw_sql,
    run_events,
    seed_detail_run,
    server_cpu_ms,
)
from sqlalchemy import Engine

from tests.support import event

ROUNDS = 50
TYPICAL_ROUNDS = int(os.environ.get("TYPICAL_ROUNDS", "400"))
CHUNK = 1024 * 1024
BIG_MIB = 100


def _log_events(run_key: str, step: str, chunks: int, chunk: str) -> list[dict[str, Any]]:
    t = datetime.now(UTC) - timedelta(minutes=30)
    kw: dict[str, Any] = {"job": "bench", "env": "prod"}
    out = [event("step", t, run_key, step={"name": step}, state="RUNNING", **kw)]
    for seq in range(chunks):
        out.append(event("log", t, run_key, step=step, stream="stdout", data=chunk, seq=seq, **kw))
    return out


def _run_id(api: Api, run_key: str) -> str:
    for run in api.runs("PT-2H", "PT0S").json():
        detail = api.get(f"/jobs/v1/runs/{run['runId']}").json()
        if detail["steps"] and detail["steps"][0]["name"] == run_key:
            return str(run["runId"])
    raise LookupError(run_key)


def detail_p50(api: Api) -> tuple[float, float, int]:
    line = "model orders_daily: 1234 rows inserted in 0.52s ... OK\n"
    chunk = (line * (64 * 1024 // len(line) + 1))[: 64 * 1024]
    api.ingest(_log_events("detail", "detail", 16, chunk))  # 1 MiB in 64 KiB chunks
    run_id = _run_id(api, "detail")
    times = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        resp = api.get(f"/jobs/v1/runs/{run_id}/steps/detail")
        times.append((time.perf_counter() - began) * 1000)
    return percentile(times, 50), percentile(times, 95), len(resp.json()["stdout"])


def load_big_log(api: Api) -> str:
    chunk = ("x" * 127 + "\n") * (CHUNK // 128)
    events = _log_events("big", "big", BIG_MIB, chunk)
    for i in range(0, len(events), 8):  # 8 MiB per request, under the 10 MiB limit
        api.ingest(events[i : i + 8])
    return _run_id(api, "big")


def stream_growth(api: Api, pid: int, run_id: str) -> tuple[int, float, float]:
    """Streams from a server process that has done nothing else, so the growth is the read's."""
    api.get(f"/jobs/v1/runs/{run_id}")  # warm up: connections, code paths
    time.sleep(0.5)
    before = rss_kib(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    received = 0
    began = time.perf_counter()
    url = f"{api.prefix}/jobs/v1/runs/{run_id}/steps/big/logs/stdout"
    with api.http.stream("GET", url, headers={"Authorization": f"Bearer {api.token}"}) as resp:
        for part in resp.iter_bytes():
            received += len(part)
    elapsed = time.perf_counter() - began
    done.set()
    sampler.join()
    return received, (peak[0] - before) / 1024, received / elapsed / 1024 / 1024


def _p50_ms(call: Any, rounds: int = TYPICAL_ROUNDS) -> float:
    for _ in range(20):
        call()  # warm up: connections, statement caches, code paths
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return percentile(times, 50)


def typical(
    admin: Api, api: Api, engine: Engine, org_id: str, pid: int
) -> list[tuple[str, float, float, float, str]]:
    """(endpoint, HTTP p50, raw SQL p50, bare HTTP p50) for a typical step and its run. HTTP is
    request sent to last byte received (the client does not parse the body). Bare HTTP is the
    server's cheapest request (`/healthz`: no auth, no store), the floor of any HTTP answer on
    this machine, which the raw SQL (in this process) does not pay. The three are interleaved
    in rounds so that machine noise hits them alike. The last item: CPU per request of the
    server (and of this process for the raw SQL), which a loaded machine disturbs less."""
    start = datetime.now(UTC) - timedelta(hours=20)
    for i in range(20):  # other runs in the org, so the reads are not of lone rows
        admin.ingest(run_events(f"other-{i}", start + timedelta(minutes=i), job="other"))
    run_id = seed_detail_run(admin)
    run = f"/jobs/v1/runs/{run_id}"
    paths = {
        "step detail": f"{run}/steps/{DETAIL_STEP}",
        "run detail": run,
        "steps": f"{run}/steps",
    }
    reads = {"step detail": "step", "run detail": "run", "steps": "steps"}
    for label, path in paths.items():
        assert api.get(path).status_code == 200, label
    out = []
    for label, path in paths.items():
        http: list[float] = []
        raw: list[float] = []
        bare: list[float] = []
        statements = raw_reads(reads[label], org_id, run_id)
        for _ in range(4):
            http.append(_p50_ms(lambda path=path: api.get(path), TYPICAL_ROUNDS // 4))
            raw.append(_p50_ms(lambda s=statements: raw_sql(engine, s), TYPICAL_ROUNDS // 4))
            bare.append(_p50_ms(lambda: api.http.get("/healthz"), TYPICAL_ROUNDS // 4))
        cpu = server_cpu_ms(pid, lambda path=path: api.get(path), TYPICAL_ROUNDS)
        cpu_bare = server_cpu_ms(pid, lambda: api.http.get("/healthz"), TYPICAL_ROUNDS)
        cpu_raw = own_cpu_ms(lambda s=statements: raw_sql(engine, s), TYPICAL_ROUNDS)
        cpus = (
            f"CPU/request: server {cpu:.2f} ms, bare HTTP {cpu_bare:.2f} ms, raw SQL "
            f"{cpu_raw:.2f} ms, ratio {cpu / (cpu_bare + cpu_raw):.2f}"
        )
        out.append((label, median(http), median(raw), median(bare), cpus))
    return out


def main() -> None:
    only_typical = "--typical" in sys.argv[1:]
    print(
        f"typical step ({TYPICAL_ROUNDS} requests each); step detail with 1 MiB of stdout "
        f"({ROUNDS} requests); full log of {BIG_MIB} MiB"
    )
    for name, backend in backends():
        with backend() as db_url, serve(db_url) as (server, engine):  # type: ignore[operator]
            org = make_org(engine)
            api = Api(server, org, "read")
            admin = Api(server, org, "admin")
            pid = server.process.pid
            for label, http, raw, bare, cpus in typical(admin, api, engine, org.id, pid):
                target = " (target p50 <= 2 ms on SQLite)" if label == "step detail" else ""
                print(
                    f"  {name:8s} {label:12s} HTTP p50 {http:.2f} ms{target}   raw SQL p50 "
                    f"{raw:.2f} ms (ratio {http / raw:.1f})   bare HTTP p50 {bare:.2f} ms   "
                    f"ratio to raw SQL + bare HTTP {http / (raw + bare):.2f} (target <= 1.5)"
                )
                print(f"  {'':8s} {'':12s} {cpus}")
            api.close()
            admin.close()
        if only_typical:
            continue
        cap = str(200 * 1024 * 1024)
        with backend() as db_url:  # type: ignore[operator]
            with serve(db_url, JOBTRAIL_LOG_STREAM_CAP=cap) as (server, engine):
                org = make_org(engine)
                api = Api(server, org, "admin")
                p50, p95, size = detail_p50(api)
                run_id = load_big_log(api)
                api.close()
            with serve(db_url) as (fresh, _engine):
                api = Api(fresh, org, "read")
                received, growth, rate = stream_growth(api, fresh.process.pid, run_id)
                api.close()
            print(
                f"  {name:8s} detail p50 {p50:.1f} ms p95 {p95:.1f} ms ({size} chars, target p50 "
                f"<= 20 ms)   full log {received / 1024 / 1024:.0f} MiB at {rate:.0f} MiB/s, "
                f"server RSS growth {growth:.1f} MiB (target < 50 MiB)"
            )


if __name__ == "__main__":
    main()
