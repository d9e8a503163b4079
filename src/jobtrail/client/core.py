"""The client's one implementation, sans I/O: every operation is a generator that yields what
must happen next (a `Request` to send, a `Sleep` to wait) and receives the `Response`. The sync
and async faces only drive these generators with their own transport, so token minting,
re-minting, retries with backoff and `Retry-After`, window splitting and batch splitting are
written once. The runner shares the token handling while keeping its own lean transport."""

import random
import threading
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar, cast

import orjson

from jobtrail.client.windows import Listing, Moment, Window, parse_moment, plan
from jobtrail.wire import paths
from jobtrail.wire.errors import UNAUTHORIZED
from jobtrail.wire.events import stamp
from jobtrail.wire.limits import (
    LOG_OFFSET_HEADER,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    STEP_ENDED_HEADER,
)
from jobtrail.wire.shapes import IngestResponse, RunSummary, TokenResponse

T = TypeVar("T")
Clock = Callable[[], datetime]
RETRYABLE = frozenset({0, 429, 502, 503, 504})  # 0: no answer (connection error, timeout)


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # from the base path on, e.g. /api/msc/v1/organizations/...
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class Response:
    status: int  # 0 when the server could not be reached
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = Request | Sleep
Op = Generator[Step, Response | None, T]


class ApiError(Exception):
    """The server answered with an error envelope (or could not be reached: status 0)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def api_error(resp: Response) -> ApiError:
    try:
        body = resp.json()
        return ApiError(resp.status, str(body["error"]), str(body["message"]))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        text = resp.body.decode("utf-8", "replace")[:300] or "no answer"
        return ApiError(resp.status, "http_error", text)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait on 429, 5xx and connection errors."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, resp: Response, rnd: random.Random, now: datetime) -> float:
        """`Retry-After` when the server sent one, else exponential backoff with full jitter."""
        told = retry_after(resp.headers.get("retry-after"), now)
        if told is not None:
            return min(told, self.max_retry_after)
        return rnd.uniform(0, min(self.cap, self.base * 2**attempt))


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a `Retry-After` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None


def token_request(org_id: str, key_id: str | None, key: str) -> Request:
    """The v3 exchange with a key id, else the legacy v2 one."""
    if key_id:
        path = paths.fill(paths.TOKEN_V3, organizationId=org_id)
        return Request("GET", path, {"X-API-Key-ID": key_id, "X-API-Key": key})
    return Request("GET", paths.fill(paths.TOKEN_V2, organizationId=org_id), {"X-API-Key": key})


@dataclass
class Token:
    value: str
    expires_at: datetime
    minted_at: datetime

    @classmethod
    def parse(cls, body: TokenResponse, now: datetime) -> "Token":
        return cls(body["accessToken"], datetime.fromisoformat(body["expiresAt"]), now)

    def fresh(self, now: datetime) -> bool:
        """Still good for a while: re-minted a little before expiry (a tenth of its life, at
        most a minute), so a long listing never sends a token that dies on the way."""
        margin = min(timedelta(minutes=1), (self.expires_at - self.minted_at) / 10)
        return now < self.expires_at - margin


@dataclass(frozen=True)
class Page:
    runs: list[RunSummary]
    headers: dict[str, str]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Core:
    """Credentials, the token and the retry policy of one client, and its operations."""

    def __init__(
        self,
        organization_id: str,
        api_key_id: str | None,
        api_key: str,
        *,
        retry: RetryPolicy | None = None,
        clock: Clock = utc_now,
        rnd: random.Random | None = None,
    ) -> None:
        self.org = organization_id
        self._key_id = api_key_id
        self._key = api_key
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.rnd = rnd or random.Random()
        self.token: Token | None = None
        self.requests = 0  # requests sent, retries included
        self._count = threading.Lock()  # a listing's windows may be asked for from threads
        self.mints = 0  # tokens minted

    def path(self, template: str, **params: str) -> str:
        return paths.fill(template, organizationId=self.org, **params)

    def _send(self, request: Request) -> Op[Response]:
        """One request, retried on 429/5xx/no answer as the policy says."""
        attempt = 0
        while True:
            with self._count:
                self.requests += 1
            resp = yield request
            assert resp is not None
            if resp.status not in RETRYABLE or attempt + 1 >= self.retry.attempts:
                return resp
            yield Sleep(self.retry.delay(attempt, resp, self.rnd, self.clock()))
            attempt += 1

    def mint(self) -> Op[Token]:
        self.mints += 1
        resp = yield from self._send(token_request(self.org, self._key_id, self._key))
        if resp.status != 200:
            raise api_error(resp)
        self.token = Token.parse(cast(TokenResponse, resp.json()), self.clock())
        return self.token

    def authorised(self, request: Request) -> Op[Request]:
        """The request with a bearer token, minted first when there is none or it is old."""
        if self.token is None or not self.token.fresh(self.clock()):
            yield from self.mint()
        assert self.token is not None
        headers = {**request.headers, "Authorization": f"Bearer {self.token.value}"}
        return replace(request, headers=headers)

    def call(self, request: Request) -> Op[Response]:
        """A data request: authorised, retried, re-minted once on 401; errors raised."""
        for first in (True, False):
            resp = yield from self._send((yield from self.authorised(request)))
            if resp.status == 401 and first:
                self.token = None
                continue
            if resp.status >= 400 or resp.status == 0:
                raise api_error(resp)
            return resp
        raise ApiError(401, UNAUTHORIZED, "the token was refused twice")  # pragma: no cover

    def get_json(self, template: str, params: dict[str, str] | None = None, **ids: str) -> Op[Any]:
        resp = yield from self.call(Request("GET", self.path(template, **ids), params=params or {}))
        return resp.json()

    def listing(self, from_: Moment, to: Moment) -> Listing:
        now = self.clock()
        return Listing(plan(parse_moment(from_, now), parse_moment(to, now)))

    def window(self, window: Window, filters: dict[str, str | None]) -> Op[Page]:
        """One window's runs and the headers that say whether it was trimmed."""
        params = {"from": stamp(window.start), "to": stamp(window.end)}
        params.update({k: v for k, v in filters.items() if v is not None})
        resp = yield from self.call(Request("GET", self.path(paths.RUNS), params=params))
        return Page(cast(list[RunSummary], resp.json()), resp.headers)

    def log(self, run_id: str, step: str, stream: str, follow: bool, **range_: int) -> "LogRead":
        path = self.path(paths.LOGS, runId=run_id, stepName=step, stream=stream)
        return LogRead(self, path, follow, range_)

    def ingest(self, events: list[Any]) -> Op[IngestResponse]:
        total = IngestResponse(accepted=0, duplicates=0)
        for body in event_bodies(events):
            headers = {"Content-Type": "application/json"}
            request = Request("POST", self.path(paths.EVENTS), headers, body=body)
            answer = (yield from self.call(request)).json()
            total["accepted"] += answer["accepted"]
            total["duplicates"] += answer["duplicates"]
        return total


class LogRead:
    """One step log read through as many responses as it takes. A followed stream closes while
    the step runs when its token expires (or after an hour, or when the connection drops): it is
    reopened with a fresh token from where the last one stopped (the response's start offset plus
    the bytes received), so no line is lost or repeated. The faces stream the bodies; this says
    what to request and what each answer means."""

    def __init__(self, core: Core, path: str, follow: bool, range_: dict[str, int]) -> None:
        self._core = core
        self._path = path
        self._follow = follow
        self._first = {k: str(v) for k, v in range_.items()}
        self.position: int | None = None  # the kept stream's offset of the next byte
        self._ended = False  # the step had ended when the current response began
        self._attempt = 0
        self._refused = False

    def request(self) -> Op[Request]:
        """The next request, authorised (re-minted first when the token is old)."""
        again = self.position is not None
        params = {"offset": str(self.position)} if again else dict(self._first)
        if self._follow:
            params["follow"] = "true"
        return (yield from self._core.authorised(Request("GET", self._path, params=params)))

    def opened(self, resp: Response) -> float | None:
        """None when the response is the log (read its body, counting bytes with `received`);
        else the seconds to wait before asking again. Raises what cannot be retried."""
        self._core.requests += 1
        if resp.status == 200:
            self._attempt, self._refused = 0, False
            start = resp.headers.get(LOG_OFFSET_HEADER.lower())
            if self.position is None:
                self.position = int(start) if start else int(self._first.get("offset", 0))
            self._ended = resp.headers.get(STEP_ENDED_HEADER.lower()) == "true"
            return None
        if resp.status == 401 and not self._refused:
            self._refused, self._core.token = True, None
            return 0.0
        if resp.status in RETRYABLE and self._attempt + 1 < self._core.retry.attempts:
            self._attempt += 1
            return self._core.retry.delay(
                self._attempt - 1, resp, self._core.rnd, self._core.clock()
            )
        raise api_error(resp)

    def broke(self, resp: Response, reading: bool) -> float | None:
        """The connection failed (`resp` says how): with no answer yet, retried like any
        request; in the middle of a followed log, reopened at once from where it stopped."""
        if not reading:
            return self.opened(resp)
        if not self._follow:
            raise api_error(resp)
        return None

    def received(self, size: int) -> None:
        if self.position is not None:
            self.position += size

    def finished(self) -> bool:
        """After a response's body ended (or broke off): whether the log is read through."""
        return not self._follow or self._ended


def event_bodies(
    events: Iterable[Any], max_events: int = MAX_BATCH_EVENTS, max_bytes: int = MAX_BATCH_BYTES
) -> Iterable[bytes]:
    """Request bodies `{"events": [...]}` each under the server's limits (count and bytes)."""
    room = max_bytes - 64
    batch: list[bytes] = []
    size = 0
    for event in events:
        encoded = orjson.dumps(event)
        if batch and (len(batch) >= max_events or size + len(encoded) + 1 > room):
            yield b'{"events":[' + b",".join(batch) + b"]}"
            batch, size = [], 0
        batch.append(encoded)
        size += len(encoded) + 1
    if batch:
        yield b'{"events":[' + b",".join(batch) + b"]}"


class Lines:
    """Bytes as they stream in → whole lines of text, each once (a split UTF-8 character or a
    line cut between two reads is held until the rest arrives)."""

    def __init__(self) -> None:
        self._held = b""

    def feed(self, chunk: bytes) -> list[str]:
        data = self._held + chunk
        *whole, self._held = data.split(b"\n")
        return [line.decode("utf-8", "replace") for line in whole]

    def close(self) -> list[str]:
        rest, self._held = self._held, b""
        return [rest.decode("utf-8", "replace")] if rest else []


def drive(op: Op[T], send: Callable[[Request], Response], sleep: Callable[[float], None]) -> T:
    """Run an operation with a blocking transport."""
    try:
        step = next(op)
        while True:
            if isinstance(step, Sleep):
                sleep(step.seconds)
                step = op.send(None)
            else:
                step = op.send(send(step))
    except StopIteration as done:
        return cast(T, done.value)


def monotonic_sleep(seconds: float) -> None:
    time.sleep(seconds)
