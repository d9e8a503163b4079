"""Insights figures, checked against the same figures computed here from the stored events."""

import math
import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Engine, select

from jobtrail.domain.timefmt import format_duration, format_ts
from jobtrail.store.schema import events, runs
from jobtrail.wire.shapes import JobHealth, JobInsight
from tests.support import Api, Org, ago, event


def _run(start: datetime, key: str, job: str, env: str, secs: int, state: str) -> list[Any]:
    """A run of two steps, `extract` then `load`; `load` fails when the run does."""
    kw: dict[str, Any] = {"job": job, "env": env}
    mid = start + timedelta(seconds=secs // 3)
    end = start + timedelta(seconds=secs)
    extract = {"name": "extract", "dependencies": []}
    load = {"name": "load", "dependencies": ["extract"]}
    out = [event("run", start, key, state="RUNNING", **kw)]
    out.append(event("step", start, key, step=extract, state="RUNNING", attempt=1, **kw))
    out.append(event("step", mid, key, step=extract, state="SUCCEEDED", **kw))
    out.append(event("step", mid, key, step=load, state="RUNNING", attempt=1, **kw))
    if state == "RUNNING":
        return out
    step_state = "FAILED" if state == "FAILED" else "SUCCEEDED"
    out.append(event("step", end, key, step=load, state=step_state, **kw))
    out.append(event("run", end, key, state=state, **kw))
    return out


def _percentile(values: list[int], p: float) -> float:
    ordered = sorted(values)
    pos = p * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _dur(values: list[int], p: float) -> str | None:
    return format_duration(round(_percentile(values, p))) if values else None


def _seed(api: Api) -> None:
    rng = random.Random(11)
    batch: list[Any] = []
    for job, env, count in (("orders", "prod", 23), ("orders", "qa", 5), ("webmodel", "prod", 40)):
        for i in range(count):
            state = rng.choice(["SUCCEEDED"] * 4 + ["FAILED", "CANCELLED"])
            state = "RUNNING" if i == 0 else state  # the newest still runs
            start = ago(hours=2 + i * 3, minutes=rng.randint(0, 59))
            batch += _run(start, f"{job}-{env}-{i}", job, env, rng.randint(1, 900), state)
    batch += _run(ago(days=6, hours=23), "old", "orders", "prod", 5, "SUCCEEDED")
    api.ingest(batch)


def _expected(engine: Engine, org: Org, since: int) -> dict[str, dict[str, Any]]:
    """Per job id, from the events table: start is the first RUNNING, end the final event."""
    with engine.connect() as conn:
        job_of = dict(
            conn.execute(select(runs.c.run_id, runs.c.job_id).where(runs.c.org_id == org.id)).all()
        )
        rows = conn.execute(
            select(events.c.run_id, events.c.step_name, events.c.ts, events.c.state).where(
                events.c.org_id == org.id
            )
        ).all()
    times: dict[tuple[str, str | None], dict[str, int]] = defaultdict(dict)
    for run_id, step, ts, state in rows:
        times[(run_id, step)][state] = ts
    jobs: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(list))
    for (run_id, step), by_state in times.items():
        start = by_state["RUNNING"]
        if step is not None or start < since:
            continue
        final = [s for s in ("SUCCEEDED", "FAILED", "CANCELLED") if s in by_state]
        job = jobs[job_of[run_id]]
        job["states"].append(final[0] if final else "RUNNING")
        job["starts"].append(start)
        if final:
            job["durations"].append(by_state[final[0]] - start)
            if final[0] == "SUCCEEDED":
                job["successes"].append(by_state["SUCCEEDED"])
        for name in ("extract", "load"):
            step_times = times[(run_id, name)]
            ends = [s for s in ("SUCCEEDED", "FAILED") if s in step_times]
            job[f"{name}-runs"].append(1)
            job[f"{name}-failed"].append(1 if "FAILED" in step_times else 0)
            if ends:
                job[name].append(step_times[ends[0]] - step_times["RUNNING"])
    return jobs


def test_job_health_matches_the_stored_events(
    api: Api, reader: Api, org: Org, engine: Engine
) -> None:
    _seed(api)
    resp = reader.get("/insights/v1/jobs", params={"from": "P-6D", "to": "PT0S", "recent": 5})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    TypeAdapter(list[JobHealth]).validate_python(body)  # the shape the OpenAPI documents
    expected = _expected(engine, org, int((ago(days=6)).timestamp() * 1_000_000))
    assert {j["jobId"] for j in body} == set(expected)
    assert [(j["jobName"], j["environment"]) for j in body] == [
        ("orders", "prod"),
        ("orders", "qa"),
        ("webmodel", "prod"),
    ]
    for job in body:
        want = expected[job["jobId"]]
        states = want["states"]
        final = [s for s in states if s != "RUNNING"]
        assert job["runs"] == len(states)
        for state in ("SUCCEEDED", "FAILED", "CANCELLED", "RUNNING"):
            assert job[state.lower()] == states.count(state)
        assert job["successRate"] == round(states.count("SUCCEEDED") / len(final), 4)
        assert job["durationP50"] == _dur(want["durations"], 0.5)
        assert job["durationP95"] == _dur(want["durations"], 0.95)
        assert job["durationMax"] == format_duration(max(want["durations"]))
        assert job["lastRunStart"] == format_ts(max(want["starts"]))
        successes = want["successes"]
        assert job["lastSuccess"] == (format_ts(max(successes)) if successes else None)
        assert len(job["recentRuns"]) == 5
        newest = sorted(want["starts"], reverse=True)[:5]
        assert [r["startTime"] for r in job["recentRuns"]] == [format_ts(s) for s in newest]
        assert job["recentRuns"][0]["state"] == "RUNNING"
        assert job["recentRuns"][0]["duration"] is None


def test_one_job_has_days_steps_and_last_runs(
    api: Api, reader: Api, org: Org, engine: Engine
) -> None:
    _seed(api)
    listing = reader.get("/insights/v1/jobs").json()  # default window: the retention
    orders = next(j for j in listing if (j["jobName"], j["environment"]) == ("orders", "prod"))
    assert orders["runs"] == 24  # the 6 days 23 hours old run is in
    resp = reader.get(f"/insights/v1/jobs/{orders['jobId']}", params={"limit": 10})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    TypeAdapter(JobInsight).validate_python(body)
    want = _expected(engine, org, 0)[orders["jobId"]]
    assert {k: v for k, v in body.items() if k in orders} == orders
    assert sum(d["runs"] for d in body["days"]) == 24
    assert [d["date"] for d in body["days"]] == sorted({d["date"] for d in body["days"]})
    by_day: dict[str, list[int]] = defaultdict(list)
    for start, state in zip(want["starts"], want["states"], strict=True):
        by_day[format_ts(start)[:10]].append(1 if state == "FAILED" else 0)
    assert {d["date"]: d["failed"] for d in body["days"]} == {k: sum(v) for k, v in by_day.items()}
    steps = {s["name"]: s for s in body["slowestSteps"]}
    for name in ("extract", "load"):
        assert steps[name]["runs"] == len(want[f"{name}-runs"])
        assert steps[name]["failed"] == sum(want[f"{name}-failed"])
        assert steps[name]["durationP50"] == _dur(want[name], 0.5)
        assert steps[name]["durationP95"] == _dur(want[name], 0.95)
        assert steps[name]["durationMax"] == format_duration(max(want[name]))
    assert [s["name"] for s in body["failingSteps"]] == (
        ["load"] if sum(want["load-failed"]) else []
    )
    assert len(body["lastRuns"]) == 10
    assert body["lastRuns"][0]["startTime"] == format_ts(max(want["starts"]))


def test_insights_refuse_bad_windows_and_unknown_jobs(reader: Api, api: Api) -> None:
    too_old = reader.get("/insights/v1/jobs", params={"from": "P-30D", "to": "PT0S"})
    assert too_old.status_code == 400
    assert too_old.json()["error"] == "invalid_window"
    assert "retention" in too_old.json()["message"]
    backwards = reader.get("/insights/v1/jobs", params={"from": "PT0S", "to": "PT-1H"})
    assert backwards.status_code == 400
    assert reader.get("/insights/v1/jobs/nope").status_code == 404
    assert reader.get("/insights/v1/jobs", params={"recent": 1000}).status_code == 400
    assert reader.get("/insights/v1/jobs").json() == []


def test_insights_need_a_token_of_the_organization(api: Api, outsider: Org, make_api: Any) -> None:
    other = make_api(outsider, "read")
    assert other.http.get(api.prefix + "/insights/v1/jobs").status_code == 401
    resp = other.http.get(
        api.prefix + "/insights/v1/jobs", headers={"Authorization": f"Bearer {other.token}"}
    )
    assert resp.status_code == 403
