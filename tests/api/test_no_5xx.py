"""No input may produce a 5xx or a stack trace: every answer is the error envelope or data."""

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, unquote

import pytest
from pydantic import TypeAdapter

from jobtrail.wire.shapes import RunDetail, RunSummary, StepDetail, StepSummary
from tests.support import Api, ago, iso, simple_run

NF, BAD, REDIRECT = (404, "not_found"), (400, "bad_request"), (307, None)
RUN, STEPS = (200, None), (200, None)
# What each hostile segment gets at: run, run's steps, step, step's log, log stream. `..` and
# `.` are resolved by the client (as browsers do) before the request is sent.
HOSTILE: dict[str, list[tuple[int, str | None]]] = {
    "": [REDIRECT, NF, REDIRECT, NF, NF],
    "%00": [NF, NF, NF, NF, BAD],
    "%FF%FE": [NF, NF, NF, NF, BAD],
    quote("\x00\x01"): [NF, NF, NF, NF, BAD],
    quote("' OR 1=1 --"): [NF, NF, NF, NF, BAD],
    quote("../../etc/passwd", safe=""): [NF, NF, NF, NF, NF],
    "x" * 10_000: [BAD, BAD, BAD, BAD, BAD],
    quote("名前", safe=""): [NF, NF, NF, NF, BAD],
    "%F0%9F%92%A9": [NF, NF, NF, NF, BAD],
    "..": [NF, NF, RUN, NF, STEPS],
    ".": [BAD, NF, STEPS, NF, NF],
}


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_path_segments(api: Api, value: str) -> None:
    api.ingest(simple_run(ago(hours=1), "r"))
    (run,) = api.runs().json()
    paths = [
        f"/jobs/v1/runs/{value}",
        f"/jobs/v1/runs/{value}/steps",
        f"/jobs/v1/runs/{run['runId']}/steps/{value}",
        f"/jobs/v1/runs/{run['runId']}/steps/{value}/logs/stdout",
        f"/jobs/v1/runs/{run['runId']}/steps/run-dbt/logs/{value}",
    ]
    for path, (status, code) in zip(paths, HOSTILE[value], strict=True):
        resp = api.get(path)
        assert resp.status_code == status, (path[:80], resp.text[:200])
        if code is not None and value not in (".", ".."):  # those name other resources
            body = resp.json()
            assert body["error"] == code
            assert set(body) <= {"error", "message", "details"}
            decoded = unquote(value)
            if body["message"].startswith("Unknown run"):
                assert body["message"] == f"Unknown run {decoded[:100]!r}."
            if "has no step" in body["message"]:
                assert body["message"] == f"Run {run['runId']!r} has no step {decoded[:100]!r}."


IW = "invalid_window"


@pytest.mark.parametrize(
    ("params", "status", "code", "needle"),
    [
        ({"from": "9999-12-31T23:59:59Z", "to": "9999-12-31T23:59:59Z"}, 400, IW, "future"),
        ({"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"}, 400, IW, "7 days"),
        ({"from": "P-999999999Y", "to": "PT0S"}, 400, IW, "outside the calendar"),
        ({"from": "PT-99999999999999999999H", "to": "PT0S"}, 400, IW, "outside the calendar"),
        ({"from": "P-1.5D", "to": "PT0S"}, 200, None, ""),
        ({"from": "\x00", "to": "\x00"}, 400, IW, "neither an ISO 8601 timestamp"),
        ({"from": "PT-1H", "to": "PT0S", "state": "x" * 5000}, 400, "bad_request", "`state`"),
        ({"from": "PT-1H", "to": "PT0S", "jobName": "\u202e"}, 200, None, ""),
        ({"from": "2026-02-30T00:00:00Z", "to": "PT0S"}, 400, IW, "same type"),
        ({"from": "2026-11-28T25:00:00Z", "to": "2026-11-28T26:00:00Z"}, 400, IW, "neither"),
        ({"from": "PT-1h", "to": "pt0s"}, 200, None, ""),
    ],
)
def test_hostile_window_parameters(
    api: Api, params: dict[str, str], status: int, code: str | None, needle: str
) -> None:
    resp = api.get("/jobs/v1/runs", params=params)
    assert resp.status_code == status, resp.text
    body = resp.json()
    if code is None:
        assert body == []
    else:
        assert set(body) == {"error", "message"}
        assert body["error"] == code
        assert needle in body["message"]


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


Events = list[dict[str, Any]]


def _each(events: Events, **patch: Any) -> Events:
    return [{**ev, **patch} for ev in events]


def _steps(events: Events, name: str) -> Events:
    """Renames the run-dbt step everywhere (its events, its logs and the dependency on it)."""
    out = []
    for ev in events:
        ev = dict(ev)
        if isinstance(ev.get("step"), dict) and ev["step"]["name"] == "run-dbt":
            ev["step"] = {**ev["step"], "name": name}
        out.append(ev)
    return out


def _last(events: Events, **patch: Any) -> Events:
    return [*events[:-1], {**events[-1], **patch}]


def _log(events: Events, **patch: Any) -> Events:
    return [{**ev, **patch} if ev["kind"] == "log" else ev for ev in events]


def _failed_step(events: Events, **patch: Any) -> Events:
    return [{**ev, **patch} if ev.get("exitCode") == 2 else ev for ev in events]


# Odd but valid: each is stored, and then every read endpoint must still answer 200.
ACCEPTED: dict[str, Callable[[Events], Events]] = {
    "rtl and emoji job": lambda e: _each(e, job={"name": "\u202eboj 💩", "environment": "名前"}),
    "200-char names": lambda e: _each(e, job={"name": "j" * 200, "environment": "e" * 200}),
    "hostile run key": lambda e: _each(e, runKey="../../etc/passwd' OR 1=1 --"),
    "given job id": lambda e: _each(e, job={"name": "j", "environment": "p", "id": "i" * 200}),
    "odd step name": lambda e: _steps(e, "a b%2F..?#&=名"),
    "extreme exit code": lambda e: _failed_step(e, exitCode=-(2**31)),
    "max exit code": lambda e: _failed_step(e, exitCode=2**31 - 1),
    "max attempt": lambda e: _failed_step(e, attempt=1_000_000),
    "4096-char message": lambda e: _failed_step(e, message="m" * 4096),
    "huge seq": lambda e: _log(e, seq=2**62),
    "nul and control bytes in a log": lambda e: _log(e, data="\x00\x1b[31mred\r\n"),
    "lowercase z": lambda e: [{**ev, "timestamp": ev["timestamp"].lower()} for ev in e],
    "offset +14:00": lambda e: _last(e, timestamp=_at_offset(ago(minutes=1), 14)),
    "at the future bound": lambda e: _last(e, timestamp=iso(ago(minutes=-4))),
    "unknown dependency": lambda e: _steps(
        [{**ev, "step": {**ev["step"], "dependencies": ["ghost"]}} if ev.get("step") else ev
         for ev in e if ev["kind"] != "log"], "run-dbt"),
}  # fmt: skip


def _at_offset(moment: datetime, hours: int) -> str:
    return moment.astimezone(timezone(timedelta(hours=hours))).isoformat()


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_odd_but_valid_events_are_stored_and_every_read_answers(
    api: Api, make_api: Callable[..., Api], case: str
) -> None:
    events = ACCEPTED[case](simple_run(ago(hours=1), "odd", fail=True))
    assert api.ingest(events)["accepted"] == len(events), case
    reader = make_api(api.org, "read")
    listing = reader.runs("PT-2H", "PT0S")
    assert listing.status_code == 200, listing.text
    (run,) = TypeAdapter(list[RunSummary]).validate_python(listing.json())
    base = f"/jobs/v1/runs/{run['runId']}"
    detail = TypeAdapter(RunDetail).validate_python(_ok(reader, base))
    TypeAdapter(list[StepSummary]).validate_python(_ok(reader, f"{base}/steps"))
    assert {s["name"] for s in detail["steps"]} >= {
        ev["step"]["name"] for ev in events if "step" in ev
    }
    for step in detail["steps"]:
        name = quote(step["name"], safe="")
        TypeAdapter(StepDetail).validate_python(_ok(reader, f"{base}/steps/{name}"))
        for stream in ("stdout", "stderr"):
            for params in ({}, {"tail": "1"}, {"offset": "1", "limit": "3"}, {"follow": "true"}):
                resp = reader.get(f"{base}/steps/{name}/logs/{stream}", params=params)
                assert resp.status_code == 200, (case, step["name"], stream, params, resp.text)


def _ok(api: Api, path: str) -> Any:
    resp = api.get(path)
    assert resp.status_code == 200, (path, resp.text)
    return resp.json()


_ODD = simple_run(ago(hours=1), "odd")[0]

# Refused: the exact answer (the field and its message), and nothing stored.
_SKEW = "the latest accepted (now plus the allowed clock skew)"
REFUSED: list[tuple[dict[str, Any], str, str]] = [
    ({"timestamp": "9999-12-31T23:59:59-01:00"}, "timestamp",
     f"9999-12-31T23:59:59-01:00 is after {{latest}}, {_SKEW}"),
    ({"timestamp": "0001-01-01T00:00:00-12:00"}, "timestamp",
     "is before 1970-01-01T00:00:00Z, the earliest stored"),
    ({"timestamp": "2026-02-30T00:00:00Z"}, "timestamp", "is not a real date and time"),
    ({"exitCode": 2**40}, "exitCode", "Input should be less than or equal to 2147483647"),
    ({"attempt": 10**30}, "attempt",
     "Unable to parse input string as an integer, exceeded maximum size"),
    ({"eventId": "x" * 201}, "eventId", "String should have at most 200 characters"),
    ({"job": {"name": "j", "environment": "e", "id": ""}}, "job.id",
     "String should have at least 1 character"),
    ({"job": {"name": "j\x00", "environment": "e"}}, "job.name",
     "Value error, must not contain NUL characters"),
    ({"job": "webmodel"}, "job", "Input should be a valid dictionary"),
    ({"runKey": None}, "runKey", "Input should be a valid string"),
    ({"kind": None}, "kind", "Input should be 'run', 'step' or 'log'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("patch", "field", "message"), REFUSED, ids=[str(r[0])[:60] for r in REFUSED]
)
def test_hostile_event_values_are_refused_exactly(
    api: Api, patch: dict[str, Any], field: str, message: str
) -> None:
    resp = api.post("/jobs/v1/events", json={"events": [{**_ODD, **patch}]})
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == "invalid_events"
    (problem,) = body["details"]
    assert (problem["index"], problem["field"]) == (0, field)
    if "{latest}" in message:  # the bound moves with the clock: a timestamp in its place
        before, after = message.split("{latest}")
        assert re.fullmatch(f"{re.escape(before)}\\S+Z{re.escape(after)}", problem["message"])
    else:
        assert problem["message"] == message
    summary = f"events[0].{field}: {problem['message']}"
    assert body["message"] == f"The batch was rejected and nothing was stored: {summary}."
    assert api.runs().json() == []
