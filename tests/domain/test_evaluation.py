"""Alert evaluation as a pure function: each condition fires for its instance, with a stable
idempotency key, and not when it should not (a run ending just before the stuck limit, a run
starting inside the late grace)."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from jobtrail.domain.alert_settings import CONDITIONS, parse_alert_settings
from jobtrail.domain.evaluation import BACKFILL_TICKS, Condition, JobSnapshot, RunFacts, evaluate
from jobtrail.domain.timefmt import to_micros

NOW = to_micros(datetime(2026, 11, 29, 10, 0, tzinfo=UTC))
MIN = 60_000_000
ALL = {"on": list(CONDITIONS)}


def job(runs: list[RunFacts], schedule: str | None = None, **settings: object) -> JobSnapshot:
    return JobSnapshot(
        org_id="org",
        job_name="webmodel",
        environment="prod",
        settings=parse_alert_settings({**ALL, **settings}),
        runs=runs,
        schedule=schedule,
        history=[10 * MIN] * 5,
    )


def found(snapshot: JobSnapshot, now: int = NOW) -> list[tuple[str, str | None]]:
    return sorted((c.condition, c.run_id) for c in evaluate(now, [snapshot]))


def test_failed_and_cancelled_runs() -> None:
    runs = [
        RunFacts("r1", "FAILED", NOW - 9 * MIN, NOW - 8 * MIN, "run-dbt"),
        RunFacts("r2", "CANCELLED", NOW - 7 * MIN, NOW - 6 * MIN),
        RunFacts("r3", "SUCCEEDED", NOW - 20 * MIN, NOW - 10 * MIN),
    ]
    conditions = evaluate(NOW, [job(runs)])
    assert sorted((c.condition, c.run_id) for c in conditions) == [
        ("cancelled", "r2"),
        ("failed", "r1"),
    ]
    assert next(c for c in conditions if c.run_id == "r1").detail == "step run-dbt failed"


def test_stuck_only_past_the_limit() -> None:
    running = RunFacts("r", "RUNNING", NOW - 121 * MIN, None)
    assert found(job([running], stuck_after="2h", on=["stuck"])) == [("stuck", "r")]
    ended_just_before = RunFacts("r", "SUCCEEDED", NOW - 130 * MIN, NOW - 11 * MIN)
    assert found(job([ended_just_before], stuck_after="2h", on=["stuck"])) == []
    young = RunFacts("r", "RUNNING", NOW - 119 * MIN, None)
    assert found(job([young], stuck_after="2h", on=["stuck"])) == []


def test_stuck_auto_uses_recent_successful_durations() -> None:
    running = RunFacts("r", "RUNNING", NOW - 31 * MIN, None)
    assert found(job([running], stuck_after="auto")) == [("stuck", "r")]  # 3 x p95 of 10 min
    assert found(job([RunFacts("r", "RUNNING", NOW - 29 * MIN, None)], stuck_after="auto")) == []
    no_history = JobSnapshot(**{**job([running], stuck_after="auto").__dict__, "history": []})
    assert found(no_history) == []


def test_too_short_and_too_slow() -> None:
    quick = RunFacts("q", "SUCCEEDED", NOW - MIN, NOW - MIN + 5_000_000)
    slow = RunFacts("s", "SUCCEEDED", NOW - 40 * MIN, NOW - 5 * MIN)
    usual = RunFacts("u", "SUCCEEDED", NOW - 20 * MIN, NOW - 9 * MIN)
    assert found(job([quick, slow, usual], min_duration="30s")) == [
        ("too_short", "q"),
        ("too_slow", "s"),
    ]


def test_late_unless_started_within_the_grace() -> None:
    hourly = "0 * * * *"
    now = NOW + 11 * MIN  # tick at 10:00, grace 10 min
    late = evaluate(now, [job([], hourly, late_after="10m", on=["late"])])
    assert [(c.condition, c.scheduled_at) for c in late] == [("late", NOW)]
    inside = RunFacts("r", "RUNNING", NOW + 9 * MIN, None)
    assert found(job([inside], hourly, late_after="10m", on=["late"]), now) == []
    assert found(job([], hourly, late_after="10m", on=["late"]), NOW + 9 * MIN) == [
        ("late", None)  # still within 09:00's period: 09:00 had no run either
    ]


def test_missed_and_too_often() -> None:
    hourly = "0 * * * *"
    # Period 09:00-10:00: two runs started, none succeeded.
    runs = [
        RunFacts("a", "FAILED", NOW - 55 * MIN, NOW - 50 * MIN),
        RunFacts("b", "FAILED", NOW - 30 * MIN, NOW - 25 * MIN),
    ]
    conditions = evaluate(NOW + MIN, [job(runs, hourly, on=["missed", "too_often"])])
    assert sorted((c.condition, c.scheduled_at) for c in conditions) == [
        ("missed", NOW - 60 * MIN),
        ("too_often", NOW - 60 * MIN),
    ]
    fine = [RunFacts("a", "SUCCEEDED", NOW - 59 * MIN, NOW - 50 * MIN)]
    assert found(job(fine, hourly, on=["missed", "too_often"]), NOW + MIN) == []


def test_recovered_after_an_open_alert() -> None:
    ok = RunFacts("ok", "SUCCEEDED", NOW - 5 * MIN, NOW - 4 * MIN)
    snapshot = job([ok])
    assert found(snapshot) == []
    opened = JobSnapshot(**{**snapshot.__dict__, "open_since": NOW - 10 * MIN})
    assert found(opened) == [("recovered", "ok")]
    later = JobSnapshot(**{**snapshot.__dict__, "open_since": NOW - MIN})
    assert found(later) == []


def test_on_filters_and_timezone() -> None:
    failed = RunFacts("r1", "FAILED", NOW - 9 * MIN, NOW - 8 * MIN)
    assert found(job([failed], on=["stuck"])) == []
    # 09:00 in Paris is 08:00 UTC in winter: at 08:11 UTC the run is late.
    paris = JobSnapshot(
        **{
            **job([], "0 9 * * *", late_after="10m", on=["late"]).__dict__,
            "timezone": "Europe/Paris",
        }
    )
    at = to_micros(datetime(2026, 11, 29, 8, 11, tzinfo=UTC))
    assert [c.scheduled_at for c in evaluate(at, [paris])] == [at - 11 * MIN]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["FAILED", "CANCELLED", "SUCCEEDED", "RUNNING"]), st.integers(1, 300)
        ),
        max_size=12,
    ),
    st.integers(0, 600),
)
def test_keys_are_stable_and_unique(runs: list[tuple[str, int]], later: int) -> None:
    """The same instance has the same key whenever it is evaluated; different ones differ."""
    facts = [
        RunFacts(f"r{i}", state, NOW - age * MIN, None if state == "RUNNING" else NOW - MIN)
        for i, (state, age) in enumerate(runs)
    ]
    snapshot = job(facts, "*/15 * * * *", stuck_after="1h", late_after="5m")
    first: list[Condition] = evaluate(NOW, [snapshot])
    again = evaluate(NOW + later * MIN, [snapshot])
    keys = {c.key: (c.condition, c.run_id, c.scheduled_at) for c in first}
    assert len(keys) == len(first)
    for c in again:
        if c.key in keys:
            assert keys[c.key] == (c.condition, c.run_id, c.scheduled_at)


def test_ticks_missed_while_no_worker_ran_are_judged_once_back() -> None:
    """The worker was down from 07:05 to 10:11: each hourly tick whose deadline (10 minutes of
    grace) it missed is judged, 07:00 to 10:00, not only the latest; 06:00 was judged before."""
    hourly = "0 * * * *"
    snapshot = JobSnapshot(
        **{**job([], hourly, late_after="10m", on=["late", "missed"]).__dict__,
           "first_seen": NOW - 5 * 60 * MIN},
    )  # fmt: skip
    back = NOW + 11 * MIN
    conditions = evaluate(back, [snapshot], since=NOW - 3 * 60 * MIN + 5 * MIN)
    late = sorted(c.scheduled_at for c in conditions if c.condition == "late")
    missed = sorted(c.scheduled_at for c in conditions if c.condition == "missed")
    hours = [NOW - h * 60 * MIN for h in (3, 2, 1, 0)]  # 07:00 to 10:00
    assert late == hours
    assert missed == [h - 60 * MIN for h in hours]
    # A round right after judges only what it judged already (the store drops repeats by key).
    again = evaluate(back + MIN, [snapshot], since=back)
    assert {c.key for c in again} <= {c.key for c in conditions}
    # Not before the job was first reported, and never more than BACKFILL_TICKS per job.
    young = JobSnapshot(**{**snapshot.__dict__, "first_seen": NOW - 90 * MIN})
    assert sorted(
        c.scheduled_at for c in evaluate(back, [young], since=0) if c.condition == "late"
    ) == [NOW - 60 * MIN, NOW]
    minutely = JobSnapshot(**{**snapshot.__dict__, "schedule": "* * * * *", "first_seen": 0})
    many = [
        c for c in evaluate(back, [minutely], since=NOW - 10 * 60 * MIN) if c.condition == "late"
    ]
    assert len(many) == BACKFILL_TICKS


def test_a_late_start_inside_the_grace_is_not_backfilled_as_late() -> None:
    hourly = "0 * * * *"
    on_time = [
        RunFacts(f"r{h}", "SUCCEEDED", NOW - h * 60 * MIN + 9 * MIN, NOW - h * 60 * MIN + 20 * MIN)
        for h in (0, 1, 2, 3, 4)
    ]
    snapshot = JobSnapshot(
        **{**job(on_time, hourly, late_after="10m", on=["late", "missed"]).__dict__,
           "first_seen": NOW - 5 * 60 * MIN},
    )  # fmt: skip
    assert evaluate(NOW + 30 * MIN, [snapshot], since=NOW - 3 * 60 * MIN) == []
