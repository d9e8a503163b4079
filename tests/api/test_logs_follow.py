"""`follow=true`: a live tail that sends new output within seconds and ends with the step. On
PostgreSQL the tail only looks every 30 s unless notified, so the seconds here prove that it is
woken by LISTEN/NOTIFY; SQLite polls every 0.5 s."""

import threading
import time

from jobtrail.wire import paths
from tests.support import Api, ago, event


def _chunk(seq: int, text: str) -> dict[str, object]:
    return event(
        "log", ago(seconds=1), "live", step={"name": "s"}, stream="stdout", data=text, seq=seq
    )


def test_follow_sends_new_output_and_ends_with_the_step(api: Api) -> None:
    api.ingest(
        [
            event("step", ago(seconds=5), "live", step={"name": "s"}, state="RUNNING"),
            _chunk(0, "a\n"),
        ]
    )
    (run,) = api.runs("PT-1H", "PT0S").json()
    received: list[tuple[float, bytes]] = []
    done = threading.Event()

    def tail() -> None:
        path = api.at(paths.LOGS, runId=run["runId"], stepName="s", stream="stdout")
        headers = {"Authorization": f"Bearer {api.token}"}
        with api.http.stream("GET", path, params={"follow": "true"}, headers=headers) as resp:
            for part in resp.iter_raw():
                received.append((time.monotonic(), part))
        done.set()

    thread = threading.Thread(target=tail)
    thread.start()
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b"".join(p for _, p in received) == b"a\n"
    sent = time.monotonic()
    api.ingest([_chunk(1, "b\n")])
    while b"b" not in b"".join(p for _, p in received) and time.monotonic() < deadline:
        time.sleep(0.05)
    arrivals = [t for t, p in received if b"b" in p]
    assert arrivals
    assert arrivals[0] - sent < 3  # new output shows within seconds
    assert not done.is_set()  # still open while the step runs
    api.ingest(
        [
            _chunk(2, "c\n"),
            event("step", ago(seconds=0), "live", step={"name": "s"}, state="SUCCEEDED"),
        ]
    )
    assert done.wait(10)  # ends once the step ended and everything was sent
    thread.join()
    assert b"".join(p for _, p in received) == b"a\nb\nc\n"


def test_follow_of_an_ended_step_returns_at_once(api: Api) -> None:
    api.ingest(
        [
            event("step", ago(seconds=5), "done", step={"name": "s"}, state="SUCCEEDED"),
            event(
                "log",
                ago(seconds=5),
                "done",
                step={"name": "s"},
                stream="stdout",
                data="x\ny\n",
                seq=0,
            ),
        ]
    )
    (run,) = api.runs("PT-1H", "PT0S").json()
    path = api.at(paths.LOGS, runId=run["runId"], stepName="s", stream="stdout")
    began = time.monotonic()
    resp = api.get(path, params={"follow": "true", "tail": 1})
    assert resp.text == "y\n"
    assert time.monotonic() - began < 3
    assert api.get(path, params={"follow": "true", "limit": 5}).status_code == 400
