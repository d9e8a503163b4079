"""The seed's 10,000-event trim: only the latest 10,000 events count, and the headers say so."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from tests.support import Api, Server, ago, event, iso, make_org, start_server


def _load(api: Api, total: int) -> tuple[str, str]:
    """One event of an early run, then `total - 1` later events over 100 other runs."""
    start = ago(hours=20)
    early = event("run", start, "early", state="RUNNING")
    events = [early]
    for i in range(total - 1):
        at = start + timedelta(seconds=10 + i)
        events.append(event("run", at, f"late-{i % 100}", state="RUNNING"))
    for chunk in range(0, len(events), 5000):
        api.ingest(events[chunk : chunk + 5000])
    return events[1]["timestamp"], early["timestamp"]


@pytest.mark.parametrize("total", [10_000, 10_001])
def test_trim_at_the_cap(api: Api, total: int) -> None:
    second_ts, _ = _load(api, total)
    resp = api.runs("PT-24H", "PT0S")
    assert resp.status_code == 200
    keys = {r["runId"] for r in resp.json()}
    early = api.runs("PT-24H", "PT0S", jobName="webmodel").json()
    if total == 10_000:
        assert len(keys) == 101
        assert "x-jobtrail-truncated" not in resp.headers
        assert "x-jobtrail-oldest-event" not in resp.headers
    else:
        assert len(keys) == 100  # the early run's only event was trimmed
        assert resp.headers["x-jobtrail-truncated"] == "true"
        assert resp.headers["x-jobtrail-oldest-event"] == second_ts.replace(".000000Z", "Z")
        assert len(early) == 100  # filters apply after the trim


def test_splitting_the_window_recovers_trimmed_runs(api: Api) -> None:
    _, early_ts = _load(api, 10_001)
    oldest = api.runs("PT-24H", "PT0S").headers["x-jobtrail-oldest-event"]
    before = api.runs(iso(ago(hours=24)), oldest).json()
    assert [r["startTime"] for r in before] == [early_ts.replace(".000000Z", "Z")]


@pytest.fixture(scope="module")
def capped(
    db_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("capped") / "server.log"
    srv = start_server(db_url, log, JOBTRAIL_WINDOW_EVENT_CAP="20")
    yield srv
    srv.stop()


def test_the_cap_is_a_setting(capped: Server, engine: Engine) -> None:
    api = Api(capped, make_org(engine), "admin")
    start = ago(hours=3)
    api.ingest(
        [event("run", start + timedelta(seconds=i), f"r{i}", state="RUNNING") for i in range(21)]
    )
    resp = api.runs("PT-24H", "PT0S")
    assert len(resp.json()) == 20
    assert resp.headers["x-jobtrail-truncated"] == "true"
    assert resp.headers["x-jobtrail-oldest-event"] == iso(start + timedelta(seconds=1)).replace(
        ".000000Z", "Z"
    )
    api.close()
