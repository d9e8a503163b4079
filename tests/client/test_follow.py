"""A followed log outlives its tokens: on a server whose tokens last 2 s, the server closes each
followed stream at its token's expiry while the step runs, and the client re-mints and resumes
from where the stream stopped. Every line arrives once, in order, and the follow ends with the
step. The writer waits on what the reader has seen (and on the client's mint count), never on a
fixed sleep."""

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jobtrail.client.aio import AsyncJobsClient
from tests.client.conftest import client_for
from tests.support import Api, Server, ago, event, run_on_own_loop

EXPIRIES = 2  # the follow must survive at least this many token expiries


def _chunk(job: str, seq: int, text: str) -> dict[str, Any]:
    return event("log", ago(seconds=1), job, job=job, step="s", stream="stdout", data=text, seq=seq)


class Writer:
    """Writes numbered lines to a running step until the reader has been through `EXPIRIES`
    re-mints; line 1 is cut in two chunks that go out on two different responses."""

    def __init__(self, api: Api, job: str, prior: int) -> None:
        self.api, self.job = api, job
        self.seq = 0
        self.written: list[str] = []
        for n in range(prior):
            self.line(f"prior {n}")

    def line(self, text: str, between: Callable[[], None] | None = None) -> None:
        """One line; with `between`, cut in two chunks with `between()` called in between."""
        if between is not None:
            half = len(text) // 2
            self.api.ingest([_chunk(self.job, self.seq, text[:half])])
            between()
            self.api.ingest([_chunk(self.job, self.seq + 1, text[half:] + "\n")])
            self.seq += 2
        else:
            self.api.ingest([_chunk(self.job, self.seq, text + "\n")])
            self.seq += 1
        self.written.append(text)

    def run(self, seen: list[str], mints: Callable[[], int]) -> None:
        deadline = time.monotonic() + 120

        def reopened() -> None:  # the first half went out on a stream that has since closed
            before = mints()
            while mints() == before and time.monotonic() < deadline:
                time.sleep(0.05)

        n = 0
        while time.monotonic() < deadline:
            while seen[-1:] != self.written[-1:] and time.monotonic() < deadline:
                time.sleep(0.05)  # until the reader has it all: the next line is a later read
            if mints() >= EXPIRIES + 1:
                break
            self.line(f"line {n} " + "x" * (n % 7), reopened if n == 1 else None)
            n += 1
        self.line("last")
        ended = event("step", ago(seconds=0), self.job, job=self.job, step="s", state="SUCCEEDED")
        self.api.ingest([ended])


def _start(api: Api, job: str, prior: int = 0) -> tuple[str, Writer]:
    api.ingest([event("step", ago(seconds=5), job, job=job, step="s", state="RUNNING")])
    writer = Writer(api, job, prior)
    (run,) = api.runs("PT-1H", "PT0S", jobName=job).json()
    return run["runId"], writer


def _follow_in_thread(lines: Iterator[str], seen: list[str]) -> threading.Thread:
    def read() -> None:
        for line in lines:
            seen.append(line)  # one by one: the writer waits on it

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("tail", [None, 2])
def test_follow_survives_token_expiry_with_every_line_once(
    capped: Server, api: Api, tail: int | None
) -> None:
    job = f"expiry-{tail}"
    run_id, writer = _start(api, job, prior=5)
    seen: list[str] = []
    with client_for(capped.url, api.org) as client:
        options = {} if tail is None else {"tail": tail}
        lines = client.logs(run_id, "s", follow=True, **options)
        thread = _follow_in_thread(lines, seen)
        writer.run(seen, lambda: client.core.mints)
        thread.join(60)
        assert not thread.is_alive()  # the follow ended with the step
        assert client.core.mints >= EXPIRIES + 1
    expected = writer.written if tail is None else writer.written[5 - tail :]
    assert seen == expected


def test_async_follow_survives_token_expiry(capped: Server, api: Api) -> None:
    run_id, writer = _start(api, "expiry-async")
    seen: list[str] = []
    key = api.org.keys["read"]
    client = AsyncJobsClient(capped.url, api.org.id, key.key.key_id, key.secret)

    async def follow() -> None:
        async with client:
            async for line in client.logs(run_id, "s", follow=True):
                seen.append(line)

    reader = threading.Thread(target=lambda: run_on_own_loop(follow()), daemon=True)
    reader.start()
    writer.run(seen, lambda: client.core.mints)
    reader.join(60)
    assert not reader.is_alive()
    assert client.core.mints >= EXPIRIES + 1
    assert seen == writer.written


def test_a_follow_of_an_ended_step_reads_once(capped: Server, api: Api) -> None:
    run_id, writer = _start(api, "expiry-ended", prior=3)
    api.ingest(
        [
            event(
                "step",
                ago(seconds=0),
                "expiry-ended",
                job="expiry-ended",
                step="s",
                state="SUCCEEDED",
            )
        ]
    )
    with client_for(capped.url, api.org) as client:
        assert list(client.logs(run_id, "s", follow=True)) == writer.written
        assert client.core.requests == 2  # the token, then the one log request
