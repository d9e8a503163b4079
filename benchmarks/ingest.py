"""Ingestion throughput: batches of 1,000 realistic events over HTTP to one server process,
against a baseline that inserts the same event rows straight into the same database with
executemany. Target on SQLite: at least 25,000 events/s; issue 14: HTTP at least 0.6 of the
baseline. Two baselines: the `events` and `log_chunks` rows only (as first defined), and every
row the API writes for the batch (also its `runs`, `steps` and `log_streams` rows, overwritten
by a plain upsert), each run after the HTTP phase on the same database with an organization of
its own.

Beside them, in the same round, two in-process figures that say how much of the gap any server
could close. The floor: what ingestion cannot skip, each batch's JSON body decoded and
validated by the API's own pydantic-core schema, and every row the API writes written by the
store's own writer (`write_prepared`, with its key checks, one transaction per batch), with no
HTTP, no group commit and no per-event Python between them (the batch folded into rows before
the clock starts). The API path in process: the same with that Python (the kind and time checks,
the fold into rows) timed too, i.e. everything the server does for a batch but HTTP, the event
loop, the group committer and the metrics.

Each round starts a fresh server and database, measures HTTP then the baseline on it; the
figures are medians over the rounds with their range, because wall-clock rates on a shared
machine swing by 2x between runs. Beside them, CPU per event: the server process's CPU time
against the baseline's own (less sensitive to other load, and what bounds the rate on a small
machine: the server's Python runs under one GIL).

    python benchmarks/ingest.py [--rounds 3]    # BENCH_BACKENDS=sqlite,postgres
"""

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from _harness import Api, backends, make_org, serve

from jobtrail.domain.batches import batch_events, parse_batch, validated_json
from jobtrail.domain.materialise import fold
from jobtrail.settings import Settings
from jobtrail.store.accounts import now_micros
from jobtrail.store.dialect import insert, write_transaction
from jobtrail.store.ingest import prepare, rows_of, write_prepared
from jobtrail.store.schema import events as events_table
from jobtrail.store.schema import log_chunks, log_streams, runs, steps
from tests.support import event

TOTAL = 60_000
BATCH = 1_000
CLIENTS = 4


def _event(run: int, t: datetime, kind: str, offset: float, **fields: Any) -> dict[str, Any]:
    at = t + timedelta(seconds=offset)
    return event(kind, at, f"run-{run}", job=f"job-{run % 20}", env="com.acme-prod1", **fields)


def realistic_events(total: int) -> list[dict[str, Any]]:
    """Runs of a five-step DAG: run and step state changes, and log chunks of ~250 bytes."""
    out: list[dict[str, Any]] = []
    start = datetime.now(UTC) - timedelta(hours=30)
    steps = ["git-clone-cache", "extract", "transform", "run-dbt", "publish"]
    run = 0
    while len(out) < total:
        t = start + timedelta(seconds=run * 2)
        out.append(_event(run, t, "run", 0, state="RUNNING"))
        for i, name in enumerate(steps):
            step = {"name": name, "dependencies": [steps[i - 1]] if i else []}
            out.append(_event(run, t, "step", i, step=step, state="RUNNING", attempt=1))
            for seq in range(2):
                data = f"{name}: processed batch {seq} of table analytics.events_{seq}\n" * 4
                log = {"step": {"name": name}, "stream": "stdout", "data": data, "seq": seq}
                out.append(_event(run, t, "log", i + 0.2, **log))
            out.append(_event(run, t, "step", i + 0.5, step=step, state="SUCCEEDED", exitCode=0))
        out.append(_event(run, t, "run", 6, state="SUCCEEDED"))
        run += 1
    return out[:total]


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_rate(api: Api, events: list[dict[str, Any]]) -> float:
    bodies = _bodies(events)
    headers = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"}
    url = f"{api.prefix}/jobs/v1/events"

    def send(body: bytes) -> None:
        resp = api.http.post(url, content=body, headers=headers)
        resp.raise_for_status()

    began = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, bodies))
    return len(events) / (time.perf_counter() - began)


def baseline_rate(
    engine: Any, org_id: str, events: list[dict[str, Any]], every_row: bool = False
) -> tuple[float, float]:
    """The rows the API stores for these events (state changes into `events`, log chunks into
    `log_chunks`), inserted with SQLAlchemy executemany, one transaction per batch, no checks.
    With `every_row`, also the batch's folded `runs`, `steps` and `log_streams` rows, which the
    API writes too (a plain upsert each, overwriting: no merge rule). Returns events/s and CPU
    seconds."""
    batches = []
    for i in range(0, len(events), BATCH):
        folded = fold(org_id, parse_batch({"events": events[i : i + BATCH]}))
        event_rows = list(folded.events)
        chunks = [{**c.__dict__, "size": len(c.data)} for c in folded.chunks.values()]
        rows = rows_of(folded)
        streams: dict[tuple[str, str, str], dict[str, Any]] = {}
        for c in chunks:
            key = (c["run_id"], c["step_name"], c["stream"])
            stream = streams.setdefault(
                key,
                {"org_id": org_id, "run_id": key[0], "step_name": key[1], "stream": key[2],
                 "kept_bytes": 0, "dropped_bytes": 0, "dropped_lo": None, "dropped_hi": None},
            )  # fmt: skip
            stream["kept_bytes"] += c["size"]
        more = [(runs, rows.runs), (steps, rows.steps), (log_streams, list(streams.values()))]
        batches.append((event_rows, chunks, more if every_row else []))
    dialect = engine.dialect.name
    began, cpu = time.perf_counter(), time.process_time()
    for rows, chunks, more in batches:
        with engine.begin() as conn:
            conn.execute(events_table.insert(), rows)
            conn.execute(log_chunks.insert(), chunks)
            for table, table_rows in more:
                conn.execute(_overwrite(table, dialect), table_rows)
    return len(events) / (time.perf_counter() - began), time.process_time() - cpu


def _bodies(events: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps({"events": events[i : i + BATCH]}) for i in range(0, len(events), BATCH)]


def in_process_rate(
    engine: Any, org_id: str, events: list[dict[str, Any]], whole_path: bool = False
) -> tuple[float, float]:
    """The floor: each batch's body validated from its bytes (`validated_json`, the API's
    pydantic-core schema) and its rows written by `write_prepared`, the API's writer, one
    transaction per batch. The batch is folded into rows beforehand, off the clock. With
    `whole_path`, the API's path in process: the checks and the fold timed too. Returns
    events/s and CPU seconds."""
    settings = Settings()
    bounds = settings.time_bounds(now_micros())
    bodies = _bodies(events)
    ready = [] if whole_path else [prepare(org_id, _checked(body, bounds)) for body in bodies]
    began, cpu = time.perf_counter(), time.process_time()
    for i, body in enumerate(bodies):
        batch = validated_json(body)
        assert batch is not None
        prepared = prepare(org_id, batch_events(batch, bounds)) if whole_path else ready[i]
        with write_transaction(engine) as conn:
            write_prepared(conn, prepared, settings.log_stream_cap)
    return len(events) / (time.perf_counter() - began), time.process_time() - cpu


def _checked(body: bytes, bounds: Any) -> Any:
    batch = validated_json(body)
    assert batch is not None
    return batch_events(batch, bounds)


def _overwrite(table: Any, dialect: str) -> Any:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE SET every other column."""
    stmt = insert(table, dialect)
    key = list(table.primary_key.columns)
    rest = {c.name: stmt.excluded[c.name] for c in table.c if not c.primary_key and not c.computed}
    return stmt.on_conflict_do_update(index_elements=key, set_=rest)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):9,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _ratio(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="fresh server and database each")
    rounds = parser.parse_args().rounds
    events = realistic_events(TOTAL)
    size = sum(len(orjson.dumps(e)) for e in events[:BATCH])
    print(
        f"ingestion: {TOTAL} events, batches of {BATCH} (~{size // 1024} KiB), {CLIENTS} clients,"
        f" median (min-max) of {rounds} rounds"
    )
    for name, backend in backends():
        http: list[float] = []
        cpu: list[float] = []
        base: dict[bool, list[float]] = {False: [], True: []}
        base_cpu: dict[bool, list[float]] = {False: [], True: []}
        ratios: dict[bool, list[float]] = {False: [], True: []}
        # In process: the floor (False) and the API's whole path (True), as events/s, CPU per
        # event, ratio to baseline (a) and HTTP's ratio to it.
        own: dict[bool, list[float]] = {False: [], True: []}
        own_cpu: dict[bool, list[float]] = {False: [], True: []}
        of_base: dict[bool, list[float]] = {False: [], True: []}
        http_of: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(rounds):
            with backend() as db_url, serve(db_url) as (server, engine):  # type: ignore[operator]
                api = Api(server, make_org(engine), "ingest")
                before = _cpu_seconds(server.process.pid)
                http.append(http_rate(api, events))
                cpu.append((_cpu_seconds(server.process.pid) - before) / TOTAL * 1e6)
                for every_row in (False, True):
                    org = make_org(engine).id
                    rate, seconds = baseline_rate(engine, org, realistic_events(TOTAL), every_row)
                    base[every_row].append(rate)
                    base_cpu[every_row].append(seconds / TOTAL * 1e6)
                    ratios[every_row].append(http[-1] / rate)
                for whole_path in (False, True):
                    org = make_org(engine).id
                    fresh = realistic_events(TOTAL)
                    rate, seconds = in_process_rate(engine, org, fresh, whole_path)
                    own[whole_path].append(rate)
                    own_cpu[whole_path].append(seconds / TOTAL * 1e6)
                    of_base[whole_path].append(rate / base[False][-1])
                    http_of[whole_path].append(http[-1] / rate)
                api.close()
        target = "  target >= 25,000 events/s" if name == "sqlite" else ""
        print(f"  {name}")
        row = "    {:36s} {} events/s  CPU {:5.1f} µs/event  {}"
        print(row.format("HTTP, one server", _spread(http), statistics.median(cpu), target))
        labels = {False: "(a) baseline: events + log_chunks", True: "(b) baseline: every row"}
        for every_row, label in labels.items():
            goal = "  (issue 14: >= 0.6)" if not every_row else ""
            note = f"HTTP ÷ {label[:3]} {_ratio(ratios[every_row])}{goal}"
            print(row.format(label, _spread(base[every_row]), _median(base_cpu[every_row]), note))
        kinds = {False: "floor: validate + write_prepared", True: "API path in process"}
        for whole_path, label in kinds.items():
            note = f"÷ (a) {_ratio(of_base[whole_path])}, HTTP ÷ it {_ratio(http_of[whole_path])}"
            print(row.format(label, _spread(own[whole_path]), _median(own_cpu[whole_path]), note))


if __name__ == "__main__":
    main()
