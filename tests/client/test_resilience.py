"""The client over a bad link: a real loopback gateway in front of the real server answers 503
with Retry-After, then 429, then passes; or 401 once (a token the server stopped taking). The
client waits as told (on an injected sleep) and succeeds."""

from collections.abc import Iterator

import pytest

from jobtrail.client import ApiError, RetryPolicy
from tests.client.conftest import client_for
from tests.runner.gateway import Gateway
from tests.support import Api, Org, Server, ago, simple_run


@pytest.fixture
def seeded(api: Api) -> Org:
    api.ingest(simple_run(ago(hours=1), "gw", fail=True))
    return api.org


@pytest.fixture
def gateway(request: pytest.FixtureRequest, server: Server) -> Iterator[Gateway]:
    made = Gateway(server.url, script=request.param, methods=("GET",))
    yield made
    made.close()


@pytest.mark.parametrize(
    "gateway", [[(503, {"Retry-After": "3"}), (429, {"Retry-After": "1"})]], indirect=True
)
def test_503_then_429_then_success_waits_as_told(gateway: Gateway, seeded: Org) -> None:
    slept: list[float] = []
    with client_for(gateway.url, seeded, sleep=slept.append) as client:
        runs = client.list_runs("PT-2H", "PT0S")
    assert [r["state"] for r in runs] == ["FAILED"]
    assert slept == [3.0, 1.0]
    assert [status for _, _, status in gateway.seen if "/jobs/" in _] == [503, 429, 200]


@pytest.mark.parametrize("gateway", [[503, 503, 503]], indirect=True)
def test_backoff_is_jittered_and_gives_up_after_the_attempts(gateway: Gateway, seeded: Org) -> None:
    slept: list[float] = []
    policy = RetryPolicy(attempts=3, base=1.0, cap=8.0)
    client = client_for(gateway.url, seeded, sleep=slept.append, retry=policy)
    with client, pytest.raises(ApiError) as err:
        client.list_runs("PT-2H", "PT0S")
    assert err.value.status == 503
    assert len(slept) == 2
    assert 0 <= slept[0] <= 1.0
    assert 0 <= slept[1] <= 2.0


@pytest.mark.parametrize("gateway", [[401]], indirect=True)
def test_a_401_remints_once(gateway: Gateway, seeded: Org) -> None:
    with client_for(gateway.url, seeded) as client:
        (run,) = client.list_runs("PT-2H", "PT0S")
        assert client.core.mints == 2
        assert client.get_run(run["runId"])["steps"][1]["name"] == "run-dbt"


def test_unreachable_server_is_retried_then_reported(seeded: Org) -> None:
    slept: list[float] = []
    policy = RetryPolicy(attempts=2)
    client = client_for("http://127.0.0.1:9", seeded, sleep=slept.append, retry=policy)
    with client, pytest.raises(ApiError) as err:
        client.get_run("x")
    assert err.value.status == 0
    assert len(slept) == 1
