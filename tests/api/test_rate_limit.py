"""Rate limits across two server processes on one store: once the shared limit is crossed, both
answer 429 with `Retry-After` in the one error envelope."""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from jobtrail.store.ratelimit import read_levels
from jobtrail.wire import paths
from tests.support import Api, Org, Server, make_org, start_server

BURST = 10
LIMITS = {
    "JOBTRAIL_RATE_LIMIT_ORG_RATE": "0.001",  # refills nothing during the test
    "JOBTRAIL_RATE_LIMIT_ORG_BURST": str(BURST),
    "JOBTRAIL_RATE_LIMIT_SYNC": "0.1",
}


@pytest.fixture
def two_servers(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    first = start_server(db_url, tmp_path / "first.log", **LIMITS)
    try:
        second = start_server(db_url, tmp_path / "second.log", **LIMITS)
    except Exception:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _statuses(api: Api, count: int) -> list[int]:
    return [api.get("").status_code for _ in range(count)]


def _until_refused(api: Api) -> int:
    """Requests admitted before the first 429."""
    for admitted in range(BURST + 1):
        if api.get("").status_code == 429:
            return admitted
    raise AssertionError("never refused")


def test_the_organization_limit_is_shared_by_two_processes(
    two_servers: tuple[Server, Server], engine: Engine
) -> None:
    org: Org = make_org(engine)
    first, second = (Api(server, org, "read") for server in two_servers)
    scope = f"org:{org.id}"

    def level() -> float:
        return read_levels(engine, [scope]).get(scope, (BURST, 0.0))[0]

    assert _statuses(first, 6) == [200] * 6
    _wait_for(lambda: level() < BURST - 5, "the first process to settle all six")
    assert level() == pytest.approx(BURST - 6, abs=0.01)
    # The second process has never seen the organization: it reads what the first left.
    assert _until_refused(second) == BURST - 6
    _wait_for(lambda: level() < 1, "the second to settle")
    # The first may still admit what it last saw left before it settles again: bounded by that.
    assert _until_refused(first) <= BURST - 6
    # Both are now past the shared limit, and stay there (the bucket refills nothing here).
    for api in (first, second):
        resp = api.get("")
        assert resp.status_code == 429
        assert resp.json() == {
            "error": "rate_limited",
            "message": resp.json()["message"],
        }
        assert "organization" in resp.json()["message"]
        assert int(resp.headers["retry-after"]) >= 1
        api.close()


def test_other_organizations_and_open_endpoints_are_not_limited(
    two_servers: tuple[Server, Server], engine: Engine
) -> None:
    busy, quiet = make_org(engine), make_org(engine)
    api = Api(two_servers[0], busy, "read")
    assert _until_refused(api) == BURST
    other = Api(two_servers[0], quiet, "read")
    assert _statuses(other, 3) == [200] * 3
    # Token exchanges and health probes are not counted.
    minted = Api(two_servers[1], busy, "admin")
    assert minted.token
    assert httpx.get(f"{two_servers[0].url}/healthz").status_code == 200
    assert httpx.get(two_servers[0].url + paths.OPENAPI).status_code == 200
    for client in (api, other, minted):
        client.close()
