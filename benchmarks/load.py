"""PostgreSQL at a big organization's size (issue 8): one organization with millions of events
over the last week beside 1,000 small organizations, then

1. the 96-hour window at the cap over HTTP, p50/p95, beside the raw SQL of the same rows;
2. ingestion events/s through 1, 2 and 4 server processes (`serve --workers N`);
3. 50 concurrent clients of mixed traffic (listings, runs, steps, logs, small ingest batches):
   a warm-up of the same traffic, then `--phases` phases of `--seconds` each (3 x 60 s): errors
   (target 0), p50/p99 latency (and by kind of request), deadlocks, and the server's RSS sampled
   twice a second, its median and peak in the warm-up and in each phase (target: flat medians
   after the warm-up; one before/after pair could not tell a leak from pools and allocator
   arenas filling up, nor from what was in flight at that instant);
4. what the daily partitions cost and save: the cross-day key check of a 10,000-event batch
   beside the insert it follows, and retention of one day by DROP of its partitions beside a
   DELETE (committed, then the VACUUM it leaves to do) of the rows of the next day, as big;
   days 5 and 6 back, outside the 96-hour window, so a kept database measures this once.

The store is filled through the store's own ingestion (the server's code path, in process, in
batches of 10,000) rather than over HTTP, which would take most of the run at 10 million events;
every figure is then measured through a server over HTTP (or, for the raw SQL baseline and the
partition costs, on the bare connection). Full size: `python benchmarks/load.py --db NAME`
(10,000,000 events; about 30 min to load on this 2-core machine, shared: 5,600 events/s).
`--db NAME` keeps the filled PostgreSQL database: the next run with the same name measures it
again without loading (a stopped fill goes on where it stopped); drop it by hand when done.
`--parts` picks the figures (e.g. `--parts window` after a change to the listing). Quick look:
`python benchmarks/load.py --events 200000 --seconds 15 --phases 2`. Backends: BENCH_BACKENDS
(postgres; `--db` is PostgreSQL)."""

import argparse
import os
import random
import statistics
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
from _harness import PG_ADMIN_URL, Api, make_org, percentile, rss_kib
from _harness import backends as all_backends
from _reads import _q, raw_sql
from list_runs import BOUNDARY_SQL, RUNS_SQL
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from jobtrail.domain.batches import parse_batch
from jobtrail.settings import normalise_db_url
from jobtrail.store import accounts, migrate, partitions
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


def run_events(org_run: int | str, start: datetime, job: str, env: str) -> list[dict[str, Any]]:
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


def history(
    runs: int, jobs: int, span: timedelta, end: datetime, first: int = 0
) -> Iterator[dict[str, Any]]:
    """`runs` runs spread evenly over `span` ending at `end`, oldest first (from run `first`)."""
    step = span / max(runs, 1)
    for r in range(first, runs):
        yield from run_events(r, end - span + r * step, f"job-{r % jobs}", f"env-{r % 3}")


def fill(engine: Engine, org_id: str, events: Iterator[dict[str, Any]], progress: int = 0) -> int:
    """Store events through the ingestion code path, 10,000 at a time; returns how many.
    With `progress`, a line every that many events (a 10-million fill takes a while)."""
    total, batch, began = 0, [], time.perf_counter()
    for ev in events:
        batch.append(ev)
        if len(batch) == 10_000:
            total += ingest(engine, org_id, parse_batch({"events": batch}), 16 << 20).accepted
            batch = []
            if progress and total % progress < 10_000:
                took = time.perf_counter() - began
                print(f"    {total:,} events in {took:.0f} s ({total / took:,.0f}/s)", flush=True)
    if batch:
        total += ingest(engine, org_id, parse_batch({"events": batch}), 16 << 20).accepted
    return total


@contextmanager
def serving(db_url: str, workers: int, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`jobtrail serve --workers N` on a loopback port, with more environment variables."""
    with tempfile.TemporaryDirectory() as tmp:
        log, more = Path(tmp) / "server.log", env or {}
        server = start_server(db_url, log, args=["--workers", str(workers)], **more)
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


# The API's reads on PostgreSQL as a hand-written server would make them (the boundary read is
# list_runs.py's): the kept events' run ids, then those runs by primary key in listing order.
RUN_IDS_SQL = _q("""SELECT DISTINCT run_id FROM (SELECT run_id FROM events WHERE org_id = %s
    AND ts >= %s AND ts < %s ORDER BY ts DESC, event_id DESC LIMIT 10000) kept""")
RUNS_BY_ID_SQL = _q("""SELECT r.run_id, r.job_id, r.job_name, r.environment, r.run_key, r.state,
    r.state_ts, r.first_event_ts, r.first_running_ts, r.last_ts
FROM runs r WHERE r.org_id = %s AND r.run_id = ANY(%s)
ORDER BY COALESCE(r.first_running_ts, r.first_event_ts) IS NULL,
  COALESCE(r.first_running_ts, r.first_event_ts) DESC, r.job_name, r.environment, r.run_key""")


def two_step_raw(engine: Engine, org_id: str, start: int, end: int) -> int:
    """The boundary read, the run ids, the runs by id, on one bare driver connection."""
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        cur.execute(BOUNDARY_SQL.replace("?", "%s"), (org_id, start, end))
        cur.fetchall()
        cur.execute(RUN_IDS_SQL, (org_id, start, end))
        ids = [row[0] for row in cur.fetchall()]
        cur.execute(RUNS_BY_ID_SQL, (org_id, ids))
        rows = len(cur.fetchall())
        cur.close()
        conn.rollback()
    finally:
        conn.close()
    return rows


def window_figures(server: Server, engine: Engine, org: Org, rounds: int) -> str:
    """The 96-hour window over HTTP beside two raw SQL baselines of the same rows on the bare
    driver connection, in turns (a drift of the machine's load meets all three): list_runs.py's
    (the cut, then the runs `IN` the kept events' in listing order, one statement), and the same
    reads in the API's shape (ids first, then the runs by primary key). At 10 million events
    PostgreSQL runs the `IN` as a hash semi join over a sequential scan of the organization's
    million runs (0.45 s), which the ids-first shape never does: the ratio to beat is the
    second."""
    api = Api(server, org, "admin")
    http: list[float] = []
    raw_in: list[float] = []
    raw_ids: list[float] = []
    for _ in range(rounds):
        began = time.perf_counter()
        resp = api.runs("PT-96H", "PT0S")
        http.append((time.perf_counter() - began) * 1000)
        assert resp.status_code == 200, resp.text
        count = len(resp.json())
        end = int(time.time() * 1_000_000)
        start = end - 96 * 3600 * 1_000_000
        reads = [(BOUNDARY_SQL, (org.id, start, end)), (RUNS_SQL, (org.id, org.id, start, end))]
        began = time.perf_counter()
        in_count = raw_sql(engine, reads) - 2  # less the boundary read's two rows
        raw_in.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        ids_count = two_step_raw(engine, org.id, start, end)
        raw_ids.append((time.perf_counter() - began) * 1000)
    api.close()
    p50, p95 = percentile(http, 50), percentile(http, 95)
    in50, ids50 = percentile(raw_in, 50), percentile(raw_ids, 50)
    return (
        f"96 h window: {count} runs ({in_count}, {ids_count} by the raw SQL), HTTP p50 "
        f"{p50:.1f} ms p95 {p95:.1f} ms; raw SQL ids first p50 {ids50:.1f} ms p95 "
        f"{percentile(raw_ids, 95):.1f} ms, ratio {p50 / ids50:.2f} (target <= 2); raw SQL as "
        f"list_runs.py (IN) p50 {in50:.1f} ms p95 {percentile(raw_in, 95):.1f} ms, ratio "
        f"{p50 / in50:.2f}"
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


def _kind(request: httpx.Request) -> str:
    path = request.url.path
    if request.method == "POST":
        return "ingest"
    if "/logs/" in path:
        return "log tail"
    if "/steps/" in path:
        return "step"
    return "listing" if path.endswith("/runs") else "run"


class Mixed:
    """50 clients, each a loop of weighted requests for a fixed time; counts and latencies."""

    def __init__(self, server: Server, org: Org, run_ids: list[str]) -> None:
        self.server, self.org, self.run_ids = server, org, run_ids
        self.latencies: list[float] = []
        self.by_kind: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.lock = threading.Lock()

    def client(self, index: int, until: float) -> None:
        reader, writer = Api(self.server, self.org, "read"), Api(self.server, self.org, "ingest")
        rng = random.Random(index)
        n = 0
        while time.monotonic() < until:
            n += 1
            began = time.perf_counter()
            kind = "failed"
            try:
                resp = self._request(rng, reader, writer, f"mixed-{index}-{n}")
                label = f"{resp.status_code} {resp.text[:80]}" if resp.status_code >= 300 else ""
                kind = _kind(resp.request)
            except httpx.TransportError as exc:  # counted, not a dead client thread
                label = f"{type(exc).__name__}: {exc}"
            took = (time.perf_counter() - began) * 1000
            with self.lock:
                self.latencies.append(took)
                self.by_kind.setdefault(kind, []).append(took)
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
            # A new run of one of a few jobs, as a real organization's traffic is. (Until
            # 2026-11-29 each request made a job of its own, run "run-0": a job's metrics (runs
            # finished, durations by job and environment) then grew by a labelled child per
            # request in each server process, the growth of the server's RSS under this load.)
            json={"events": run_events(key, start, f"mixed-{rng.randrange(20)}", "mixed")},
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
    leaves to do) on one day, DROP of the partitions of the day before (about as big). Days 5
    and 6 back: the 96-hour window stays whole for a kept database's next run, which finds
    them gone and says so."""
    today = partitions.day_start(int(time.time() * 1_000_000))
    deleted_day, dropped_day = today - 5 * partitions.DAY, today - 6 * partitions.DAY
    bounds = {"lo": deleted_day, "hi": deleted_day + partitions.DAY}
    with engine.connect() as conn:
        if dropped_day not in partitions.days(conn, "events"):
            return "retention: the days measured are gone (a kept database measures it once)"
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


BIG_ORG = "load-big"  # how a kept database's big organization is found again


@contextmanager
def kept_database(name: str) -> Iterator[str]:
    """PostgreSQL database `name`, created when missing and never dropped (`--db`): a filled
    database is measured again without loading it again."""
    admin = create_engine(normalise_db_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if exists is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(normalise_db_url(PG_ADMIN_URL)).set(database=name).render_as_string(False)
    if exists is not None:
        _refuse_foreign(url, name)
    yield url


def _refuse_foreign(url: str, name: str) -> None:
    """A database that was there before is used only when this benchmark filled it (it holds
    the big organization): the benchmark migrates and fills it, and its retention part drops
    days of every organization, which must never reach any other database."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ours = conn.execute(text("SELECT to_regclass('organizations')")).scalar() is not None
            if ours:
                found = text("SELECT 1 FROM organizations WHERE name = :n")
                ours = conn.execute(found, {"n": BIG_ORG}).first() is not None
    finally:
        engine.dispose()
    if not ours:
        raise SystemExit(
            f"--db {name}: the database exists and is not one this benchmark filled (no "
            f"{BIG_ORG!r} organization); name a new database or one it made"
        )


def prepare(db_url: str, events: int) -> tuple[Engine, Org]:
    """The big organization and the small ones, filled unless a kept database has them: a fill
    that was stopped goes on where it stopped (its later runs a little later in time)."""
    engine = make_engine(normalise_db_url(db_url))
    migrate.upgrade(engine)
    found = [org_id for org_id, name in accounts.list_orgs(engine) if name == BIG_ORG]
    big_id = found[0] if found else accounts.create_org(engine, BIG_ORG)
    big = Org(
        big_id, {r: accounts.create_key(engine, big_id, r) for r in ("read", "ingest", "admin")}
    )
    with engine.connect() as conn:
        have = conn.execute(
            text("SELECT count(*) FROM runs WHERE org_id = :o"), {"o": big_id}
        ).scalar_one()
        orgs = conn.execute(text("SELECT count(*) FROM organizations")).scalar_one()
    runs = events // EVENTS_PER_RUN
    if have:
        print(f"  kept database: {have:,} runs ({have * EVENTS_PER_RUN:,} events) in the big org")
    now = datetime.now(UTC) - timedelta(minutes=5)
    if have < runs:
        began = time.perf_counter()
        stored = fill(
            engine,
            big.id,
            history(runs, 500, timedelta(days=6.9), now, first=have),
            progress=1_000_000,
        )
        took = time.perf_counter() - began
        print(
            f"  loaded {stored:,} events for one organization in {took:.0f} s "
            f"({stored / took:,.0f}/s)"
        )
    if orgs <= SMALL_ORGS or have < runs:
        began = time.perf_counter()
        for i in range(orgs - 1, SMALL_ORGS):
            small = make_org(engine)
            fill(engine, small.id, history(6, 2, timedelta(days=6.9), now - timedelta(minutes=i)))
        print(f"  and {SMALL_ORGS} small organizations in {time.perf_counter() - began:.0f} s")
    # What autovacuum does to a day of inserts (statistics, the visibility map that lets the
    # window's index-only scans skip the heap); this PostgreSQL may run with it off. Quick on a
    # kept database measured before.
    began = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
    print(f"  VACUUM (ANALYZE) in {time.perf_counter() - began:.0f} s")
    return engine, big


PARTS = ("window", "ingest", "mixed", "keycheck", "retention")


def deadlocks(engine: Engine) -> int:
    """Deadlocks PostgreSQL broke in this database so far (each after deadlock_timeout)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
        )


@contextmanager
def rss_samples(server: Server, every: float = 0.5) -> Iterator[list[float]]:
    """The server's RSS (MiB) every `every` s while the block runs: one reading at a phase's end
    moves by ±100 MiB with what is in flight at that instant (a listing being encoded, the
    in-server worker's alert round), a phase's median does not."""
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every):
            samples.append(server_rss_mib(server))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


def mixed_figures(db_url: str, engine: Engine, big: Org, args: argparse.Namespace) -> None:
    """A warm-up of the full traffic (every pooled connection and pool thread in use once),
    then `--phases` phases, the server's RSS sampled throughout: its median and peak in each,
    so that growth that goes on (a leak) is told from a warm-up's (pools filling, allocator
    arenas) and from what is in flight at one instant."""
    env = dict(kv.split("=", 1) for kv in args.server_env)
    medians: list[str] = []
    with serving(db_url, 2, env) as server:
        run_ids = recent_run_ids(engine, big.id)
        with rss_samples(server) as samples:
            Mixed(server, big, run_ids).run(args.clients, args.warmup)
        medians.append(f"{statistics.median(samples):.0f}/{max(samples):.0f}")
        for phase in range(args.phases):
            locked = deadlocks(engine)
            mixed = Mixed(server, big, run_ids)
            with rss_samples(server) as samples:
                mixed.run(args.clients, args.seconds)
            locked = deadlocks(engine) - locked
            medians.append(f"{statistics.median(samples):.0f}/{max(samples):.0f}")
            lat = mixed.latencies
            print(
                f"  mixed traffic phase {phase + 1}, {args.clients} clients, 2 server processes"
                f"{' ' + ' '.join(args.server_env) if env else ''}: {len(lat):,} requests "
                f"({len(lat) / args.seconds:,.0f}/s), errors {sum(mixed.errors.values())} "
                f"(target 0), p50 {percentile(lat, 50):.1f} ms p99 {percentile(lat, 99):.1f} ms, "
                f"server RSS median/peak {medians[-1]} MiB",
                flush=True,
            )
            kinds = ", ".join(
                f"{kind} {len(v)} {percentile(v, 50):.0f}/{percentile(v, 99):.0f}"
                for kind, v in sorted(mixed.by_kind.items())
            )
            print(f"    by kind, requests p50/p99 ms: {kinds}; deadlocks {locked}")
            for label, count in sorted(mixed.errors.items()):
                print(f"    {count} x {label}")
    print(
        f"  server RSS median/peak, {args.warmup:.0f} s warm-up then each phase: "
        f"{' -> '.join(medians)} MiB (target: flat medians after the warm-up)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="one mixed-traffic phase")
    parser.add_argument("--phases", type=int, default=3, help="mixed-traffic phases")
    parser.add_argument("--warmup", type=float, default=20.0, help="mixed traffic before RSS")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument(
        "--db",
        help="a PostgreSQL database to keep: filled on the first run, reused (not reloaded) "
        "by the next ones",
    )
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"which figures, of {','.join(PARTS)}"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment of the mixed traffic's server (e.g. MALLOC_ARENA_MAX=2)",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    os.environ.setdefault("BENCH_BACKENDS", "postgres")
    print(f"load: {args.events:,} events, {args.clients} clients for {args.seconds:.0f} s")
    chosen = [("postgres", lambda: kept_database(args.db))] if args.db else all_backends()
    for name, backend in chosen:
        with backend() as db_url:  # type: ignore[operator]
            print(f"  {name}")
            engine, big = prepare(db_url, args.events)
            for workers in (1, 2, 4) if "ingest" in parts else (1,) if "window" in parts else ():
                with serving(db_url, workers) as server:
                    if workers == 1 and "window" in parts:
                        print("  " + window_figures(server, engine, big, args.rounds), flush=True)
                    if "ingest" in parts:
                        rate = ingest_rate(server, big, 2000, senders=2 * workers)
                        print(f"  ingest with {workers} server process(es): {rate:,.0f} events/s")
            if "mixed" in parts:
                mixed_figures(db_url, engine, big, args)
            if "keycheck" in parts:
                print("  " + key_check_figures(engine, big), flush=True)
            if "retention" in parts:
                print("  " + retention_figures(engine))
            engine.dispose()


if __name__ == "__main__":
    main()
