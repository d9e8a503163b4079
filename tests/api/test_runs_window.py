"""`GET .../jobs/v1/runs` over HTTP: every window rule and format, filters, order."""

from datetime import timedelta, timezone

import pytest

from jobtrail.wire import paths
from tests.support import Api, ago, iso, simple_run


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        ("PT-12H", "PT0S"),
        ("-PT12H", "PT0S"),
        ("P-1D", "PT0S"),
        ("ZULU", "NOW_Z"),
        ("OFFSET", "NOW_OFFSET"),
        ("LOWER_Z", "NOW_LOWER_Z"),
    ],
)
def test_accepted_formats_find_the_run(api: Api, frm: str, to: str) -> None:
    api.ingest(simple_run(ago(hours=2), "fmt"))
    stamps = {
        "ZULU": iso(ago(hours=10)),
        "NOW_Z": iso(ago(seconds=0)),
        "OFFSET": ago(hours=10).astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
        "NOW_OFFSET": ago(seconds=0).astimezone(timezone(timedelta(hours=-3))).isoformat(),
        "LOWER_Z": iso(ago(hours=10)).replace("Z", "z").replace("T", "t"),
        "NOW_LOWER_Z": iso(ago(seconds=0)).replace("Z", "z"),
    }
    assert frm != "OFFSET" or stamps[frm].endswith("+05:30")
    resp = api.runs(stamps.get(frm, frm), stamps.get(to, to))
    assert resp.status_code == 200, resp.text
    assert [r["runId"] for r in resp.json()] != []


@pytest.mark.parametrize(
    ("frm", "to", "needle"),
    [
        ("PT-12H", "NOW_Z", "same type"),
        ("PT0S", "PT-12H", "after"),
        ("PT-100H", "PT0S", "96 hours at most"),
        ("PT-200H", "PT-190H", "7 days"),
        ("PT-1H", "PT2H", "future"),
        ("garbage", "PT0S", "ISO 8601"),
    ],
)
def test_rejected_windows_are_400(api: Api, frm: str, to: str, needle: str) -> None:
    to = iso(ago(seconds=0)) if to == "NOW_Z" else to
    resp = api.runs(frm, to)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_window"
    assert needle in resp.json()["message"]


def test_an_offset_window_is_the_same_instants_as_utc(api: Api) -> None:
    """Two hours ending 30 minutes after the run started, written at -05:30: the run is in;
    the same clock reading taken as UTC would end 5.5 hours earlier and miss it."""
    api.ingest(simple_run(ago(hours=2), "offset"))
    end = ago(hours=1, minutes=30).astimezone(timezone(timedelta(hours=-5, minutes=-30)))
    start = end - timedelta(hours=2)
    assert len(api.runs(start.isoformat(), end.isoformat()).json()) == 1
    as_utc = [t.replace(tzinfo=None).isoformat() + "Z" for t in (start, end)]
    assert api.runs(*as_utc).json() == []


def test_missing_parameters_are_400(api: Api) -> None:
    resp = api.get(api.at(paths.RUNS))
    assert resp.status_code == 400
    assert "required" in resp.json()["message"]


def test_bare_array_newest_first_with_current_state(api: Api) -> None:
    api.ingest(simple_run(ago(hours=5), "old", fail=True) + simple_run(ago(hours=1), "new"))
    runs = api.runs("PT-12H", "PT0S").json()
    assert isinstance(runs, list)
    assert [r["state"] for r in runs] == ["SUCCEEDED", "FAILED"]
    assert runs[0]["startTime"] > runs[1]["startTime"]
    first = runs[0]
    assert set(first) == {
        "runId", "jobId", "jobName", "environment", "state",
        "startTime", "endTime", "duration", "lastUpdated",
    }  # fmt: skip
    assert first["duration"] == "PT7S"
    assert first["jobName"] == "webmodel"
    assert first["environment"] == "prod"


def test_events_outside_the_window_do_not_count(api: Api) -> None:
    api.ingest(simple_run(ago(hours=30), "yesterday"))
    assert api.runs("PT-12H", "PT0S").json() == []
    assert len(api.runs("PT-48H", "PT0S").json()) == 1


def test_filters(api: Api) -> None:
    api.ingest(
        simple_run(ago(hours=3), "a", job="webmodel", env="prod")
        + simple_run(ago(hours=2), "b", job="webmodel", env="qa", fail=True)
        + simple_run(ago(hours=1), "c", job="orders", env="prod")
    )
    assert {r["jobName"] for r in api.runs(jobName="orders").json()} == {"orders"}
    assert {r["environment"] for r in api.runs(environment="qa").json()} == {"qa"}
    assert [r["state"] for r in api.runs(state="FAILED").json()] == ["FAILED"]
    resp = api.runs(state="EXPLODED")
    assert resp.status_code == 400


def test_running_run_has_no_end(api: Api) -> None:
    events = simple_run(ago(minutes=10), "live")[:5]
    api.ingest(events)
    (run,) = api.runs("PT-1H", "PT0S").json()
    assert run["state"] == "RUNNING"
    assert run["endTime"] is None
    assert run["duration"] is None


def test_from_equal_to_is_an_empty_list(api: Api) -> None:
    api.ingest(simple_run(ago(hours=2), "empty"))
    moment = iso(ago(hours=2))
    for frm, to in (("PT-1H", "PT-1H"), (moment, moment)):
        resp = api.runs(frm, to)
        assert resp.status_code == 200, resp.text
        assert resp.json() == []
