"""kill -9 of the server in the middle of concurrent ingestion: after a restart every
acknowledged event is stored, and no batch is stored in part."""

import threading
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select

from jobtrail.domain import identity
from jobtrail.store.schema import events, log_chunks, runs
from tests.support import Api, Org, ago, make_org, simple_run, start_server

WRITERS = 4


def _write(api: Api, writer: int, acked: list[str], sent: list[str], down: threading.Event) -> None:
    """Posts whole runs (9 events each) until the server is gone."""
    i = 0
    while not down.is_set():
        key = f"w{writer}-{i}"
        i += 1
        sent.append(key)
        try:
            resp = api.post("/jobs/v1/events", json={"events": simple_run(ago(minutes=5), key)})
        except httpx.HTTPError:
            return
        assert resp.status_code == 200, resp.text
        acked.append(key)


def _counts(engine: Engine, org: Org, key: str) -> tuple[int, int, int]:
    run_id = identity.run_id(org.id, identity.job_id(org.id, "prod", "webmodel"), key)
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(
                select(func.count())
                .select_from(t)
                .where(t.c.org_id == org.id, t.c.run_id == run_id)
            ).scalar_one()
            for t in (runs, events, log_chunks)
        )


def test_kill_9_during_concurrent_ingest_loses_nothing_acknowledged(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    org = make_org(engine)
    server = start_server(db_url, tmp_path / "server.log")
    clients = [Api(server, org, "ingest") for _ in range(WRITERS)]
    acked: list[str] = []
    sent: list[str] = []
    down = threading.Event()
    threads = [
        threading.Thread(target=_write, args=(clients[w], w, acked, sent, down))
        for w in range(WRITERS)
    ]
    for t in threads:
        t.start()
    try:
        for _ in range(3000):
            if len(acked) >= 20:
                break
            threading.Event().wait(0.01)
        server.process.kill()  # SIGKILL: no shutdown, requests in flight are cut
        server.process.wait()
        down.set()
    finally:
        down.set()
        for t in threads:
            t.join()
        for c in clients:
            c.close()
    assert len(acked) >= 20
    restarted = start_server(db_url, tmp_path / "restarted.log")
    try:
        for key in sent:
            stored = _counts(engine, org, key)
            assert stored in {(0, 0, 0), (1, 6, 3)}, (key, stored)  # all of a batch or nothing
            if key in acked:
                assert stored == (1, 6, 3), key
        reader = Api(restarted, org, "read")
        listed = reader.runs("PT-1H", "PT0S").json()
        reader.close()
        assert len(listed) >= len(acked)
    finally:
        restarted.stop()
