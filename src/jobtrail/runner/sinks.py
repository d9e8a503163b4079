"""Where a runner's events go: the sink protocol, and a jobtrail server over HTTP (the store
sink, which loads the whole store stack, is in `store_sink`)."""

import threading
from collections.abc import Callable
from typing import Any, Protocol

import httpcore
import orjson

from jobtrail.client.core import Request, Token, retry_after, token_request, utc_now
from jobtrail.wire import paths


class RetryLater(Exception):
    """The destination cannot take the batch now (unreachable, 429, 5xx): try again later, after
    `retry_after` seconds when the server said so (its `Retry-After`), else on the runner's own
    backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KeyRefused(RetryLater):
    """The server refused the API key (revoked, wrong, or of a role that may not send events):
    the events are fine, so they are kept (spooled) until a run or `jobtrail flush` with a good
    key delivers them."""


class BatchRefused(Exception):
    """The server rejected the events themselves (a 4xx other than 401/403/429): sending them
    again cannot help."""


WRONG_ROLE = (
    "the server refused the API key for sending events (403): use a key of role ingest or "
    "admin (JOBTRAIL_API_KEY_ID, JOBTRAIL_API_KEY); the events wait in the spool"
)


class Sink(Protocol):
    def deliver(self, events: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


class Credentials:
    """An API key and the token minted from it, shared by the sinks of one run or agent (the
    event deliveries and the definition report run on threads of their own): one token per
    run, minted under a lock so two threads starting together do not both mint one."""

    def __init__(self, org_id: str, key_id: str | None, key: str) -> None:
        self.org = org_id
        self._key_id = key_id
        self._key = key
        self._token: Token | None = None
        self._lock = threading.Lock()

    def token(self, mint: Callable[[Request], Token]) -> Token:
        """The current token, minted (through the caller's connection) when none is fresh."""
        with self._lock:
            if self._token is None or not self._token.fresh(utc_now()):
                self._token = mint(token_request(self.org, self._key_id, self._key))
            return self._token

    def refused(self, token: Token) -> None:
        """The server answered 401 to `token`: drop it, unless another thread already has."""
        with self._lock:
            if self._token is token:
                self._token = None


class HttpSink:
    """A jobtrail server's ingestion endpoint, with a token minted from an API key (re-minted
    before expiry and once on 401; the token handling is the client core's).

    Built on httpcore, the connection layer under httpx, not on httpx itself: `jobtrail run` is
    started for every scheduled run, and importing httpx (which loads its own command line,
    with click and rich) was a third of a run's start-up. TLS is set up only for https."""

    def __init__(
        self,
        base_url: str,
        org_id: str,
        key_id: str | None,
        key: str,
        credentials: Credentials | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._http = httpcore.ConnectionPool(max_connections=1)
        self._credentials = credentials or Credentials(org_id, key_id, key)
        self._events = paths.fill(paths.EVENTS, organizationId=org_id)
        self._definitions = paths.fill(paths.DEFINITIONS, organizationId=org_id)

    def sibling(self) -> "HttpSink":
        """A sink of its own connection for another thread, sharing this one's token."""
        creds = self._credentials
        return HttpSink(self._base, creds.org, None, "", credentials=creds)

    def _mint(self, request: Request) -> Token:
        status, body = self._request(request.method, request.path, request.headers)
        if status != 200:
            raise KeyRefused(f"the server refused the API key: {_text(body)[:200]}")
        return Token.parse(orjson.loads(body), utc_now())

    def _request(
        self, method: str, path: str, headers: dict[str, str], content: bytes | None = None
    ) -> tuple[int, bytes]:
        try:
            resp = self._http.request(
                method,
                self._base + path,
                headers=list(headers.items()),
                content=content,
                extensions={"timeout": TIMEOUTS},
            )
        except _UNREACHABLE as exc:
            raise RetryLater(f"cannot reach the server: {type(exc).__name__} {exc}") from exc
        if resp.status == 429 or resp.status >= 500:
            header = next((v for k, v in resp.headers if k.lower() == b"retry-after"), None)
            told = retry_after(header.decode("latin-1") if header else None, utc_now())
            raise RetryLater(f"the server answered {resp.status}", told)
        return resp.status, resp.content

    def _authorised(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        """Send with the shared token; on a 401, drop it and try once more with a new one."""
        for attempt in range(2):
            token = self._credentials.token(self._mint)
            headers = {"Authorization": f"Bearer {token.value}", "Content-Type": "application/json"}
            status, answer = self._request(method, path, headers, body)
            if status == 401 and attempt == 0:
                self._credentials.refused(token)
                continue
            break
        return status, answer

    def deliver(self, events: list[dict[str, Any]]) -> None:
        status, answer = self._authorised("POST", self._events, orjson.dumps({"events": events}))
        if status == 403:
            raise KeyRefused(f"{WRONG_ROLE}: {_text(answer)[:200]}")
        if status != 200:
            raise BatchRefused(f"the server rejected events: {status} {_text(answer)[:500]}")

    def define(self, definitions: list[dict[str, Any]]) -> None:
        """Put job definitions into the server's catalog (SPEC §7)."""
        body = orjson.dumps({"definitions": definitions})
        status, answer = self._authorised("PUT", self._definitions, body)
        if status != 200:
            raise BatchRefused(f"the server refused the definition: {status} {_text(answer)[:500]}")

    def close(self) -> None:
        self._http.close()


TIMEOUTS = {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 30.0}  # seconds

_UNREACHABLE = (
    httpcore.NetworkError,
    httpcore.TimeoutException,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    OSError,
)


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")
