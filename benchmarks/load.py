"""PostgreSQL at a big organization's size (issue 8): one organization with millions of events
over the last week beside 1,000 small organizations, then

1. the 96-hour window at the cap over HTTP, p50/p95, beside the raw SQL of the same rows;
2. ingestion events/s through 1, 2 and 4 server processes (`serve --workers N`);
3. 50 concurrent clients for 60 s of mixed traffic (listings, runs, steps, logs, small ingest
   batches): errors (target 0), p50/p99 latency, server RSS before and after (target: flat);
4. what the daily partitions cost and save: the cross-day key check of a 10,000-event batch
   beside the insert it follows, and retention of one day by DROP of its partitions beside a
   DELETE of the same rows (rolled back, so the day is there for the DROP).

The store is filled through the store's own ingestion (the server's code path, in process, in
batches of 10,000) rather than over HTTP, which would take most of the run at 10 million events.
Full size: `python benchmarks/load.py` (10,000,000 events; about 10 min to load here). Quick look:
`python benchmarks/load.py --events 200000 --seconds 15`. Backends: BENCH_BACKENDS (postgres)."""

import argparse
import os
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from _harness import Api, make_org, percentile, rss_kib
from _harness import backends as all_backends
from list_runs import RAW_SQL
from sqlalchemy import Engine, text

from jobtrail.domain.batches import parse_batch
from jobtrail.settings import normalise_db_url
from jobtrail.store import migrate, partitions
from jobtrail.store.dialect import executemany, make_engine
from jobtrail.store.ingest import ingest
from jobtrail.store.ingest import prepare as prepare_batch
from jobtrail.store.schema import events as events_table
from tests.support import Org, Server, event, start_server

STEPS = ("extract", "transform", "publish")
# run RUNNING/SUCCEEDED, each step RUNNING/SUCCEEDED, one log chunk
EVENTS_PER_RUN = 3 + 2 * len(STEPS)
SMALL_ORGS = 1_000
CAP = 10_000


def run_events(org_run: int, start: datetime, job: str, env: str) -> list[dict[str, Any]]:
    """One run of a three-step chain, one log chunk on its last step."""
    key, s = f"run-{org_run}", timedelta(seconds=1)
    kw: dict[str, Any] = {"job": job, "env": env}
    out = [event("run", start, key, state="RUNNING", **kw)]
    for i, name in enumerate(STEPS):
        step = {"name": name, "dependencies": [STEPS[i - 1]] if i else []}
        out.append(event("step", start + (2 * i + 1) * s, key, step=step, state="RUNNING", **kw))
        out.append(event("step", start + (2 * i + 2) * s, key, step=step, state="SUCCEEDED", **kw))
    line = f"{key} published {job}\n"
    out.append(
        event("log", start + 6 * s, key, step="publish", stream="stdout", data=line, seq=0, **kw)
    )
    out.append(event("run", start + 8 * s, key, state="SUCCEEDED", **kw))
    return out


def history(runs: int, jobs: int, span: timedelta, end: datetime) -> Iterator[dict[str, Any]]:
    """`runs` runs spread evenly over `span` ending at `end`, oldest first."""
    step = span / max(runs, 1)
    for r in range(runs):
        yield from run_events(r, end - span + r * step, f"job-{r % jobs}", f"env-{r % 3}")


def fill(engine: Engine, org_id: str, events: Iterator[dict[str, Any]]) -> int:
    """Store events through the ingestion code path, 10,000 at a time; returns how many."""
    total, batch = 0, []
    for ev in events:
        batch.append(ev)
        if len(batch) == 10_000:
            total += ingest(engine, org_id, parse_batch({"events": batch}), 16 << 20).accepted
            batch = []
    if batch:
        total += ingest(engine, org_id, parse_batch({"events": batch}), 16 << 20).accepted
    return total


@contextmanager
def serving(db_url: str, workers: int) -> Iterator[Server]:
    """`jobtrail serve --workers N` on a loopback port."""
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(db_url, Path(tmp) / "server.log", args=["--workers", str(workers)])
        try:
            yield server
        finally:
            server.stop()


def server_rss_mib(server: Server) -> float:
    """The server's processes together: the uvicorn parent and its workers."""
    pids = [server.process.pid]
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    return sum(rss_kib(p) for p in pids) / 1024


RAW_WINDOW_SQL = RAW_SQL  # the listing benchmark's statement: the same rows as the API


def window_figures(server: Server, engine: Engine, org: Org, rounds: int) -> str:
    api = Api(server, org, "admin")
    http: list[float] = []
    for _ in range(rounds):
        began = time.perf_counter()
        resp = api.runs("PT-96H", "PT0S")
        http.append((time.perf_counter() - began) * 1000)
        assert resp.status_code == 200, resp.text
    count = len(resp.json())
    api.close()
    raw: list[float] = []
    end = int(time.time() * 1_000_000)
    params = {"org": org.id, "start": end - 96 * 3600 * 1_000_000, "end": end}
    for _ in range(rounds):
        began = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(text(RAW_WINDOW_SQL), params).all()
        raw.append((time.perf_counter() - began) * 1000)
    p50, p95, raw50 = percentile(http, 50), percentile(http, 95), percentile(raw, 50)
    return (
        f"96 h window: {count} runs, HTTP p50 {p50:.1f} ms p95 {p95:.1f} ms, raw SQL p50 "
        f"{raw50:.1f} ms p95 {percentile(raw, 95):.1f} ms, ratio {p50 / raw50:.2f} (target <= 2)"
    )


def ingest_rate(server: Server, org: Org, runs: int, senders: int) -> float:
    """New runs in batches of ~1,000 events from `senders` concurrent clients."""
    now = datetime.now(UTC) - timedelta(minutes=30)
    tag = random.randrange(1 << 30)
    events = [
        e
        for r in range(runs)
        for e in run_events(r, now + timedelta(milliseconds=r), f"load-{tag}-{r % 50}", "ingest")
    ]
    per = 1000 // EVENTS_PER_RUN * EVENTS_PER_RUN
    batches = [orjson.dumps({"events": events[i : i + per]}) for i in range(0, len(events), per)]
    apis = [Api(server, org, "ingest") for _ in range(senders)]

    def send(i: int) -> None:
        api = apis[i % senders]
        resp = api.post(
            "/jobs/v1/events",
            content=batches[i],
            headers={"Content-Type": "application/json"},
        )
        assert resp.status_code == 200, resp.text

    began = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, range(len(batches))))
    rate = len(events) / (time.perf_counter() - began)
    for api in apis:
        api.close()
    return rate


class Mixed:
    """50 clients, each a loop of weighted requests for a fixed time; counts and latencies."""

    def __init__(self, server: Server, org: Org, run_ids: list[str]) -> None:
        self.server, self.org, self.run_ids = server, org, run_ids
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.lock = threading.Lock()

    def client(self, index: int, until: float) -> None:
        reader, writer = Api(self.server, self.org, "read"), Api(self.server, self.org, "ingest")
        rng = random.Random(index)
        n = 0
        while time.monotonic() < until:
            n += 1
            began = time.perf_counter()
            try:
                resp = self._request(rng, reader, writer, f"mixed-{index}-{n}")
                label = f"{resp.status_code} {resp.text[:80]}" if resp.status_code >= 300 else ""
            except httpx.TransportError as exc:  # counted, not a dead client thread
                label = f"{type(exc).__name__}: {exc}"
            took = (time.perf_counter() - began) * 1000
            with self.lock:
                self.latencies.append(took)
                if label:
                    self.errors[label] = self.errors.get(label, 0) + 1
        reader.close()
        writer.close()

    def _request(self, rng: random.Random, reader: Api, writer: Api, key: str) -> httpx.Response:
        roll = rng.random()
        run_id = rng.choice(self.run_ids)
        if roll < 0.25:
            return reader.runs(f"PT-{rng.choice((1, 6, 24))}H", "PT0S")
        if roll < 0.5:
            return reader.get(f"/jobs/v1/runs/{run_id}")
        if roll < 0.65:
            return reader.get(f"/jobs/v1/runs/{run_id}/steps/publish")
        if roll < 0.75:
            log = f"/jobs/v1/runs/{run_id}/steps/publish/logs/stdout"
            return reader.get(log, params={"tail": 20})
        start = datetime.now(UTC) - timedelta(seconds=30)
        return writer.post(
            "/jobs/v1/events",
            json={"events": run_events(0, start, key, "mixed")},
        )

    def run(self, clients: int, seconds: float) -> None:
        until = time.monotonic() + seconds
        threads = [threading.Thread(target=self.client, args=(i, until)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def key_check_figures(engine: Engine, org: Org, rounds: int = 5) -> str:
    """The cross-day eventId check (store/partitions.clashes) of a 10,000-event batch, beside
    the insert of the same rows (one transaction, rolled back) and beside a whole ingest of
    such a batch (which includes the check)."""
    now = datetime.now(UTC) - timedelta(hours=2)
    insert_ms: list[float] = []
    check_ms: list[float] = []
    ingest_ms: list[float] = []
    for i in range(rounds):
        batch = list(history(10_000 // EVENTS_PER_RUN, 20, timedelta(hours=1), now))
        rows = prepare_batch(org.id, parse_batch({"events": batch})).optimistic.events
        with engine.connect() as conn, conn.begin() as tx:
            began = time.perf_counter()
            executemany(conn, events_table.insert(), rows)
            insert_ms.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            assert not partitions.clashes(conn, "events", rows)
            check_ms.append((time.perf_counter() - began) * 1000)
            tx.rollback()
        fresh = list(history(10_000 // EVENTS_PER_RUN, 20, timedelta(hours=1), now))
        for e in fresh:
            e["runKey"] = f"check-{i}-{e['runKey']}"
        began = time.perf_counter()
        ingest(engine, org.id, parse_batch({"events": fresh}), 16 << 20)
        ingest_ms.append((time.perf_counter() - began) * 1000)
    check, insert, whole = (percentile(v, 50) for v in (check_ms, insert_ms, ingest_ms))
    return (
        f"cross-day eventId check of {len(rows):,} state events: p50 {check:.0f} ms, beside "
        f"their bare insert p50 {insert:.0f} ms ({check / insert:.2f}x) and a whole ingest of "
        f"{len(batch):,} events p50 {whole:.0f} ms ({check / whole:.0%} of it; {rounds} rounds)"
    )


def retention_figures(engine: Engine) -> str:
    """Retention of one full day: DELETE of its rows (committed, then the VACUUM that a DELETE
    leaves to do) on one day, DROP of the partitions of the day before (about as big)."""
    today = partitions.day_start(int(time.time() * 1_000_000))
    deleted_day, dropped_day = today - 3 * partitions.DAY, today - 4 * partitions.DAY
    bounds = {"lo": deleted_day, "hi": deleted_day + partitions.DAY}
    with engine.connect() as conn:
        dropped_rows = sum(
            conn.execute(
                text(f"SELECT count(*) FROM {partitions.partition_name(t, dropped_day)}")
            ).scalar_one()
            for t in partitions.TABLES
        )
    deleted = 0
    began = time.perf_counter()
    with engine.connect() as conn, conn.begin():
        for table in partitions.TABLES:
            deleted += conn.execute(
                text(f"DELETE FROM {table} WHERE ts >= :lo AND ts < :hi"), bounds
            ).rowcount
    delete_s = time.perf_counter() - began
    began = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in partitions.TABLES:
            conn.execute(text(f"VACUUM {partitions.partition_name(table, deleted_day)}"))
    vacuum_s = time.perf_counter() - began
    began = time.perf_counter()
    with engine.connect() as conn, conn.begin():
        for table in partitions.TABLES:
            conn.execute(text(f"DROP TABLE {partitions.partition_name(table, dropped_day)}"))
    drop_s = time.perf_counter() - began
    return (
        f"retention of one day: DROP of its partitions ({dropped_rows:,} event and log chunk "
        f"rows) {drop_s * 1000:.0f} ms; DELETE of the rows of the next day ({deleted:,}) "
        f"{delete_s * 1000:.0f} ms plus its VACUUM {vacuum_s * 1000:.0f} ms "
        f"({(delete_s + vacuum_s) / drop_s:,.0f}x the DROP)"
    )


def recent_run_ids(engine: Engine, org_id: str, limit: int = 2000) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT run_id FROM runs WHERE org_id = :org ORDER BY last_event_ts DESC LIMIT :n"
            ),
            {"org": org_id, "n": limit},
        ).scalars()
        return list(rows)


def prepare(db_url: str, events: int) -> tuple[Engine, Org]:
    engine = make_engine(normalise_db_url(db_url))
    migrate.upgrade(engine)
    now = datetime.now(UTC) - timedelta(minutes=5)
    big = make_org(engine)
    began = time.perf_counter()
    stored = fill(engine, big.id, history(events // EVENTS_PER_RUN, 500, timedelta(days=6.9), now))
    took = time.perf_counter() - began
    print(
        f"  loaded {stored:,} events for one organization in {took:.0f} s ({stored / took:,.0f}/s)"
    )
    began = time.perf_counter()
    for i in range(SMALL_ORGS):
        small = make_org(engine)
        fill(engine, small.id, history(6, 2, timedelta(days=6.9), now - timedelta(minutes=i)))
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    print(f"  and {SMALL_ORGS} small organizations in {time.perf_counter() - began:.0f} s")
    return engine, big


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("BENCH_BACKENDS", "postgres")
    print(f"load: {args.events:,} events, {args.clients} clients for {args.seconds:.0f} s")
    for name, backend in all_backends():
        with backend() as db_url:  # type: ignore[operator]
            print(f"  {name}")
            engine, big = prepare(db_url, args.events)
            for workers in (1, 2, 4):
                with serving(db_url, workers) as server:
                    if workers == 1:
                        print("  " + window_figures(server, engine, big, args.rounds))
                    rate = ingest_rate(server, big, 2000, senders=2 * workers)
                    print(f"  ingest with {workers} server process(es): {rate:,.0f} events/s")
            with serving(db_url, 2) as server:
                mixed = Mixed(server, big, recent_run_ids(engine, big.id))
                mixed.run(4, 3)  # warm-up: connections, caches, first plans
                before = server_rss_mib(server)
                mixed = Mixed(server, big, mixed.run_ids)
                mixed.run(args.clients, args.seconds)
                after = server_rss_mib(server)
            lat = mixed.latencies
            print(
                f"  mixed traffic, {args.clients} clients, 2 server processes: "
                f"{len(lat):,} requests ({len(lat) / args.seconds:,.0f}/s), "
                f"errors {sum(mixed.errors.values())} (target 0), p50 {percentile(lat, 50):.1f} "
                f"ms p99 {percentile(lat, 99):.1f} ms, server RSS {before:.0f} -> {after:.0f} MiB"
            )
            for label, count in sorted(mixed.errors.items()):
                print(f"    {count} x {label}")
            print("  " + key_check_figures(engine, big))
            print("  " + retention_figures(engine))
            engine.dispose()


if __name__ == "__main__":
    main()
