"""`AsyncJobsClient`: the asyncio face of the client, driving the same `core` over httpx."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
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
    Sleep,
    T,
    utc_now,
)
from jobtrail.client.sync import DEFAULT_TIMEOUT, _lower, to_response, unreachable
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


class AsyncJobsClient:
    """The same operations as `JobsClient`, awaitable."""

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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.core = Core(organization_id, api_key_id, api_key, retry=retry, clock=clock)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)
        self._sleep = sleep

    @classmethod
    def from_profile(cls, name: str = "default", **options: Any) -> "AsyncJobsClient":
        p = profiles.load(name)
        return cls(p.server, p.organization_id, p.api_key_id, p.api_key, **options)

    async def _send(self, request: Request) -> Response:
        try:
            resp = await self._http.request(
                request.method,
                request.path,
                headers=request.headers,
                params=request.params,
                content=request.body,
            )
        except httpx.TransportError as exc:
            return unreachable(exc)
        return to_response(resp)

    async def _run(self, op: Op[T]) -> T:
        try:
            step = next(op)
            while True:
                if isinstance(step, Sleep):
                    await self._sleep(step.seconds)
                    step = op.send(None)
                else:
                    step = op.send(await self._send(step))
        except StopIteration as done:
            return cast(T, done.value)

    @property
    def requests(self) -> int:
        return self.core.requests

    async def iter_runs(
        self,
        from_: Moment,
        to: Moment,
        *,
        job: str | None = None,
        environment: str | None = None,
        state: str | None = None,
    ) -> AsyncIterator[RunSummary]:
        listing = self.core.listing(from_, to)
        filters = {"jobName": job, "environment": environment, "state": state}
        while (window := listing.next()) is not None:
            page = await self._run(self.core.window(window, filters))
            for run_id in listing.feed(window, page.runs, page.headers):
                yield listing.runs[run_id]

    async def list_runs(
        self,
        from_: Moment,
        to: Moment,
        *,
        job: str | None = None,
        environment: str | None = None,
        state: str | None = None,
        concurrency: int = 2,
    ) -> list[RunSummary]:
        """As `JobsClient.list_runs`."""
        listing = self.core.listing(from_, to)
        filters = {"jobName": job, "environment": environment, "state": state}

        async def work() -> None:
            while (window := listing.next()) is not None:
                page = await self._run(self.core.window(window, filters))
                listing.feed(window, page.runs, page.headers)

        workers = min(concurrency, len(listing.pending))
        if workers > 1 and self.core.token is None:
            await self._run(self.core.mint())  # once, not by each worker
        await asyncio.gather(*(work() for _ in range(max(1, workers))))
        return listing.merged()

    async def get_run(self, run_id: str) -> RunDetail:
        return cast(RunDetail, await self._run(self.core.get_json(paths.RUN, runId=run_id)))

    async def get_steps(self, run_id: str) -> list[StepSummary]:
        body = await self._run(self.core.get_json(paths.STEPS, runId=run_id))
        return cast(list[StepSummary], body)

    async def get_step(self, run_id: str, step: str) -> StepDetail:
        body = await self._run(self.core.get_json(paths.STEP, runId=run_id, stepName=step))
        return cast(StepDetail, body)

    async def logs(
        self, run_id: str, step: str, stream: str = "stdout", *, follow: bool = False, **range_: int
    ) -> AsyncIterator[str]:
        """As `JobsClient.logs`."""
        read = self.core.log(run_id, step, stream, follow, **range_)
        timeout = httpx.Timeout(self._http.timeout.connect, read=None) if follow else None
        kw: dict[str, Any] = {"timeout": timeout} if timeout else {}
        lines = Lines()  # held across responses: a line cut between two is joined
        while True:
            request = await self._run(read.request())
            reading = False
            try:
                async with self._http.stream(
                    "GET", request.path, params=request.params, headers=request.headers, **kw
                ) as resp:
                    head = Response(resp.status_code, _lower(resp.headers), b"")
                    if resp.status_code != 200:
                        head = Response(head.status, head.headers, await resp.aread())
                    wait = read.opened(head)
                    reading = wait is None
                    if reading:
                        async for chunk in resp.aiter_bytes():
                            read.received(len(chunk))
                            for line in lines.feed(chunk):
                                yield line
            except httpx.TransportError as exc:
                wait = read.broke(unreachable(exc), reading)
            if wait is not None:
                await self._sleep(wait)
            elif read.finished():
                break
        for line in lines.close():
            yield line

    async def ingest(self, events: list[Event] | list[dict[str, Any]]) -> IngestResponse:
        return await self._run(self.core.ingest(list(events)))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
