"""The client's sans-IO core as pure functions: batch splitting, window planning and re-splitting,
Retry-After, line assembly, token freshness."""

import itertools
import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobtrail.client.core import (
    ApiError,
    Core,
    Lines,
    LogRead,
    Request,
    Response,
    RetryPolicy,
    Token,
    drive,
    event_bodies,
    retry_after,
)
from jobtrail.client.windows import Listing, Window, parse_moment, plan
from jobtrail.wire.shapes import RunSummary

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@given(st.lists(st.text(max_size=300), max_size=60), st.integers(1, 7), st.integers(200, 2000))
def test_bodies_keep_every_event_in_order_under_both_limits(
    texts: list[str], max_events: int, max_bytes: int
) -> None:
    events = [{"eventId": str(i), "data": t} for i, t in enumerate(texts)]
    bodies = list(event_bodies(events, max_events, max_bytes))
    batches = [orjson.loads(b)["events"] for b in bodies]
    assert [e for batch in batches for e in batch] == events
    for body, batch in zip(bodies, batches, strict=True):
        assert len(batch) <= max_events
        assert len(body) <= max_bytes or len(batch) == 1  # one huge event goes alone


@given(st.integers(0, 7 * 24 * 3600), st.integers(0, 7 * 24 * 3600))
def test_plan_covers_the_window_newest_first_in_96_hour_pieces(a: int, b: int) -> None:
    start, end = NOW - timedelta(seconds=max(a, b)), NOW - timedelta(seconds=min(a, b))
    windows = plan(start, end)
    assert all(w.end - w.start <= timedelta(hours=96) for w in windows)
    assert all(w.start < w.end for w in windows)
    if start < end:
        assert windows[0].end == end
        assert windows[-1].start == start
    assert all(x.start == y.end for x, y in itertools.pairwise(windows))


def test_moments_as_durations_timestamps_and_datetimes() -> None:
    assert parse_moment("P-7D", NOW) == NOW - timedelta(days=7)
    assert parse_moment("-PT12H", NOW) == NOW - timedelta(hours=12)
    assert parse_moment("PT-1H-30M", NOW) == NOW - timedelta(minutes=90)
    assert parse_moment("PT0S", NOW) == NOW
    assert parse_moment("2026-11-27T00:00:00Z", NOW) == datetime(2026, 11, 27, tzinfo=UTC)
    assert parse_moment(timedelta(hours=-2), NOW) == NOW - timedelta(hours=2)


def _run(run_id: str, updated: str) -> RunSummary:
    return RunSummary(
        runId=run_id, jobId="j", jobName="j", environment="e", state="RUNNING",
        startTime=updated, endTime=None, duration=None, lastUpdated=updated,
    )  # fmt: skip


def test_a_trimmed_window_is_asked_again_up_to_its_oldest_event() -> None:
    window = Window(NOW - timedelta(hours=10), NOW)
    listing = Listing([window])
    assert listing.next() == window
    oldest = "2026-11-28T08:00:00.5Z"
    headers = {"x-jobtrail-truncated": "true", "x-jobtrail-oldest-event": oldest}
    assert listing.feed(window, [_run("a", "2026-11-28T09:00:00Z")], headers) == ["a"]
    again = listing.next()
    assert again == Window(window.start, datetime(2026, 11, 28, 8, 0, 0, 500001, tzinfo=UTC))
    newer = _run("a", "2026-11-28T09:00:00.25Z")
    assert listing.feed(again, [newer, _run("b", "2026-11-28T07:00:00Z")], {}) == ["b"]
    assert listing.next() is None
    assert listing.runs["a"] is newer  # the newest state wins


def test_retry_after_seconds_or_date_and_jittered_backoff() -> None:
    assert retry_after("3", NOW) == 3.0
    assert retry_after("Sat, 28 Nov 2026 12:00:05 GMT", NOW) == 5.0
    assert retry_after("soon", NOW) is None
    policy = RetryPolicy(base=1.0, cap=4.0)
    rnd = random.Random(1)
    delays = [policy.delay(n, Response(503, {}, b""), rnd, NOW) for n in range(6)]
    assert all(0 <= d <= min(4.0, 2**n) for n, d in enumerate(delays))
    assert policy.delay(0, Response(429, {"retry-after": "7"}, b""), rnd, NOW) == 7.0


@given(st.lists(st.text(alphabet="ab\né", max_size=20), max_size=10), st.data())
def test_lines_come_out_whole_and_once_however_the_bytes_are_cut(
    parts: list[str], data: st.DataObject
) -> None:
    raw = "".join(parts).encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=6)))
    lines = Lines()
    out: list[str] = []
    for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True):
        out += lines.feed(raw[a:b])
    out += lines.close()
    assert out == "".join(parts).split("\n")[: -1 if raw.endswith(b"\n") or not raw else None]


def test_tokens_are_reminted_a_tenth_of_their_life_before_expiry() -> None:
    token = Token("t", NOW + timedelta(hours=1), NOW)
    assert token.fresh(NOW + timedelta(minutes=58, seconds=59))
    assert not token.fresh(NOW + timedelta(minutes=59, seconds=1))
    short = Token("t", NOW + timedelta(seconds=2), NOW)
    assert short.fresh(NOW + timedelta(seconds=1.7))
    assert not short.fresh(NOW + timedelta(seconds=1.9))


def _log_read(follow: bool = True, **range_: int) -> tuple[Core, LogRead]:
    core = Core("org", "kid", "key", clock=lambda: NOW, rnd=random.Random(1))
    core.token = Token("t1", NOW + timedelta(hours=1), NOW)
    return core, core.log("run", "s", "stdout", follow, **range_)


def _request(read: LogRead) -> Request:
    request = drive(read.request(), lambda _: Response(500, {}, b""), lambda _: None)
    assert isinstance(request, Request)
    return request


def test_a_followed_log_resumes_where_the_last_response_stopped() -> None:
    core, read = _log_read(tail=2)
    assert _request(read).params == {"tail": "2", "follow": "true"}
    head = {"x-jobtrail-log-offset": "24", "x-jobtrail-step-ended": "false"}
    assert read.opened(Response(200, head, b"")) is None
    read.received(16)
    assert not read.finished()  # closed while the step ran (its token expired): go on
    core.token = Token("t2", NOW + timedelta(hours=1), NOW)  # as if minted again
    request = _request(read)
    assert request.params == {"offset": "40", "follow": "true"}
    assert request.headers["Authorization"] == "Bearer t2"
    assert read.opened(Response(200, {"x-jobtrail-step-ended": "true"}, b"")) is None
    read.received(5)
    assert read.finished()
    assert read.position == 45


def test_a_log_answer_401_remints_once_and_503_waits_as_told() -> None:
    core, read = _log_read()
    assert read.opened(Response(401, {}, b"")) == 0.0
    assert core.token is None
    assert read.opened(Response(503, {"retry-after": "3"}, b"")) == 3.0
    with pytest.raises(ApiError) as refused:
        read.opened(Response(401, {}, b'{"error": "unauthorized", "message": "no"}'))
    assert refused.value.status == 401


def test_a_broken_connection_goes_on_only_when_following() -> None:
    _, read = _log_read()
    read.opened(Response(200, {"x-jobtrail-log-offset": "0"}, b""))
    assert read.broke(Response(0, {}, b"reset"), reading=True) is None
    _, once = _log_read(follow=False)
    once.opened(Response(200, {}, b""))
    with pytest.raises(ApiError):
        once.broke(Response(0, {}, b"reset"), reading=True)
