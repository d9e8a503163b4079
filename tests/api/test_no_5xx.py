"""No input may produce a 5xx or a stack trace: every answer is the error envelope or data."""

from urllib.parse import quote

import pytest

from tests.support import Api, ago, simple_run

HOSTILE = [
    "",
    "%00",
    "%FF%FE",
    quote("\x00\x01"),
    quote("' OR 1=1 --"),
    quote("../../etc/passwd", safe=""),
    "x" * 10_000,
    quote("名前", safe=""),
    "%F0%9F%92%A9",
    "..",
    ".",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_path_segments(api: Api, value: str) -> None:
    api.ingest(simple_run(ago(hours=1), "r"))
    (run,) = api.runs().json()
    for path in [
        f"/jobs/v1/runs/{value}",
        f"/jobs/v1/runs/{value}/steps",
        f"/jobs/v1/runs/{run['runId']}/steps/{value}",
        f"/jobs/v1/runs/{run['runId']}/steps/{value}/logs/stdout",
        f"/jobs/v1/runs/{run['runId']}/steps/run-dbt/logs/{value}",
    ]:
        resp = api.get(path)
        assert resp.status_code < 500, (path[:80], resp.status_code)
        if resp.status_code >= 400:
            assert set(resp.json()) >= {"error", "message"}


@pytest.mark.parametrize(
    "params",
    [
        {"from": "9999-12-31T23:59:59Z", "to": "9999-12-31T23:59:59Z"},
        {"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"},
        {"from": "P-999999999Y", "to": "PT0S"},
        {"from": "PT-99999999999999999999H", "to": "PT0S"},
        {"from": "P-1.5D", "to": "PT0S"},
        {"from": "\x00", "to": "\x00"},
        {"from": "PT-1H", "to": "PT0S", "state": "x" * 5000},
        {"from": "PT-1H", "to": "PT0S", "jobName": "\u202e"},
        {"from": "2026-02-30T00:00:00Z", "to": "PT0S"},
        {"from": "2026-11-28T25:00:00Z", "to": "2026-11-28T26:00:00Z"},
    ],
)
def test_hostile_window_parameters(api: Api, params: dict[str, str]) -> None:
    resp = api.get("/jobs/v1/runs", params=params)
    assert resp.status_code < 500, resp.text
    if resp.status_code >= 400:
        assert set(resp.json()) >= {"error", "message"}


@pytest.mark.parametrize(
    "params",
    [
        {"offset": "x"},
        {"limit": "-5"},
        {"tail": "9" * 40},
        {"offset": "1e9"},
        {"limit": "99999999999999999999"},
    ],
)
def test_hostile_log_parameters(api: Api, params: dict[str, str]) -> None:
    api.ingest(simple_run(ago(hours=1), "r"))
    (run,) = api.runs().json()
    resp = api.get(f"/jobs/v1/runs/{run['runId']}/steps/run-dbt/logs/stdout", params=params)
    assert resp.status_code == 400
    assert resp.json()["error"] == "bad_request"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_wrong_methods_are_405(api: Api, method: str) -> None:
    resp = api.http.request(
        method, f"{api.prefix}/jobs/v1/runs", headers={"Authorization": f"Bearer {api.token}"}
    )
    assert resp.status_code == 405
    assert resp.json()["error"] == "method_not_allowed"
    assert resp.headers["allow"] == "GET"


def test_a_megabyte_of_headers_is_refused(api: Api) -> None:
    resp = api.get("/jobs/v1/runs", headers={"X-Big": "x" * 1024 * 1024})
    assert resp.status_code == 431
    assert resp.json()["error"] == "headers_too_large"
    many = {f"X-Header-{i}": "v" for i in range(200)}
    assert api.get("/jobs/v1/runs", headers=many).status_code == 431


def test_huge_and_odd_event_values(api: Api) -> None:
    base = simple_run(ago(hours=1), "odd")[0]
    for patch in [
        {"timestamp": "9999-12-31T23:59:59.999999+14:00"},
        {"timestamp": "0001-01-01T00:00:00-12:00"},
        {"exitCode": 2**40},
        {"attempt": 10**30},
        {"message": "m" * 5000},
        {"eventId": "x" * 201},
        {"job": {"name": "j", "environment": "e", "id": ""}},
        {"job": "webmodel"},
        {"runKey": None},
        {"kind": None},
    ]:
        resp = api.post(
            "/jobs/v1/events",
            json={
                "events": [
                    {**base, **patch, "eventId": "odd"}
                    if "eventId" not in patch
                    else {**base, **patch}
                ]
            },
        )
        assert resp.status_code < 500, (patch, resp.text)
