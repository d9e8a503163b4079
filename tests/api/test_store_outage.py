"""PostgreSQL going away under traffic and coming back: /readyz says 503 meanwhile, requests get
503 `unavailable` with Retry-After (never a 500 or a traceback), and service resumes by itself
with no restart, every acknowledged event stored. The outage is a TCP proxy cut between the
server and PostgreSQL (the cluster is shared, so it is not restarted for real)."""

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from jobtrail.store.schema import events
from tests.support import Api, Org, Server, ago, event, make_org, start_server
from tests.tcp_proxy import TcpProxy

STORE_UNAVAILABLE_BODY = (
    '{"error":"unavailable","message":"The store cannot be reached right now; retry in 5 seconds."}'
)


@pytest.fixture
def proxied(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[tuple[Server, TcpProxy]]:
    if not db_url.startswith("postgresql"):
        pytest.skip("an outage of the database server is a PostgreSQL matter")
    url = make_url(db_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    server = start_server(through, tmp_path / "server.log")
    yield server, proxy
    server.stop()
    proxy.cut()


Refusal = tuple[int, str, str | None]


def _traffic(api: Api, stop: threading.Event, acked: list[str], refused: list[Refusal]) -> None:
    """Ingests one event per request until stopped; notes what was acknowledged or refused."""
    i = 0
    while not stop.is_set():
        ev = event("run", ago(seconds=1), f"traffic-{i}", state="RUNNING")
        i += 1
        try:
            resp = api.post("/jobs/v1/events", json={"events": [ev]})
        except httpx.HTTPError as exc:
            refused.append((-1, repr(exc), None))
            continue
        if resp.status_code == 200:
            acked.append(ev["eventId"])
        else:
            refused.append((resp.status_code, resp.text, resp.headers.get("Retry-After")))


def _until(condition: Callable[[], bool]) -> None:
    for _ in range(3000):  # bounded: the state is observed, not timed
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the condition never held")


def _wait_ready(server: Server, expected: int) -> httpx.Response:
    answers: list[httpx.Response] = []
    _until(
        lambda: (
            answers.append(httpx.get(f"{server.url}/readyz", timeout=10))
            or (answers[-1].status_code == expected)
        )
    )
    return answers[-1]


def test_outage_is_503_and_service_resumes_without_restart(
    proxied: tuple[Server, TcpProxy], engine: Engine
) -> None:
    server, proxy = proxied
    org: Org = make_org(engine)
    writer, reader = Api(server, org, "ingest"), Api(server, org, "read")
    stop, acked, refused = threading.Event(), [], []
    thread = threading.Thread(target=_traffic, args=(writer, stop, acked, refused))
    thread.start()
    try:
        _until(lambda: len(acked) >= 5)
        proxy.cut()
        down = _wait_ready(server, 503)
        assert down.json()["error"] == "unavailable"
        assert down.headers["Retry-After"] == "5"
        resp = reader.runs()
        assert resp.status_code == 503
        assert resp.text == STORE_UNAVAILABLE_BODY
        assert resp.headers["Retry-After"] == "5"
        _until(lambda: len(refused) >= 3)
        proxy.restore()
        assert _wait_ready(server, 200).json() == {"status": "ready"}
        before = len(acked)
        _until(lambda: len(acked) >= before + 5)
    finally:
        stop.set()
        thread.join()
        writer.close()
    assert reader.runs().status_code == 200
    reader.close()
    unavailable = (503, STORE_UNAVAILABLE_BODY, "5")
    assert {r for r in refused if r != unavailable} == set()
    with engine.connect() as conn:
        stored = set(
            conn.execute(
                select(events.c.event_id).where(
                    events.c.org_id == org.id, events.c.event_id.in_(acked)
                )
            ).scalars()
        )
    assert stored == set(acked)
    assert "Traceback" not in server.log.read_text()
