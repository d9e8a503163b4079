"""The jobs catalog API: definitions put by ingest keys, listed by read keys; bad ones refused
whole with every field named; runners and the agent report their specs' definitions."""

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from jobtrail.wire import paths
from tests.runner.conftest import jobtrail
from tests.support import Api, Org, Server, ingest_env


def put(api: Api, *definitions: dict[str, Any]) -> httpx.Response:
    return api.http.put(
        api.at(paths.DEFINITIONS),
        json={"definitions": list(definitions)},
        headers={"Authorization": f"Bearer {api.token}"},
    )


def listed(api: Api) -> dict[tuple[str, str], dict[str, Any]]:
    resp = api.get(api.at(paths.DEFINITIONS))
    assert resp.status_code == 200, resp.text
    return {(d["jobName"], d["environment"]): d for d in resp.json()}


def test_put_then_list(api: Api, reader: Api) -> None:
    hourly = {
        "jobName": "webmodel",
        "environment": "prod",
        "schedule": "0 9 * * *",
        "timezone": "Europe/Paris",
        "owners": ["data@acme.example"],
        "labels": {"team": "data"},
        "alerts": {"on": ["failed", "stuck"], "stuck_after": "2h"},
    }
    resp = put(api, hourly, {"jobName": "adhoc", "environment": "dev"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"stored": 2}
    jobs = listed(reader)
    web = jobs[("webmodel", "prod")]
    assert web["alerts"] == {"on": ["failed", "stuck"], "stuck_after": 7200.0}
    assert web["owners"] == ["data@acme.example"]
    assert web["labels"] == {"team": "data"}
    assert web["scheduled"] is True
    assert web["lastSeen"].endswith("Z")
    assert web["nextExpectedRun"].endswith(("T08:00:00Z", "T07:00:00Z"))  # 09:00 in Paris
    assert len(web["jobId"]) == 16
    assert jobs[("adhoc", "dev")]["nextExpectedRun"] is None
    assert jobs[("adhoc", "dev")]["timezone"] == "UTC"
    # The last report wins; unscheduled jobs have no next run.
    assert put(api, {**hourly, "scheduled": False, "owners": []}).status_code == 200
    web = listed(reader)[("webmodel", "prod")]
    assert web["scheduled"] is False
    assert web["owners"] == []
    assert web["nextExpectedRun"] is None


def test_bad_definitions_are_refused_whole(api: Api, reader: Api) -> None:
    good = {"jobName": "fine", "environment": "prod"}
    cases = [
        ({"schedule": "hourly"}, "definitions[1].schedule"),
        ({"timezone": "Mars/Base"}, "definitions[1].timezone"),
        ({"alerts": {"stuck_after": "x"}}, "definitions[1].alerts.stuck_after"),
        ({"alerts": {"on": ["boom"]}}, "definitions[1].alerts.on"),
        ({"owner": "me"}, "definitions[1].owner"),
        ({"jobName": None}, "definitions[1].jobName"),
    ]
    for bad, named in cases:
        resp = put(api, good, {"jobName": "x", "environment": "p", **bad})
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"] == "invalid_definitions"
        assert named in resp.json()["message"]
    for body in (b"not json", b'{"definitions": 3}', b"[]"):
        resp = api.http.put(
            api.at(paths.DEFINITIONS),
            content=body,
            headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"},
        )
        assert resp.status_code == 400, resp.text
        assert set(resp.json()) >= {"error", "message"}
    assert listed(reader) == {}


def test_roles_and_organizations(api: Api, reader: Api, make_api: Any, outsider: Org) -> None:
    definition = {"jobName": "a", "environment": "b"}
    assert put(reader, definition).status_code == 403
    assert put(make_api(outsider, "ingest"), definition).status_code == 200
    assert listed(reader) == {}
    assert api.http.get(api.at(paths.DEFINITIONS)).status_code == 401


def test_run_reports_its_definition(tmp_path: Path, server: Server, org: Org, reader: Api) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "job: reported\nenvironment: test\nschedule: '*/5 * * * *'\nowners: [a@b.example]\n"
        "alerts: {on: [failed], min_duration: 1m}\nsteps:\n  - {name: s, run: 'true'}\n"
    )
    env = ingest_env(org, JOBTRAIL_SPOOL=str(tmp_path / "spool"))
    done = jobtrail("run", str(spec), "--server", server.url, "--workdir", str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    found = listed(reader)[("reported", "test")]
    assert found["schedule"] == "*/5 * * * *"
    assert found["owners"] == ["a@b.example"]
    assert found["alerts"] == {"on": ["failed"], "min_duration": 60.0}


def test_agent_reports_specs_and_unschedules_removed_ones(
    tmp_path: Path, server: Server, org: Org, reader: Api
) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    spec = "job: {}\nschedule: '0 0 1 1 *'\nsteps:\n  - {{name: s, run: 'true'}}\n"
    (jobs / "keep.yaml").write_text(spec.format("keep"))
    (jobs / "drop.yaml").write_text(spec.format("drop"))
    cmd = [sys.executable, "-m", "jobtrail.cli", "agent", str(jobs), "--server", server.url]
    cmd += ["--spool", str(tmp_path / "spool")]
    with (tmp_path / "agent.log").open("w") as log:
        proc = subprocess.Popen(cmd, env=ingest_env(org), stdout=log, stderr=subprocess.STDOUT)
    try:
        assert _until(lambda: len(listed(reader)) == 2)
        assert all(d["scheduled"] for d in listed(reader).values())
        (jobs / "drop.yaml").unlink()
        assert _until(lambda: not listed(reader)[("drop", "default")]["scheduled"])
        assert listed(reader)[("keep", "default")]["scheduled"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _until(check: Any, timeout: float = 20) -> bool:
    """Polls a real agent process (its scans are its own); returns as soon as `check` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return bool(check())
