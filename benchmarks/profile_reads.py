"""Where the time of a read goes, per endpoint: py-spy samples a real server process (all its
threads) while a loop requests one endpoint, and each sample is put in one bucket by the frames
on its stack: auth, SQL (SQLAlchemy and the driver), Python shaping (rows to dicts), serialisation
(JSON to bytes) and HTTP (uvicorn, Starlette, FastAPI's routing, parameters and thread hop).

Needs py-spy (`pip install py-spy`; PY_SPY names the binary if it is not on PATH).
`python benchmarks/profile_reads.py [--seconds 6]`; backends from BENCH_BACKENDS."""

import argparse
import linecache
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from _harness import Api, backends, make_org, serve
from _reads import DETAIL_STEP, run_events, seed_detail_run
from list_runs import window_events
from sqlalchemy import text

TOP_FRAMES = 0
BUCKETS = ("auth", "SQL", "shaping", "serialisation", "HTTP")

_AUTH = ("jobtrail/api/auth.py", "jobtrail/api/tokens.py", "jwt/", "jobtrail/api/context.py",
         "jobtrail/store/ratelimit.py")  # fmt: skip
_SQL = ("sqlalchemy/", "psycopg", "sqlite3", "jobtrail/store/")
_SERIALISE = ("dumps", "json_response", "render", "_json_body", "init_headers")
# Handlers and what they call; the middlewares (limits, metrics) count as HTTP.
_SHAPING = ("jobtrail/api/routes_", "jobtrail/api/serialise.py", "jobtrail/domain/")
# Handing a request's work to a thread and back (anyio, asyncio, threading): framework, though
# it runs under the handler's frame.
_HOP = ("anyio/", "asyncio/", "threading.py", "queue.py", "concurrent/")


def _calls_orjson(frame: str) -> bool:
    """Whether a frame's line calls orjson: its C code has no frame of its own, so its time
    shows as the line of ours that called it."""
    where = frame.rpartition("(")[2].rstrip(")")
    path, _, line = where.rpartition(":")
    return line.isdigit() and "orjson.dumps" in linecache.getline(path, int(line))


def classify(frames: list[str]) -> str:
    """A sample's bucket from its frames (root first): auth and SQL win wherever they are on
    the stack; serialisation is the innermost frame's; anything else of jobtrail's is shaping;
    the rest is the HTTP server and framework."""
    if any(part in f for f in frames for part in _AUTH):
        return "auth"
    if any(part in f for f in frames for part in _SQL):
        return "SQL"
    leaf = frames[-1]
    if ("jobtrail/" in leaf and leaf.split(" ", 1)[0] in _SERIALISE) or "orjson" in leaf:
        return "serialisation"
    if "jobtrail/" in leaf and _calls_orjson(leaf):
        return "serialisation"
    if any(f.split(" ", 1)[0] in _SERIALISE and "starlette/" in f for f in frames[-3:]):
        return "serialisation"
    if any(part in leaf for part in _HOP):
        return "HTTP"
    if any(part in f for f in frames for part in _SHAPING):
        return "shaping"
    return "HTTP"


def http_part(frames: list[str]) -> str:
    """Where in the HTTP bucket a sample falls: FastAPI's dependencies and parameters, its
    routing, the hop to a thread and back, uvicorn and the event loop, or the rest (Starlette's
    request-response cycle, the middlewares)."""
    stack = ";".join(frames)
    if "solve_dependencies" in stack:
        return "dependencies"
    if "_match" in stack or "matches (" in stack:
        return "routing"
    hop = ("concurrent/futures", "_in_thread", "run_in_threadpool", "anyio/")
    if any(part in frames[-1] for part in _HOP) or any(part in stack for part in hop):
        return "thread hop"
    if "RequestResponseCycle.send" in stack or any(
        part in frames[-1] for part in ("uvicorn/", "Runner.run")
    ):
        return "uvicorn"
    return "other"


HTTP_PARTS = ("dependencies", "routing", "thread hop", "uvicorn", "other")
TOP: Counter[tuple[str, str]] = Counter()  # (bucket, innermost jobtrail-or-leaf frame)
PARTS: Counter[str] = Counter()  # the HTTP bucket's samples by http_part


def parse_raw(path: Path) -> Counter[str]:
    """py-spy's raw (collapsed) output: `frame;frame;... count` per line, root first."""
    buckets: Counter[str] = Counter()
    TOP.clear()
    PARTS.clear()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = [f for f in stack.split(";") if "(" in f]
        if frames:
            bucket = classify(frames)
            buckets[bucket] += int(count)
            TOP[bucket, _where(frames)] += int(count)
            if bucket == "HTTP":
                PARTS[http_part(frames)] += int(count)
    return buckets


def _where(frames: list[str]) -> str:
    """The leaf, and the innermost jobtrail frame when the leaf is not one of ours."""
    ours = [f for f in frames if "jobtrail/" in f]
    leaf = frames[-1].replace(os.sep.join(("", "site-packages", "")), "")
    return leaf if not ours or ours[-1] == frames[-1] else f"{leaf} < {ours[-1]}"


RATE = 500  # samples per second


def profile(
    pid: int, seconds: float, request: Callable[[], object], keep: Path | None = None
) -> tuple[Counter[str], float, int]:
    """Sample `pid` while `request` runs in a loop for `seconds`: (samples per bucket, ms per
    request at the client, requests). Samples are taken only from the thread holding the GIL
    (`--gil`): the server's own CPU time, without threads waiting or the loop idle in epoll;
    the database's time with the GIL released (SQLite's C, PostgreSQL's answer) is left out."""
    spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy not found: pip install py-spy, or set PY_SPY")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "raw.txt"
        cmd = [spy, "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw",
               "--full-filenames", "--gil", "--output", str(out)]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # py-spy attaches
        done, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            request()
            done += 1
        elapsed = time.perf_counter() - began
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        if keep is not None:
            shutil.copyfile(out, keep)
        return parse_raw(out), elapsed / done * 1000, done


def report(name: str, buckets: Counter[str], ms: float, done: int) -> None:
    """Per bucket: server CPU µs per request (samples / rate / requests) and its share."""
    total = sum(buckets.values()) or 1
    per = {b: buckets[b] / RATE / done * 1_000_000 for b in BUCKETS}
    parts = "  ".join(f"{b} {per[b]:.0f} ({100 * buckets[b] / total:.0f}%)" for b in BUCKETS)
    print(
        f"    {name:12s} {ms:6.2f} ms/request at the client (profiled), server CPU "
        f"{sum(per.values()):.0f} µs:  {parts}"
    )
    http = "  ".join(f"{p} {PARTS[p] / RATE / done * 1_000_000:.0f}" for p in HTTP_PARTS)
    print(f"    {'':12s} of which HTTP (µs): {http}")
    for (bucket, where), count in TOP.most_common(TOP_FRAMES):
        print(f"        {100 * count / total:4.1f}% {bucket:13s} {where[-150:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--top", type=int, default=0, help="print the N busiest frames")
    parser.add_argument("--only", default="", help="endpoints whose label contains this")
    parser.add_argument("--keep", type=Path, help="a folder to keep py-spy's raw output in")
    args = parser.parse_args()
    global TOP_FRAMES
    TOP_FRAMES = args.top
    print("server CPU µs per request, by bucket (py-spy --gil over a request loop)")
    for name, backend in backends():
        with backend() as db_url, serve(db_url) as (server, engine):  # type: ignore[operator]
            org = make_org(engine)
            api = Api(server, org, "admin")
            run_id = seed_detail_run(api)
            start = datetime.now(UTC) - timedelta(hours=20)
            for i in range(20):  # other runs, so the reads are not of a lone row
                api.ingest(run_events(f"other-{i}", start + timedelta(minutes=i), job="other"))
            listing = window_events()
            for i in range(0, len(listing), 5000):
                api.ingest(listing[i : i + 5000])
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
            reader = Api(server, org, "read")
            run = f"/jobs/v1/runs/{run_id}"
            endpoints: list[tuple[str, Callable[[], object]]] = [
                ("step detail", partial(reader.get, f"{run}/steps/{DETAIL_STEP}")),
                ("run detail", partial(reader.get, run)),
                ("steps", partial(reader.get, f"{run}/steps")),
                ("listing 96h", partial(reader.runs, "PT-96H", "PT0S")),
                ("bare HTTP", partial(reader.http.get, "/healthz")),  # the floor: no auth, no store
            ]
            print(f"  {name}")
            for label, request in endpoints:
                if args.only not in label:
                    continue
                for _ in range(20):
                    request()  # warm up
                keep = None
                if args.keep is not None:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    keep = args.keep / f"{name}-{label.replace(' ', '-')}.txt"
                buckets, ms, done = profile(server.process.pid, args.seconds, request, keep)
                report(label, buckets, ms, done)
            reader.close()
            api.close()


if __name__ == "__main__":
    main()
