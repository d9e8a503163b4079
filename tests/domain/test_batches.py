"""Parsing a batch: the timestamp bounds ingestion enforces (too far ahead, older than the
retention), reported with the event's index and the bound."""

from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from jobtrail.domain.batches import batch_events, from_json, parse_batch, validated_json
from jobtrail.domain.errors import InvalidEvents, JobtrailError
from jobtrail.domain.events import TimeBounds
from jobtrail.domain.timefmt import to_micros
from tests.support import event, iso

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
MINUTE = 60_000_000
BOUNDS = TimeBounds.around(to_micros(NOW), retention_us=7 * 24 * 60 * MINUTE, skew_us=5 * MINUTE)


def _refused(timestamp: str) -> InvalidEvents:
    ok = event("run", NOW, state="RUNNING")
    bad = {**event("run", NOW, state="SUCCEEDED"), "timestamp": timestamp}
    with pytest.raises(InvalidEvents) as caught:
        parse_batch({"events": [ok, bad]}, BOUNDS)
    return caught.value


@pytest.mark.parametrize(
    "timestamp", ["9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59Z", "2026-11-29T12:05:01Z"]
)
def test_future_beyond_the_skew_is_refused_naming_index_and_bound(timestamp: str) -> None:
    err = _refused(timestamp)
    assert err.details == [
        {
            "index": 1,
            "field": "timestamp",
            "message": f"{timestamp} is after 2026-11-29T12:05:00Z, the latest accepted "
            "(now plus the allowed clock skew)",
        }
    ]
    assert "events[1].timestamp" in err.message


def test_older_than_the_retention_is_refused() -> None:
    err = _refused("2026-11-22T11:59:59Z")
    assert err.details is not None
    assert "before 2026-11-22T12:00:00Z, the earliest accepted" in str(err.details[0]["message"])


def test_before_the_epoch_is_refused_even_without_bounds() -> None:
    bad = {**event("run", NOW, state="RUNNING"), "timestamp": "0001-01-01T00:00:00+14:00"}
    with pytest.raises(InvalidEvents) as caught:
        parse_batch({"events": [bad]})
    assert "events[0].timestamp: is before 1970" in caught.value.message


@pytest.mark.parametrize(
    "timestamp", ["2026-11-29T12:05:00Z", "2026-11-22T12:00:00Z", "2026-11-29t13:04:00+01:00"]
)
def test_the_bounds_themselves_are_accepted(timestamp: str) -> None:
    (ev,) = parse_batch(
        {"events": [{**event("run", NOW, state="RUNNING"), "timestamp": timestamp}]}, BOUNDS
    )
    assert ev.ts >= 0


def test_lowercase_z_is_a_real_timestamp() -> None:
    raw = {**event("run", NOW, state="RUNNING"), "timestamp": iso(NOW).replace("Z", "z")}
    (ev,) = parse_batch({"events": [raw]}, BOUNDS)
    assert ev.ts == to_micros(NOW)


_RUN = event("run", NOW, state="RUNNING")
_BODIES: list[bytes] = [
    orjson.dumps({"events": [_RUN, event("step", NOW, step={"name": "a"}, state="RUNNING")]}),
    orjson.dumps({"events": [{**_RUN, "state": "NOPE"}]}),  # passes the schema, not the kind
    orjson.dumps({"events": [{**_RUN, "timestamp": "2026-02-30T00:00:00Z"}]}),
    orjson.dumps({"events": [{**_RUN, "attempt": "7", "exitCode": 1.0}]}),  # lax, both ways
    orjson.dumps({"events": [{**_RUN, "eventId": "x" * 201}]}),
    orjson.dumps({"events": [{**_RUN, "job": {"name": "j\x00", "environment": "e"}}]}),
    orjson.dumps({"events": [_RUN] * 10_001}),
    orjson.dumps({"events": []}),
    orjson.dumps({"events": {}}),
    orjson.dumps([_RUN]),
    b'{"events": [], "events": 5}',  # the last of repeated keys wins, in both decoders
    b'{"events": 5, "events": []}',
    b'{"events": [{"eventId": "\\ud800"}]}',  # a lone surrogate: not JSON for either
    b'{"events": [{"attempt": 100000000000000000000}]}',
    b'\xef\xbb\xbf{"events": []}',
]


@pytest.mark.parametrize("raw", _BODIES, ids=[str(i) for i in range(len(_BODIES))])
def test_validating_from_bytes_answers_as_parsing_the_decoded_body(raw: bytes) -> None:
    """The server validates a body straight from its bytes, and falls back to `parse_batch`
    for any it refuses: a body validated from bytes gives the very events (or error) that
    parsing the decoded body gives."""
    batch = validated_json(raw)
    try:
        expected: object = parse_batch(orjson.loads(raw), BOUNDS)
    except (JobtrailError, orjson.JSONDecodeError) as exc:
        expected = exc
    if batch is None:
        assert isinstance(expected, Exception)
        return
    try:
        got: object = batch_events(batch, BOUNDS)
    except JobtrailError as exc:
        got = exc
    if isinstance(expected, JobtrailError):
        assert isinstance(got, JobtrailError)
        assert (got.message, got.details) == (expected.message, expected.details)
    else:
        assert got == expected


_STEP = event("step", NOW, step={"name": "a", "dependencies": ["b"]}, state="RUNNING", attempt=1)
_ODD: list[object] = [None, 0, -1, 1.5, 2**63, True, "", "x" * 300, "a\x00b",
                      "2026-13-01T00:00:00Z", [], ["b", "b"], ["o"] * 30, {}, {"name": ""},
                      {"x": 1}, "RUNNING"]  # fmt: skip
_FIELDS = ["eventId", "timestamp", "kind", "job", "runKey", "state", "step", "attempt", "exitCode",
           "message", "stream", "data", "seq", "other"]  # fmt: skip
_STEP_FIELDS = ["name", "dependencies", "owners", "other"]


def _odd_bodies() -> list[object]:
    bodies: list[object] = []
    for value in _ODD:
        bodies += [{"events": [_STEP, {**_STEP, name: value}]} for name in _FIELDS]
        bodies += [
            {"events": [{**_STEP, "step": {**_STEP["step"], name: value}}, _RUN]}  # type: ignore[misc]
            for name in _STEP_FIELDS
        ]
        bodies += [{"events": [_RUN, value]}, {"events": value}, value, {"events": [], "x": value}]
    step = orjson.dumps({"events": [_STEP]})
    for big in (b"10000000000000000000000000000", b"-10000000000000000000000000000"):
        bodies += [step.replace(b'"attempt":1', b'"attempt":' + big)]  # a float once decoded
        bodies += [step.replace(b'"runKey":', b'"seq":' + big + b',"runKey":')]
        bodies += [step.replace(b'"runKey":', b'"other":' + big + b',"runKey":')]
    return bodies


def test_a_refused_body_is_named_the_same_with_what_validating_its_bytes_found() -> None:
    """The server hands `parse_batch` what validating the bytes refused, which it names as it
    is when it reads the same either way: every answer is the one validating again gives."""
    compared = 0
    for body in _odd_bodies():
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        found = from_json(raw)
        if not isinstance(found, ValidationError):
            continue
        answers = []
        for again in (None, found):
            try:
                answers.append(parse_batch(orjson.loads(raw), BOUNDS, again))
            except JobtrailError as exc:
                answers.append((type(exc), exc.message, exc.details))
        assert answers[0] == answers[1], body
        compared += 1
    assert compared > 200
