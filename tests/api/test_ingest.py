"""`POST .../jobs/v1/events`: atomic batches, idempotent event ids, limits, clear errors."""

import orjson
import pytest
from sqlalchemy import Engine

from jobtrail.domain import identity
from jobtrail.domain.batches import parse_batch
from jobtrail.store.ingest import ingest
from tests.support import Api, ago, event, simple_run


def _snapshot(api: Api) -> list[object]:
    runs = api.runs("PT-96H", "PT0S").json()
    return [runs, *[api.get(f"/jobs/v1/runs/{r['runId']}").json() for r in runs]]


def test_accepts_and_counts_duplicates(api: Api) -> None:
    events = simple_run(ago(hours=1), "r")
    assert api.ingest(events) == {"accepted": len(events), "duplicates": 0}
    before = _snapshot(api)
    assert api.ingest(events) == {"accepted": 0, "duplicates": len(events)}
    assert api.ingest(events[:3] + events[:3]) == {"accepted": 0, "duplicates": 6}
    assert _snapshot(api) == before


def test_duplicates_inside_one_batch_count_once(api: Api) -> None:
    ev = event("run", ago(minutes=5), "d", state="RUNNING")
    assert api.ingest([ev, ev, ev]) == {"accepted": 1, "duplicates": 2}


def test_bad_event_rejects_the_whole_batch_naming_index_and_field(api: Api) -> None:
    good = simple_run(ago(hours=1), "atomic")
    bad = [
        *good[:3],
        {**good[3], "timestamp": "yesterday"},
        *good[4:6],
        {**good[6], "state": "DONE"},
    ]
    resp = api.post("/jobs/v1/events", json={"events": bad})
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"] == "invalid_events"
    assert "events[3].timestamp" in body["message"]
    problems = {(d["index"], d["field"]) for d in body["details"]}
    assert (3, "timestamp") in problems
    assert api.runs().json() == []  # nothing of the batch was stored
    assert api.ingest(good)["accepted"] == len(good)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.pop("eventId"), "eventId"),
        (lambda e: e.update(kind="metric"), "kind"),
        (lambda e: e.update(timestamp="2026-11-27T10:00:00"), "timestamp"),
        (lambda e: e.update(timestamp=1700000000), "timestamp"),
        (lambda e: e.update(job={"name": ""}), "job.name"),
        (lambda e: e.update(runKey="x" * 201), "runKey"),
        (lambda e: e.update(state="RUNNING", kind="step"), "step"),
        (lambda e: e.update(state="SKIPPED"), "state"),
        (lambda e: e.update(attempt=0), "attempt"),
        (lambda e: e.update(runKey="a\x00b"), "runKey"),
        (lambda e: e.update(message="bad\x00message"), "message"),
        (lambda e: e.update(surprise=1), "surprise"),
        (lambda e: e.update(kind="step", step={"name": "a/b"}, state="RUNNING"), "step.name"),
        (lambda e: e.update(kind="log", step={"name": "s"}, state=None, stream="stdout"), "seq"),
    ],
)
def test_each_invalid_field_is_named(api: Api, mutate: object, field: str) -> None:
    ev = event("run", ago(minutes=1), "v", state="RUNNING")
    mutate(ev)  # type: ignore[operator]
    resp = api.post("/jobs/v1/events", json={"events": [ev]})
    assert resp.status_code == 400, resp.text
    fields = {d["field"] for d in resp.json()["details"]}
    assert any(f == field or f.startswith(field) for f in fields), fields


def test_too_many_events_is_413(api: Api) -> None:
    ev = event("run", ago(minutes=1), "big", state="RUNNING")
    resp = api.post("/jobs/v1/events", json={"events": [ev] * 10_001})
    assert resp.status_code == 413
    assert resp.json()["error"] == "payload_too_large"


def test_body_over_10_mib_is_413(api: Api) -> None:
    body = b'{"events": [' + b" " * (10 * 1024 * 1024) + b"]}"
    resp = api.post("/jobs/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 413


def test_chunked_body_over_10_mib_is_413(api: Api) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"events": ['
        for _ in range(11):
            yield b" " * (1024 * 1024)
        yield b"]}"

    resp = api.post(
        "/jobs/v1/events", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413


@pytest.mark.parametrize(
    ("content", "ctype", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"events": ["\xff\xfe"]}', "application/json", 400),
        (b'{"events": "nope"}', "application/json", 400),
        (b"[]", "application/json", 400),
        (b"", "application/json", 400),
        (b'{"events": []}', "text/plain", 415),
        (b'{"events": []}', "", 415),
        (b'{"events": [{"eventId": "\\ud800"}]}', "application/json", 400),
    ],
)
def test_malformed_bodies_are_clear_4xx(api: Api, content: bytes, ctype: str, status: int) -> None:
    headers = {"Content-Type": ctype} if ctype else {}
    resp = api.post("/jobs/v1/events", content=content, headers=headers)
    assert resp.status_code == status, resp.text
    assert set(resp.json()) >= {"error", "message"}


def test_log_chunks_are_ordered_by_seq_and_deduplicated(api: Api) -> None:
    t = ago(minutes=3)
    step = {"name": "s"}
    api.ingest(
        [
            event("step", t, "logs", step=step, state="RUNNING"),
            event("log", t, "logs", step=step, stream="stdout", data="two\n", seq=2),
            event("log", t, "logs", step=step, stream="stdout", data="zero\n", seq=0),
        ]
    )
    api.ingest(
        [
            event("log", t, "logs", step=step, stream="stdout", data="one\n", seq=1),
            event("log", t, "logs", step=step, stream="stdout", data="ZERO AGAIN\n", seq=0),
            event("log", t, "logs", step=step, stream="stderr", data="err\n", seq=0),
        ]
    )
    (run,) = api.runs("PT-1H", "PT0S").json()
    detail = api.get(f"/jobs/v1/runs/{run['runId']}/steps/s").json()
    assert detail["stdout"] == "zero\none\ntwo\n"
    assert detail["stderr"] == "err\n"


def test_timestamps_outside_the_bounds_are_refused_naming_event_and_bound(api: Api) -> None:
    good = simple_run(ago(hours=1), "bounds")
    for i, stamp, bound in [
        (2, "9999-12-31T23:59:59-01:00", "the latest accepted"),
        (4, "2020-01-01T00:00:00Z", "the earliest accepted"),
    ]:
        batch = [*good[:i], {**good[i], "timestamp": stamp}, *good[i + 1 :]]
        resp = api.post("/jobs/v1/events", json={"events": batch})
        assert resp.status_code == 400, resp.text
        body = resp.json()
        assert body["error"] == "invalid_events"
        assert f"events[{i}].timestamp: {stamp} is " in body["message"]
        assert bound in body["message"]
    assert api.runs().json() == []


def test_reads_survive_a_far_future_event_stored_before_the_bound(api: Api, engine: Engine) -> None:
    events = simple_run(ago(hours=1), "far")
    events[-1] = {**events[-1], "timestamp": "9999-12-31T23:59:59-01:00"}
    ingest(engine, api.org.id, parse_batch({"events": events}), 1 << 24)
    job = identity.job_id(api.org.id, "prod", "webmodel")
    run_id = identity.run_id(api.org.id, job, "far")
    run = api.get(f"/jobs/v1/runs/{run_id}")
    assert run.status_code == 200, run.text
    assert run.json()["endTime"] == "9999-12-31T23:59:59.999999Z"
    for path in ["/steps", "/steps/run-dbt", "/steps/run-dbt/logs/stdout"]:
        assert api.get(f"/jobs/v1/runs/{run_id}{path}").status_code == 200, path
    assert api.runs().status_code == 200


def test_an_event_id_again_with_other_content_is_409_naming_it(api: Api) -> None:
    events = simple_run(ago(hours=1), "conflict", fail=True)
    api.ingest(events[:-1])
    before = _snapshot(api)
    changed = {**events[-2], "state": "SUCCEEDED", "exitCode": 0, "message": None}
    resp = api.post("/jobs/v1/events", json={"events": [events[-1], changed]})
    assert resp.status_code == 409, resp.text
    assert resp.json() == {
        "error": "event_conflict",
        "message": f"eventId {changed['eventId']!r} came again with different content; an "
        "eventId names one event for ever, so send a changed event under a new eventId. "
        "Nothing was stored.",
        "details": [{"eventId": changed["eventId"]}],
    }
    assert _snapshot(api) == before  # the FAILED stays, and the run event was not stored either


def test_an_event_id_twice_in_one_batch_with_other_content_is_409(api: Api) -> None:
    first = event("run", ago(minutes=5), "twice", state="RUNNING")
    second = {**first, "state": "FAILED"}
    resp = api.post("/jobs/v1/events", json={"events": [first, second]})
    assert resp.status_code == 409
    assert "came twice in this batch" in resp.json()["message"]
    assert api.runs().json() == []


def test_the_same_instant_written_otherwise_is_a_duplicate_not_a_conflict(api: Api) -> None:
    ev = event("run", ago(minutes=5), "instant", state="RUNNING")
    api.ingest([ev])
    again = {**ev, "timestamp": ev["timestamp"].replace("Z", "+00:00").lower()}
    assert api.ingest([again]) == {"accepted": 0, "duplicates": 1}


def test_a_log_chunk_is_keyed_by_step_stream_and_seq(api: Api) -> None:
    events = simple_run(ago(hours=1), "logkey")
    api.ingest(events)
    chunk = next(ev for ev in events if ev["kind"] == "log")
    other_id = {**chunk, "eventId": "another-id", "data": "something else\n"}
    assert api.ingest([other_id]) == {"accepted": 0, "duplicates": 1}


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json; charset=latin-1", 415),
        ('application/json; charset="UTF-16"', 415),
        ("application/json; charset=UTF-8", 200),
        ("application/json;charset=utf8", 200),
    ],
)
def test_a_charset_other_than_utf8_is_415(api: Api, content_type: str, status: int) -> None:
    body = orjson.dumps({"events": [event("run", ago(minutes=1), "cs", state="RUNNING")]})
    resp = api.post("/jobs/v1/events", content=body, headers={"Content-Type": content_type})
    assert resp.status_code == status, resp.text
    if status == 415:
        assert resp.json()["error"] == "unsupported_media_type"
        assert "UTF-8" in resp.json()["message"]
