"""One run, its steps, one step, and the full-log endpoint."""

import pytest

from jobtrail.wire import paths
from tests.support import Api, ago, event, simple_run


def _run_id(api: Api) -> str:
    (run,) = api.runs("PT-12H", "PT0S").json()
    return str(run["runId"])


def test_run_with_steps_and_dependencies(api: Api) -> None:
    api.ingest(simple_run(ago(hours=1), "r", fail=True))
    run_id = _run_id(api)
    run = api.get(api.at(paths.RUN, runId=run_id)).json()
    assert run["state"] == "FAILED"
    assert [(s["name"], s["state"], s["dependencies"]) for s in run["steps"]] == [
        ("git-clone-cache", "SUCCEEDED", []),
        ("run-dbt", "FAILED", ["git-clone-cache"]),
    ]
    steps = api.get(api.at(paths.STEPS, runId=run_id)).json()
    assert steps == run["steps"]
    dbt = steps[1]
    assert dbt["exitCode"] == 2
    assert dbt["attempt"] == 1
    assert dbt["duration"] == "PT3S"


def test_step_detail_has_logs_message_and_history(api: Api) -> None:
    api.ingest(simple_run(ago(hours=1), "r", fail=True))
    run_id = _run_id(api)
    detail = api.get(api.at(paths.STEP, runId=run_id, stepName="run-dbt")).json()
    assert detail["stdout"] == "1 of 2 OK\n"
    assert detail["stderr"] == "Database Error\n"
    assert detail["message"] == "Database Error in model x"
    assert detail["stdoutTruncated"] is False
    assert detail["stdoutBytes"] == len("1 of 2 OK\n")
    assert [h["state"] for h in detail["stateHistory"]] == ["RUNNING", "FAILED"]
    assert detail["stateHistory"][1]["exitCode"] == 2


def test_step_detail_keeps_the_most_recent_mebibyte(api: Api) -> None:
    t = ago(minutes=10)
    step = {"name": "noisy"}
    line = "é" * 100 + "\n"  # multi-byte characters: the cut must not break one
    chunk = line * 5000  # ~1 MB per chunk
    events = [event("step", t, "big", step=step, state="RUNNING")]
    events += [
        event("log", t, "big", step=step, stream="stdout", data=f"#{i}\n" + chunk, seq=i)
        for i in range(3)
    ]
    for ev in events:
        api.ingest([ev])
    run_id = _run_id(api)
    detail = api.get(api.at(paths.STEP, runId=run_id, stepName="noisy")).json()
    total = sum(len(e["data"].encode()) for e in events[1:])
    assert detail["stdoutBytes"] == total
    assert detail["stdoutTruncated"] is True
    assert len(detail["stdout"].encode()) <= 1024 * 1024
    assert len(detail["stdout"].encode()) > 1024 * 1024 - 4
    assert detail["stdout"].endswith(chunk[-500:])
    assert "\ufffd" not in detail["stdout"]


def test_full_log_offset_limit_and_tail(api: Api) -> None:
    t = ago(minutes=10)
    step = {"name": "s"}
    lines = [f"line {i}\n" for i in range(100)]
    events = [event("step", t, "l", step=step, state="RUNNING")] + [
        event("log", t, "l", step=step, stream="stdout", data="".join(lines[i : i + 7]), seq=i)
        for i in range(0, 100, 7)
    ]
    api.ingest(events)
    run_id = _run_id(api)
    path = api.at(paths.LOGS, runId=run_id, stepName="s", stream="stdout")
    full = "".join(lines)
    whole = api.get(path)
    assert whole.status_code == 200
    assert whole.headers["content-type"].startswith("text/plain")
    assert whole.text == full
    assert whole.headers["x-jobtrail-log-bytes"] == str(len(full))
    assert api.get(path, params={"offset": 10, "limit": 50}).text == full[10:60]
    assert api.get(path, params={"offset": 5}).text == full[5:]
    assert api.get(path, params={"offset": 10_000}).text == ""
    assert api.get(path, params={"tail": 3}).text == "".join(lines[-3:])
    assert api.get(path, params={"tail": 0}).text == ""
    assert api.get(path, params={"tail": 1000}).text == full
    assert api.get(api.at(paths.LOGS, runId=run_id, stepName="s", stream="stderr")).text == ""
    assert api.get(path, params={"tail": 3, "offset": 1}).status_code == 400
    assert api.get(path, params={"offset": -1}).status_code == 400
    assert (
        api.get(api.at(paths.LOGS, runId=run_id, stepName="s", stream="stdlog")).status_code == 400
    )


@pytest.mark.parametrize("name", ["dbt model: orders (v2)", "ümlaut ✓", "a?b#c%d", "x" * 200, "  "])
def test_odd_step_names_round_trip_url_encoded(api: Api, name: str) -> None:
    ev = event("step", ago(minutes=1), "odd", step={"name": name}, state="RUNNING")
    resp = api.post(api.at(paths.EVENTS), json={"events": [ev]})
    if name.strip() != name:
        assert resp.status_code == 400
        return
    assert resp.status_code == 200, resp.text
    run_id = _run_id(api)
    detail = api.get(api.at(paths.STEP, runId=run_id, stepName=name))
    assert detail.status_code == 200
    assert detail.json()["name"] == name


def test_unknown_ids_are_404(api: Api) -> None:
    api.ingest(simple_run(ago(hours=1), "r"))
    run_id = _run_id(api)
    for path in [
        api.at(paths.RUN, runId="0000000000000000"),
        api.at(paths.STEPS, runId="0000000000000000"),
        api.at(paths.STEP, runId="0000000000000000", stepName="run-dbt"),
        api.at(paths.STEP, runId=run_id, stepName="nope"),
        api.at(paths.LOGS, runId=run_id, stepName="nope", stream="stdout"),
        api.at(paths.STEP, runId=run_id, stepName="a/b"),
        api.at(paths.STEP, runId=run_id, stepName="z" * 5000),
        "/jobs/v1/nothing-here",  # no such route
    ]:
        resp = api.get(path)
        assert resp.status_code in (404, 400), (path, resp.status_code)
        assert set(resp.json()) >= {"error", "message"}


def test_materialisation_rule_on_equal_timestamps(api: Api) -> None:
    t = ago(minutes=5)
    step = {"name": "s"}
    api.ingest(
        [
            event("run", t, "tie", state="SUCCEEDED", eventId="a"),
            event("run", t, "tie", state="RUNNING", eventId="z"),
            event("run", t, "tie", state="CANCELLED", eventId="b"),
            event("step", t, "tie", step=step, state="SUCCEEDED", eventId="c"),
            event("step", t, "tie", step=step, state="FAILED", eventId="d"),
        ]
    )
    (run,) = api.runs("PT-1H", "PT0S").json()
    assert run["state"] == "CANCELLED"
    detail = api.get(api.at(paths.STEP, runId=run["runId"], stepName="s")).json()
    assert detail["state"] == "FAILED"


def test_dependencies_kept_when_left_out(api: Api) -> None:
    t = ago(minutes=5)
    api.ingest(
        [
            event("step", t, "deps", step={"name": "b", "dependencies": ["a"]}, state="RUNNING"),
            event("step", ago(minutes=4), "deps", step={"name": "b"}, state="SUCCEEDED"),
        ]
    )
    (run,) = api.runs("PT-1H", "PT0S").json()
    (step,) = api.get(api.at(paths.STEPS, runId=run["runId"])).json()
    assert step["dependencies"] == ["a"]
    assert step["state"] == "SUCCEEDED"


def test_run_id_is_stable_and_job_id_from_reporter(api: Api) -> None:
    ev = event("run", ago(minutes=2), "k1", state="RUNNING")
    ev["job"]["id"] = "job-42"
    api.ingest([ev])
    api.ingest([{**ev, "eventId": "another", "state": "SUCCEEDED", "timestamp": ev["timestamp"]}])
    (run,) = api.runs("PT-1H", "PT0S").json()
    assert run["jobId"] == "job-42"
    assert run["state"] == "SUCCEEDED"
    assert len(run["runId"]) == 16
    assert run["runId"].isalnum()


def test_a_run_carries_an_etag_that_answers_304_until_it_changes(api: Api) -> None:
    events = simple_run(ago(hours=1), "etag")
    api.ingest(events[:2])
    run_id = api.runs().json()[0]["runId"]
    first = api.get(api.at(paths.RUN, runId=run_id))
    etag = first.headers["etag"]
    same = api.get(api.at(paths.RUN, runId=run_id), headers={"If-None-Match": etag})
    assert same.status_code == 304
    assert same.content == b""
    api.ingest(events[2:])
    changed = api.get(api.at(paths.RUN, runId=run_id), headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["state"] == "SUCCEEDED"
    assert changed.headers["etag"] != etag
