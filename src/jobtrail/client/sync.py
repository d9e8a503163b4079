"""`JobsClient`: the blocking face of the client, driving `core` over httpx."""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self, cast

import httpx

from jobtrail.client import profiles
from jobtrail.client.core import (
    Clock,
    Core,
    Lines,
    Op,
    Request,
    Response,
    RetryPolicy,
    T,
    drive,
    utc_now,
)
from jobtrail.client.windows import Moment
from jobtrail.wire import paths
from jobtrail.wire.shapes import (
    Event,
    IngestResponse,
    RunDetail,
    RunSummary,
    StepDetail,
    StepSummary,
)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _lower(headers: httpx.Headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def to_response(resp: httpx.Response) -> Response:
    return Response(resp.status_code, _lower(resp.headers), resp.content)


def unreachable(exc: Exception) -> Response:
    return Response(0, {}, f"cannot reach the server: {type(exc).__name__} {exc}".encode())


class JobsClient:
    """The Jobs API of one organization: `JobsClient(base_url, organization_id, api_key_id,
    api_key)`, or `JobsClient.from_profile(name)`."""

    def __init__(
        self,
        base_url: str,
        organization_id: str,
        api_key_id: str | None,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        clock: Clock = utc_now,
        sleep: Any = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.core = Core(organization_id, api_key_id, api_key, retry=retry, clock=clock)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)
        self._sleep = sleep

    @classmethod
    def from_profile(cls, name: str = "default", **options: Any) -> "JobsClient":
        p = profiles.load(name)
        return cls(p.server, p.organization_id, p.api_key_id, p.api_key, **options)

    def _send(self, request: Request) -> Response:
        try:
            return to_response(
                self._http.request(
                    request.method,
                    request.path,
                    headers=request.headers,
                    params=request.params,
                    content=request.body,
                )
            )
        except httpx.TransportError as exc:
            return unreachable(exc)

    def _run(self, op: Op[T]) -> T:
        return drive(op, self._send, self._sleep)

    def authenticate(self) -> None:
        """Exchange the key for a token now (raises ApiError when the server refuses it)."""
        self._run(self.core.mint())

    @property
    def requests(self) -> int:
        """Requests sent so far, retries and token exchanges included."""
        return self.core.requests

    def iter_runs(
        self,
        from_: Moment,
        to: Moment,
        *,
        job: str | None = None,
        environment: str | None = None,
        state: str | None = None,
    ) -> Iterator[RunSummary]:
        """Runs of any window within the last week, each once, as the windows come in (newest
        window first); a run's state is the one of the first answer that named it."""
        listing = self.core.listing(from_, to)
        filters = {"jobName": job, "environment": environment, "state": state}
        while (window := listing.next()) is not None:
            page = self._run(self.core.window(window, filters))
            for run_id in listing.feed(window, page.runs, page.headers):
                yield listing.runs[run_id]

    def list_runs(
        self,
        from_: Moment,
        to: Moment,
        *,
        job: str | None = None,
        environment: str | None = None,
        state: str | None = None,
        concurrency: int = 2,
    ) -> list[RunSummary]:
        """Every run of the window once, with its newest state, newest start first. Windows
        that do not wait on each other's answers (a week is two of 96 h at most) are asked for
        `concurrency` at a time, so the listing takes less than the sum of its requests."""
        listing = self.core.listing(from_, to)
        filters = {"jobName": job, "environment": environment, "state": state}
        lock = threading.Lock()

        def work() -> None:  # until no window is left: a trimmed one's rest is asked for next
            while True:
                with lock:
                    window = listing.next()
                if window is None:
                    return
                page = self._run(self.core.window(window, filters))
                with lock:
                    listing.feed(window, page.runs, page.headers)

        workers = min(concurrency, len(listing.pending))
        if workers <= 1:
            work()
        else:
            if self.core.token is None:
                self.authenticate()  # once, not by each worker
            with ThreadPoolExecutor(workers, thread_name_prefix="jobtrail-list") as pool:
                for done in [pool.submit(work) for _ in range(workers)]:
                    done.result()
        return listing.merged()

    def get_run(self, run_id: str) -> RunDetail:
        return cast(RunDetail, self._run(self.core.get_json(paths.RUN, runId=run_id)))

    def get_steps(self, run_id: str) -> list[StepSummary]:
        body = self._run(self.core.get_json(paths.STEPS, runId=run_id))
        return cast(list[StepSummary], body)

    def get_step(self, run_id: str, step: str) -> StepDetail:
        body = self._run(self.core.get_json(paths.STEP, runId=run_id, stepName=step))
        return cast(StepDetail, body)

    def logs(
        self, run_id: str, step: str, stream: str = "stdout", *, follow: bool = False, **range_: int
    ) -> Iterator[str]:
        """A step's log line by line (`offset`/`limit` in bytes, or `tail` lines); with
        `follow`, new lines as they come until the step ends, across as many responses as the
        token's lifetime takes (each line once)."""
        read = self.core.log(run_id, step, stream, follow, **range_)
        timeout = httpx.Timeout(self._http.timeout.connect, read=None) if follow else None
        kw: dict[str, Any] = {"timeout": timeout} if timeout else {}
        lines = Lines()  # held across responses: a line cut between two is joined
        while True:
            request = self._run(read.request())
            reading = False
            try:
                with self._http.stream(
                    "GET", request.path, params=request.params, headers=request.headers, **kw
                ) as resp:
                    head = Response(resp.status_code, _lower(resp.headers), b"")
                    if resp.status_code != 200:
                        head = Response(head.status, head.headers, resp.read())
                    wait = read.opened(head)
                    reading = wait is None
                    if reading:
                        for chunk in resp.iter_bytes():
                            read.received(len(chunk))
                            yield from lines.feed(chunk)
            except httpx.TransportError as exc:
                wait = read.broke(unreachable(exc), reading)
            if wait is not None:
                self._sleep(wait)
            elif read.finished():
                break
        yield from lines.close()

    def ingest(self, events: list[Event] | list[dict[str, Any]]) -> IngestResponse:
        """Post events in batches under the server's limits; the totals."""
        return self._run(self.core.ingest(list(events)))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
