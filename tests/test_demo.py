"""`jobtrail demo` as a user starts it: sample data through the API, credentials printed."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from jobtrail.runner.dbt import dbt_executable
from tests.support import BASE, free_port


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen += line
    return seen


def _agent_runs(prefix: str, auth: dict[str, str]) -> dict[str, dict[str, Any]]:
    runs = httpx.get(f"{prefix}/jobs/v1/runs?from=PT-1H&to=PT0S", headers=auth).json()
    return {r["jobName"]: r for r in runs if r["environment"] == "demo"}


def _check_agent_jobs(prefix: str, auth: dict[str, str]) -> None:
    """The agent runs real jobs at once: a succeeding DAG, a failing one, a long one, dbt."""
    wanted = {"nightly-export", "flaky-sync", "backfill"}
    if Path(dbt_executable()).exists():
        wanted.add("web-model")
    deadline = time.monotonic() + 90
    runs = _agent_runs(prefix, auth)
    while time.monotonic() < deadline and not (
        wanted <= set(runs) and runs["flaky-sync"]["state"] == "FAILED"
    ):
        time.sleep(1)
        runs = _agent_runs(prefix, auth)
    assert wanted <= set(runs), runs.keys()
    assert runs["backfill"]["state"] == "RUNNING"
    flaky = runs["flaky-sync"]
    assert flaky["state"] == "FAILED"
    detail = httpx.get(f"{prefix}/jobs/v1/runs/{flaky['runId']}/steps/fetch-api", headers=auth)
    assert "503" in detail.json()["stderr"]
    if "web-model" in wanted:  # dbt's nodes appear as steps once dbt has listed them
        path = f"{prefix}/jobs/v1/runs/{runs['web-model']['runId']}/steps"
        names: set[str] = set()
        while time.monotonic() < deadline and "model.web.sessions" not in names:
            names = {s["name"] for s in httpx.get(path, headers=auth).json()}
            time.sleep(0.5)
        assert "model.web.sessions" in names


def test_demo_serves_realistic_sample_runs(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobtrail.cli",
            "demo",
            "--db",
            f"sqlite:///{tmp_path}/demo.db",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        out = _read_until(proc, "Press Ctrl+C", 90)
        org = re.search(r"organization id:\s+(\S+)", out)
        key_id = re.search(r"API key id:\s+(\S+)", out)
        key = re.search(r"API key:\s+(\S+)", out)
        assert org, out
        assert key_id, out
        assert key, out
        assert f"http://127.0.0.1:{port}/api/msc/v1/docs" in out
        assert f"http://127.0.0.1:{port}/console" in out
        ingest_key = re.search(r"ingest key:\s+(\S+)", out)
        assert ingest_key, out
        ready = f"JOBTRAIL_API_KEY={ingest_key[1]} jobtrail run JOB.yaml --server http://127.0.0.1:{port}"
        assert ready in out
        assert "agent.log" in out
        prefix = f"http://127.0.0.1:{port}{BASE}/organizations/{org[1]}"
        token = httpx.get(
            f"{prefix}/credentials/v3/token",
            headers={"X-API-Key-ID": key_id[1], "X-API-Key": key[1]},
        ).json()["accessToken"]
        auth = {"Authorization": f"Bearer {token}"}
        runs = httpx.get(f"{prefix}/jobs/v1/runs?from=PT-96H&to=PT0S", headers=auth).json()
        assert {r["state"] for r in runs} >= {"SUCCEEDED", "FAILED", "RUNNING"}
        assert len({(r["jobName"], r["environment"]) for r in runs}) >= 3
        failed = next(r for r in runs if r["state"] == "FAILED")
        steps = httpx.get(f"{prefix}/jobs/v1/runs/{failed['runId']}/steps", headers=auth).json()
        assert any(s["dependencies"] for s in steps)
        bad = next(s for s in steps if s["state"] == "FAILED")
        detail = httpx.get(
            f"{prefix}/jobs/v1/runs/{failed['runId']}/steps/{bad['name']}", headers=auth
        ).json()
        assert "Error" in detail["stderr"]
        assert detail["stdout"].count("\n") > 2
        _check_agent_jobs(prefix, auth)
        _check_demo_alerts(prefix, auth)
    finally:
        proc.terminate()
        proc.wait(60)
        if proc.stdout:
            proc.stdout.close()
    folder = re.search(r"(/\S*jobtrail-demo-\w+)", out)
    assert folder, out
    left = subprocess.run(["pgrep", "-f", folder[1]], capture_output=True, text=True)
    assert left.stdout == "", "the demo's job runs must end with it"


def _check_demo_alerts(prefix: str, auth: dict[str, str]) -> None:
    """The demo's own webhook receiver gets (and verifies) the alerts of its failing job and
    its long job within a minute."""
    wanted = {("flaky-sync", "failed"), ("backfill", "stuck")}
    deadline = time.monotonic() + 60
    delivered: set[tuple[str, str]] = set()
    while time.monotonic() < deadline and not wanted <= delivered:
        time.sleep(1)
        listed = httpx.get(f"{prefix}/alerts/v1/alerts?state=all", headers=auth).json()
        delivered = {
            (a["jobName"], a["condition"])
            for a in listed
            if a["environment"] == "demo"
            and any(d["status"] == "delivered" for d in a["deliveries"])
        }
    assert wanted <= delivered, delivered


def test_demo_on_a_taken_port_says_how_to_choose_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "jobtrail.cli", "demo", "--db", f"sqlite:///{tmp_path}/d.db",
             "--port", str(port)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert proc.returncode == 2
    assert f"port {port}" in proc.stderr
    assert "make demo PORT=8080" in proc.stderr
