"""Delivery over a bad link: a real loopback gateway in front of the real server answers 503 and
429 to some event batches and 401 to one (as for an expired token), or never answers. The runner
backs off and retries, re-mints its token, spools what it could not deliver, and every event
arrives exactly once."""

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from jobtrail.runner.delivery import LINGER, MAX_RETRY_AFTER, Delivery
from jobtrail.runner.sinks import HttpSink
from jobtrail.store.schema import events
from jobtrail.wire import paths
from tests.runner.conftest import (
    JobRun,
    StartJob,
    emitted_ids_and_chunks,
    jobtrail,
    steps_by_name,
    stored_ids_and_chunks,
)
from tests.runner.gateway import HANG, Gateway
from tests.support import Api, Org, Server, ago, event, ingest_env

SPEC = """
steps:
  - name: talk
    run: "for i in 1 2 3 4 5 6; do echo line $i; echo err $i >&2; sleep 0.3; done"
  - {name: after, needs: [talk], run: "echo done"}
"""


@pytest.fixture
def gateway(request: pytest.FixtureRequest, server: Server) -> Iterator[Gateway]:
    made = Gateway(server.url, script=getattr(request, "param", [503, 429, 503, 401]))
    yield made
    made.close()


def test_backoff_and_token_reminting_lose_and_double_nothing(
    start_job: StartJob, gateway: Gateway, engine: Engine, org: Org, reader: Api
) -> None:
    job = start_job(SPEC, gateway.url)
    assert job.wait(90) == 0
    answered = [status for method, path, status in gateway.seen if path.endswith("/events")]
    assert answered[:4] == [503, 429, 503, 401]  # each refusal was met with a retry
    assert set(answered[4:]) == {200}
    mints = [p for m, p, s in gateway.seen if m == "GET" and "/credentials/" in p]
    assert len(mints) == 2  # the first token, and a new one after the 401
    # The definition report went through too, on the run's token (it mints none of its own).
    assert [s for m, p, s in gateway.seen if m == "PUT" and p.endswith("/definitions")] == [200]
    emitted_ids, emitted_chunks = emitted_ids_and_chunks(job)
    stored_ids, stored_chunks = stored_ids_and_chunks(engine, org.id, job.run_id)
    assert stored_ids == emitted_ids
    assert stored_chunks == emitted_chunks
    steps = steps_by_name(reader, job.run_id)
    assert {name: s["state"] for name, s in steps.items()} == {
        "talk": "SUCCEEDED",
        "after": "SUCCEEDED",
    }
    text = reader.get(
        reader.at(paths.LOGS, runId=job.run_id, stepName="talk", stream="stdout")
    ).text
    assert text == "".join(f"line {i}\n" for i in range(1, 7))


@pytest.mark.parametrize("gateway", [[HANG] * 100], indirect=True)
def test_ctrl_c_while_the_server_hangs_spools_everything(
    start_job: StartJob, gateway: Gateway, server: Server, engine: Engine, org: Org, tmp_path: Path
) -> None:
    """The server takes the requests and never answers; the run ends and waits to deliver; a
    Ctrl+C then stops the wait at once, and what was queued or in flight is in the spool."""
    job = start_job("steps:\n  - {name: s, run: 'echo hello'}\n", gateway.url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _finished(job):
        time.sleep(0.002)  # soon after the end: a Ctrl+C there was once lost (a 30 s wait)
    job.proc.send_signal(signal.SIGINT)
    began = time.monotonic()
    assert job.wait(30) == 0
    assert time.monotonic() - began < 10  # not the 30 s flush wait, nor the request's timeout
    assert stored_ids_and_chunks(engine, org.id, job.run_id) == (set(), {})
    flush = jobtrail(
        "flush", "--server", server.url, env=ingest_env(org, JOBTRAIL_SPOOL=str(tmp_path / "spool"))
    )
    assert flush.returncode == 0, flush.stderr
    assert stored_ids_and_chunks(engine, org.id, job.run_id) == emitted_ids_and_chunks(job)


def _finished(job: JobRun) -> bool:
    if not job.events_log.exists():
        return False
    return any(e["kind"] == "run" and e["state"] == "SUCCEEDED" for e in job.emitted())


@pytest.mark.parametrize("gateway", [[HANG] * 100], indirect=True)
def test_a_hanging_server_does_not_hold_up_timeouts(
    start_job: StartJob, gateway: Gateway, tmp_path: Path
) -> None:
    """The step writes far more than the runner may hold while the server answers nothing: the
    step is slowed down (its pipe fills), but its timeout still fires on time, and the run ends
    without waiting for the hanging requests (their 30 s timeout)."""
    spec = "steps:\n  - {name: big, timeout: 2s, run: 'yes | head -c 100000000'}\n"
    began = time.monotonic()
    job = start_job(spec, gateway.url, "--flush-timeout", "1")
    assert job.wait(60) == 1
    assert time.monotonic() - began < 15  # (it was minutes: every request hung 30 s)
    (failed,) = [e for e in job.emitted() if e["kind"] == "step" and e["state"] == "FAILED"]
    assert "timed out" in failed["message"]
    assert list((tmp_path / "spool").glob("*.jsonl"))  # what could not go out is kept


@pytest.mark.parametrize(
    "gateway",
    [
        [
            (503, {"Retry-After": "7"}),
            (429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),  # a date already past
            (503, {"Retry-After": "3600"}),
            503,
        ]
    ],
    indirect=True,
)
def test_the_runner_waits_as_long_as_retry_after_says(
    gateway: Gateway, engine: Engine, org: Org
) -> None:
    """A 503 or 429 with `Retry-After` (seconds or an HTTP date) sets the pause before the next
    attempt, capped; without one the runner keeps its own backoff. The pauses are recorded by an
    injected wait, not slept through."""
    key = org.keys["ingest"]
    pauses: list[float] = []
    sink = HttpSink(gateway.url, org.id, key.key.key_id, key.secret)
    delivery = Delivery(sink, None, wait=pauses.append).start()
    sent = [event("run", ago(minutes=1), "retry-after", state="RUNNING")]
    for item in sent:
        delivery.emit(item)
    assert delivery.close(60)
    # The last had no Retry-After: the own backoff, doubled from 0.25 at each failure.
    assert pauses == [7.0, LINGER, MAX_RETRY_AFTER, 2.0]
    answered = [status for method, path, status in gateway.seen if path.endswith("/events")]
    assert answered == [503, 429, 503, 503, 200]
    with engine.connect() as conn:
        stored = conn.execute(select(events.c.event_id).where(events.c.org_id == org.id)).scalars()
        assert set(stored) == {e["eventId"] for e in sent}
