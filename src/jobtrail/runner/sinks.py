"""Where a runner's events go: the sink protocol, and a jobtrail server over HTTP (the store
sink, which loads the whole store stack, is in `store_sink`)."""

from typing import Any, Protocol

import httpx
import orjson


class RetryLater(Exception):
    """The destination cannot take the batch now (unreachable, 429, 5xx): try again later."""


class KeyRefused(RetryLater):
    """The server refused the API key (revoked, wrong): the events are fine, so they are kept
    (spooled) until a run or `jobtrail flush` with a good key delivers them."""


class BatchRefused(Exception):
    """The server rejected the events themselves (a 4xx other than 401/429): sending them again
    cannot help."""


class Sink(Protocol):
    def deliver(self, events: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


class HttpSink:
    """A jobtrail server's ingestion endpoint, with a token minted from an API key (re-minted
    once on 401)."""

    def __init__(self, base_url: str, org_id: str, key_id: str | None, key: str) -> None:
        base = base_url.rstrip("/")
        # Over plain http there is no TLS to verify, and loading the CA bundle anyway would cost
        # every run 40 ms of start-up. (Requests never leave base_url: redirects are not followed.)
        plain = httpx.URL(base).scheme == "http"
        self._http = httpx.Client(base_url=base, timeout=30, verify=not plain)
        self._prefix = f"/api/msc/v1/organizations/{org_id}"
        self._key_id = key_id
        self._key = key
        self._token: str | None = None

    def _mint(self) -> str:
        if self._key_id:
            path, headers = "/credentials/v3/token", {"X-API-Key-ID": self._key_id}
        else:
            path, headers = "/credentials/v2/token", {}
        resp = self._request(
            "GET", self._prefix + path, headers={**headers, "X-API-Key": self._key}
        )
        if resp.status_code != 200:
            raise KeyRefused(f"the server refused the API key: {resp.text[:200]}")
        token: str = resp.json()["accessToken"]
        return token

    def _request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, url, **kw)
        except httpx.HTTPError as exc:
            raise RetryLater(f"cannot reach the server: {exc}") from exc
        if resp.status_code == 429 or resp.status_code >= 500:
            raise RetryLater(f"the server answered {resp.status_code}")
        return resp

    def deliver(self, events: list[dict[str, Any]]) -> None:
        for attempt in range(2):
            if self._token is None:
                self._token = self._mint()
            resp = self._request(
                "POST",
                self._prefix + "/jobs/v1/events",
                content=orjson.dumps({"events": events}),
                headers={
                    "Authorization": f"Bearer {self._token}",
                    "Content-Type": "application/json",
                },
            )
            if resp.status_code == 401 and attempt == 0:
                self._token = None
                continue
            if resp.status_code != 200:
                raise BatchRefused(
                    f"the server rejected events: {resp.status_code} {resp.text[:500]}"
                )
            return

    def close(self) -> None:
        self._http.close()
