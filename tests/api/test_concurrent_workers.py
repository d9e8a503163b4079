"""Two server processes on one PostgreSQL database, many clients sending the same new events in
shuffled, overlapping batches: every request succeeds (no deadlock reaches a client) and each
event is stored once."""

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from jobtrail.store.schema import events, log_chunks
from tests.support import Api, Server, ago, make_org, simple_run, start_server


@pytest.fixture
def two_workers(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[Server]:
    if not db_url.startswith("postgresql"):
        pytest.skip("several server processes share a database on PostgreSQL")
    server = start_server(db_url, tmp_path / "server.log", args=["--workers", "2"])
    yield server
    server.stop()


def test_shuffled_duplicate_batches_on_two_workers_never_fail(
    two_workers: Server, engine: Engine
) -> None:
    org = make_org(engine)
    all_events = [ev for i in range(12) for ev in simple_run(ago(hours=1), f"run-{i}")]
    batches: list[list[dict[str, Any]]] = []
    for client in range(9):  # every client sends every event, in its own order and split
        shuffled = random.Random(client).sample(all_events, len(all_events))
        size = 10 + client * 7
        batches += [shuffled[i : i + size] for i in range(0, len(shuffled), size)]
    random.Random(99).shuffle(batches)
    clients = [Api(two_workers, org, "ingest") for _ in range(6)]

    def send(numbered: tuple[int, list[dict[str, Any]]]) -> tuple[int, str]:
        i, batch = numbered
        resp = clients[i % len(clients)].post("/jobs/v1/events", json={"events": batch})
        return resp.status_code, resp.text

    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(send, enumerate(batches)))
    finally:
        for c in clients:
            c.close()
    assert [a for a in answers if a[0] != 200] == []
    accepted = sum(int(text.split('"accepted":')[1].split(",")[0]) for _, text in answers)
    assert accepted == len(all_events)
    logs = sum(1 for ev in all_events if ev["kind"] == "log")
    with engine.connect() as conn:
        for table, expected in ((events, len(all_events) - logs), (log_chunks, logs)):
            stmt = select(func.count()).select_from(table).where(table.c.org_id == org.id)
            assert conn.execute(stmt).scalar_one() == expected
    assert "Traceback" not in two_workers.log.read_text()
