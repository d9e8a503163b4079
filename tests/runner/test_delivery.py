"""Delivery over a bad link: a real loopback gateway in front of the real server answers 503 and
429 to some event batches and 401 to one (as for an expired token), or never answers. The runner
backs off and retries, re-mints its token, spools what it could not deliver, and every event
arrives exactly once."""

import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.runner.conftest import (
    JobRun,
    StartJob,
    emitted_ids_and_chunks,
    jobtrail,
    steps_by_name,
    stored_ids_and_chunks,
)
from tests.support import Api, Org, Server, ingest_env

SPEC = """
steps:
  - name: talk
    run: "for i in 1 2 3 4 5 6; do echo line $i; echo err $i >&2; sleep 0.3; done"
  - {name: after, needs: [talk], run: "echo done"}
"""


HANG = 0  # in a script: never answer


class Gateway:
    """Forwards to the server, except that the event posts listed in `script` get that status
    instead (in order), or no answer at all (HANG); records what it did."""

    def __init__(self, upstream: str, script: list[int]) -> None:
        self.script = list(script)
        self.closed = threading.Event()
        self.seen: list[tuple[str, str, int]] = []  # (method, path, status answered)
        client = httpx.Client(base_url=upstream, timeout=30)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "POST" and gateway.script:
                    status = gateway.script.pop(0)
                    gateway.seen.append((self.command, self.path, status))
                    if status == HANG:
                        gateway.closed.wait(120)
                        return
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                resp = client.request(self.command, self.path, content=body, headers=headers)
                gateway.seen.append((self.command, self.path, resp.status_code))
                self.send_response(resp.status_code)
                self.send_header("Content-Type", resp.headers.get("content-type", "text/plain"))
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            do_GET = do_POST = _relay

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        self._client = client

    def close(self) -> None:
        self.closed.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._client.close()


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
    emitted_ids, emitted_chunks = emitted_ids_and_chunks(job)
    stored_ids, stored_chunks = stored_ids_and_chunks(engine, org.id, job.run_id)
    assert stored_ids == emitted_ids
    assert stored_chunks == emitted_chunks
    steps = steps_by_name(reader, job.run_id)
    assert {name: s["state"] for name, s in steps.items()} == {
        "talk": "SUCCEEDED",
        "after": "SUCCEEDED",
    }
    text = reader.get(f"/jobs/v1/runs/{job.run_id}/steps/talk/logs/stdout").text
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
        time.sleep(0.1)  # the job is done: the runner now waits for delivery (30 s by default)
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
