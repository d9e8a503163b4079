"""Every condition besides `failed`, end to end: runs reported to a real server, a real worker
process on the test's clock (`--now`), alerts delivered to a real webhook receiver that checks
each signature. Each condition fires once, with its content, and not when it should not: a run
that ended just before the stuck limit, a run that started inside the late grace. Scheduled
ticks that went by while no worker ran are judged when one runs again, once each."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from jobtrail.domain.catalog import parse_definition
from jobtrail.domain.timefmt import format_ts, to_micros
from jobtrail.store import catalog
from tests.support import Api, Org, Server, event, make_org, simple_run
from tests.worker.conftest import HOOK_SECRET, RunWorker
from tests.worker.receiver import Receiver

# Jobs without a definition of their own (other tests' jobs in this store) raise nothing here.
CONFIG = """
[defaults]
on = []
channels = ["hook"]

[channels.hook]
type = "webhook"
url = "{url}"
secret = "{secret}"
"""


def _config(receiver: Receiver) -> str:
    return CONFIG.format(url=receiver.url, secret=HOOK_SECRET)


def _worker(run_worker: RunWorker, now: datetime, receiver: Receiver) -> None:
    """One round at `now`, hours before runs already reported: retention must not prune them
    as being from the future (what it does beyond the clock skew)."""
    run_worker(now, _config(receiver), JOBTRAIL_CLOCK_SKEW="P1D")


def _define(engine: Engine, org: Org, first_seen: datetime, *definitions: dict[str, Any]) -> None:
    """Definitions as a runner reported them at `first_seen` (the catalog API stamps the time
    of the request; scheduled ticks before a job was first reported are never judged)."""
    parsed = [parse_definition({"environment": "prod", **d}) for d in definitions]
    catalog.put_definitions(engine, org.id, parsed, to_micros(first_seen))


def _run(job: str, key: str, start: datetime, end: datetime | None, state: str) -> list[Any]:
    """A run without steps: RUNNING at `start`, then `state` at `end` (if it ended)."""
    events = [event("run", start, key, job=job, state="RUNNING")]
    if end is not None:
        events.append(event("run", end, key, job=job, state=state))
    return events


def _got(receiver: Receiver, jobs: set[str]) -> list[tuple[str, str, str | None]]:
    """(job, condition, scheduled time) of what this test's jobs sent, in arrival order."""
    assert all(r.signed for r in receiver.received)
    return [
        (r.body["jobName"], r.body["condition"], r.body["scheduledAt"])
        for r in receiver.received
        if r.body["jobName"] in jobs
    ]


def _text(receiver: Receiver, job: str, condition: str) -> str:
    [body] = [
        r.body
        for r in receiver.received
        if r.body["jobName"] == job and r.body["condition"] == condition
    ]
    text: str = body["text"]
    return text


def test_run_conditions_fire_once_with_their_content(
    alert_server: Server, alert_engine: Engine, run_worker: RunWorker, receiver: Receiver
) -> None:
    org = make_org(alert_engine)
    api = Api(alert_server, org, "admin")
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=3)
    _define(
        alert_engine, org, now - timedelta(days=1),
        {"jobName": "hang", "owners": ["ops@acme.example"],
         "alerts": {"on": ["stuck"], "stuck_after": "1h"}},
        {"jobName": "quick", "alerts": {"on": ["too_short"], "min_duration": "30s"}},
        {"jobName": "enough", "alerts": {"on": ["too_short"], "min_duration": "5s"}},
        {"jobName": "slow", "alerts": {"on": ["too_slow"]}},
        {"jobName": "stop", "alerts": {"on": ["cancelled", "failed"]}},
    )  # fmt: skip
    jobs = {"hang", "quick", "enough", "slow", "stop"}
    early = start - timedelta(hours=1)
    events = [
        *_run("hang", "hung", start, None, "RUNNING"),
        # Ended one minute inside the limit: never stuck, even judged after the limit.
        *_run("hang", "ended", start, start + timedelta(minutes=59), "SUCCEEDED"),
        *simple_run(early, "q1", job="quick"),  # 7 seconds, under 30
        *simple_run(early, "e1", job="enough"),  # 7 seconds, over 5
        # Five usual runs of 7 seconds, then one of 60: more than 3 x the median.
        *[e for i in range(5)
          for e in simple_run(early + timedelta(minutes=i), f"s{i}", job="slow")],
        *_run("slow", "s-slow", early + timedelta(minutes=10),
              early + timedelta(minutes=11), "SUCCEEDED"),
        *_run("stop", "c1", early, early + timedelta(seconds=30), "CANCELLED"),
    ]  # fmt: skip
    try:
        api.ingest(events)
        # 59 minutes into the hung run: not stuck yet; the ended runs are judged.
        _worker(run_worker, start + timedelta(minutes=59), receiver)
        assert sorted(_got(receiver, jobs)) == [
            ("quick", "too_short", None),
            ("slow", "too_slow", None),
            ("stop", "cancelled", None),
        ]
        _worker(run_worker, now, receiver)
        _worker(run_worker, now + timedelta(minutes=1), receiver)  # nothing raised twice
        assert sorted(_got(receiver, jobs)) == [
            ("hang", "stuck", None),
            ("quick", "too_short", None),
            ("slow", "too_slow", None),
            ("stop", "cancelled", None),
        ]
        stuck = _text(receiver, "hang", "stuck")
        assert stuck.startswith("*hang (prod) is stuck*")
        assert "running for 3h00m, limit 1h00m" in stuck
        [hung] = [r.body for r in receiver.received if r.body["condition"] == "stuck"]
        started = format_ts(to_micros(start))
        assert f"run {hung['runId']}: RUNNING, started {started}, ended -" in stuck
        assert "owners: ops@acme.example" in stuck
        assert f"console: http://jobtrail.example/console#/runs/{hung['runId']}" in stuck
        assert hung["owners"] == ["ops@acme.example"]
        assert "took 0m07s, minimum 0m30s" in _text(receiver, "quick", "too_short")
        assert "took 1m00s, usual limit 0m21s" in _text(receiver, "slow", "too_slow")
        cancelled = _text(receiver, "stop", "cancelled")
        assert "stop (prod) was cancelled" in cancelled
        assert ": CANCELLED, started" in cancelled
        listed = {a["condition"]: a for a in api.get("/alerts/v1/alerts").json()}
        assert sorted(listed) == ["cancelled", "stuck", "too_short", "too_slow"]
        assert {d["status"] for a in listed.values() for d in a["deliveries"]} == {"delivered"}
    finally:
        api.close()


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def test_schedule_conditions_fire_once_and_not_inside_the_grace(
    alert_server: Server, alert_engine: Engine, run_worker: RunWorker, receiver: Receiver
) -> None:
    org = make_org(alert_engine)
    api = Api(alert_server, org, "admin")
    tick = _hour(datetime.now(UTC)) - timedelta(hours=5)  # hourly ticks from here on
    hourly = {"schedule": "0 * * * *", "owners": ["data@acme.example"]}
    _define(
        alert_engine, org, tick - timedelta(minutes=1),
        {"jobName": "ontime", **hourly, "alerts": {"on": ["late"], "late_after": "10m"}},
        {"jobName": "nosuccess", **hourly, "alerts": {"on": ["missed"], "late_after": "10m"}},
        {"jobName": "twice", **hourly, "alerts": {"on": ["too_often"], "late_after": "10m"}},
    )  # fmt: skip
    jobs = {"ontime", "nosuccess", "twice"}
    minute = timedelta(minutes=1)
    events = [
        # Started 9 minutes after its tick, inside the 10-minute grace; nothing for the next.
        *simple_run(tick + 9 * minute, "o1", job="ontime"),
        *simple_run(tick + 2 * minute, "n1", job="nosuccess", fail=True),
        *simple_run(tick + minute, "t1", job="twice"),
        *simple_run(tick + 30 * minute, "t2", job="twice"),
    ]
    try:
        api.ingest(events)
        first_deadline = tick + 10 * minute
        _worker(run_worker, first_deadline - minute, receiver)  # tick 0's grace still runs
        assert _got(receiver, jobs) == []
        later = tick + timedelta(hours=1) + 11 * minute
        _worker(run_worker, later, receiver)
        _worker(run_worker, later + minute, receiver)  # the same instances: nothing new
        at = {name: format_ts(to_micros(moment)) for name, moment in
              (("tick", tick), ("next", tick + timedelta(hours=1)))}  # fmt: skip
        assert sorted(_got(receiver, jobs)) == [
            ("nosuccess", "missed", at["tick"]),
            ("ontime", "late", at["next"]),  # not for tick 0: its run started inside the grace
            ("twice", "too_often", at["tick"]),
        ]
        late = _text(receiver, "ontime", "late")
        assert late.startswith("*ontime (prod) did not start on time*")
        assert f"scheduled at: {at['next']}" in late
        assert "owners: data@acme.example" in late
        missed = _text(receiver, "nosuccess", "missed")
        assert f"no successful run for the run scheduled at {at['tick']}" in missed
        assert "2 runs started between" in _text(receiver, "twice", "too_often")
        listed = api.get("/alerts/v1/alerts").json()
        assert sorted((a["jobName"], a["scheduledAt"]) for a in listed) == [
            ("nosuccess", at["tick"]),
            ("ontime", at["next"]),
            ("twice", at["tick"]),
        ]
    finally:
        api.close()


def test_ticks_missed_while_the_worker_was_down_are_judged_once_back(
    alert_server: Server, alert_engine: Engine, run_worker: RunWorker, receiver: Receiver
) -> None:
    org = make_org(alert_engine)
    api = Api(alert_server, org, "admin")
    tick = _hour(datetime.now(UTC)) - timedelta(hours=5)
    _define(
        alert_engine, org, tick - timedelta(minutes=1),
        {"jobName": "nightwatch", "schedule": "0 * * * *",
         "alerts": {"on": ["late", "missed"], "late_after": "10m"}},
    )  # fmt: skip
    ticks = [format_ts(to_micros(tick + timedelta(hours=h))) for h in range(5)]
    try:
        _worker(run_worker, tick + timedelta(minutes=11), receiver)
        assert _got(receiver, {"nightwatch"}) == [("nightwatch", "late", ticks[0])]
        # No worker for four hours; the next one judges every tick it missed, once.
        back = tick + timedelta(hours=4, minutes=11)
        _worker(run_worker, back, receiver)
        _worker(run_worker, back + timedelta(minutes=1), receiver)
        got = _got(receiver, {"nightwatch"})
        assert sorted(s for _job, c, s in got if c == "late") == ticks
        assert sorted(s for _job, c, s in got if c == "missed") == ticks[:4]
        assert len(got) == len(set(got)) == 9
        assert len(api.get("/alerts/v1/alerts").json()) == 9
    finally:
        api.close()
