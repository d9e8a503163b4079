"""`jobtrail demo` as a user starts it: sample data through the API, credentials printed."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

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
        out = _read_until(proc, "Press Ctrl+C", 60)
        org = re.search(r"organization id:\s+(\S+)", out)
        key_id = re.search(r"API key id:\s+(\S+)", out)
        key = re.search(r"API key:\s+(\S+)", out)
        assert org, out
        assert key_id, out
        assert key, out
        assert f"http://127.0.0.1:{port}/api/msc/v1/docs" in out
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
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
