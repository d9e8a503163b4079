"""`jobtrail agent`: schedules fire, a job never overlaps itself, a broken spec does not stop
the others, new specs are picked up, and SIGTERM cancels running jobs cleanly."""

import itertools
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobtrail.runner.agent import Agent
from jobtrail.wire import paths
from tests.runner.conftest import jobtrail, run_offline
from tests.runner.gateway import HANG, Gateway
from tests.support import Api, Org, Server, ingest_env

EVERY_SECOND = '"* * * * * */1"'  # croniter's optional sixth field: seconds


@pytest.fixture
def agent(tmp_path: Path, server: Server, org: Org) -> Iterator[Any]:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    log = (tmp_path / "agent.log").open("w+")
    env = ingest_env(org)
    cmd = [sys.executable, "-m", "jobtrail.cli", "agent", str(jobs), "--server", server.url]
    cmd += ["--spool", str(tmp_path / "spool")]
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        started.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
        return started[-1]

    yield jobs, start, log
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log.close()


def _runs(api: Api, job: str) -> list[dict[str, Any]]:
    return [r for r in api.runs("PT-1H", "PT0S").json() if r["jobName"] == job]


def _wait_for(check: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    return check()


def test_schedules_fire_without_overlap_and_survive_a_broken_spec(agent: Any, reader: Api) -> None:
    jobs, start, log = agent
    (jobs / "quick.yaml").write_text(
        f"job: quick\nschedule: {EVERY_SECOND}\nsteps:\n  - {{name: s, run: 'echo hi'}}\n"
    )
    (jobs / "slow.yaml").write_text(
        f"job: slow\nschedule: {EVERY_SECOND}\nsteps:\n  - {{name: s, run: 'sleep 2'}}\n"
    )
    (jobs / "broken.yaml").write_text("job: broken\nschedule: nope\nsteps: []\n")
    proc = start()
    assert _wait_for(lambda: len(_runs(reader, "quick")) >= 3)
    (jobs / "late.yaml").write_text(
        f"job: late\nschedule: {EVERY_SECOND}\nsteps:\n  - {{name: s, run: 'true'}}\n"
    )
    assert _wait_for(lambda: _runs(reader, "late"))
    assert _wait_for(lambda: len([r for r in _runs(reader, "slow") if r["endTime"]]) >= 2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    slow = sorted(_runs(reader, "slow"), key=lambda r: r["startTime"])
    for before, after in itertools.pairwise(slow):
        assert before["endTime"] is not None
        assert before["endTime"] <= after["startTime"]  # never two runs of one job at once
    log.seek(0)
    text = log.read()
    assert "still running, this tick is skipped" in text
    assert "broken.yaml" in text
    assert "schedule" in text


def test_sigterm_cancels_the_running_job(agent: Any, reader: Api) -> None:
    jobs, start, _log = agent
    (jobs / "long.yaml").write_text(
        f"job: long\nschedule: {EVERY_SECOND}\nsteps:\n  - {{name: s, run: 'sleep 300'}}\n"
    )
    proc = start()
    assert _wait_for(lambda: [r for r in _runs(reader, "long") if r["state"] == "RUNNING"])
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    (run,) = _runs(reader, "long")
    assert run["state"] == "CANCELLED"


def test_delivers_the_spools_that_ended_runs_left(
    agent: Any, tmp_path: Path, org: Org, reader: Api
) -> None:
    """A run that ended during an outage left its events in the spool; the agent delivers them
    once the server answers, without anyone calling `jobtrail flush`."""
    _jobs, start, _log = agent
    run_id = run_offline(tmp_path, ingest_env(org, JOBTRAIL_SPOOL=str(tmp_path / "spool")), "k")
    assert reader.get(reader.at(paths.RUN, runId=run_id)).status_code == 404
    proc = start()
    assert _wait_for(lambda: reader.get(reader.at(paths.RUN, runId=run_id)).status_code == 200)
    assert reader.get(reader.at(paths.RUN, runId=run_id)).json()["state"] == "SUCCEEDED"
    assert _wait_for(lambda: not list((tmp_path / "spool").iterdir()))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0


def test_changed_and_removed_specs_take_effect(agent: Any, reader: Api) -> None:
    jobs, start, log = agent
    (jobs / "later.yaml").write_text(
        "job: later\nschedule: '0 0 1 1 *'\nsteps:\n  - {name: s, run: 'true'}\n"
    )
    (jobs / "long.yaml").write_text(
        f"job: long\nschedule: {EVERY_SECOND}\nsteps:\n  - {{name: s, run: 'sleep 300'}}\n"
    )
    proc = start()
    assert _wait_for(lambda: [r for r in _runs(reader, "long") if r["state"] == "RUNNING"])
    (jobs / "long.yaml").unlink()  # removed: its running job is cancelled, nothing new starts
    assert _wait_for(lambda: [r for r in _runs(reader, "long") if r["state"] == "CANCELLED"])
    assert _runs(reader, "later") == []  # not due until New Year
    (jobs / "later.yaml").write_text(
        f"job: later\nschedule: {EVERY_SECOND}\nsteps:\n  - {{name: s, run: 'true'}}\n"
    )
    assert _wait_for(lambda: _runs(reader, "later"))  # the changed schedule applies
    assert proc.poll() is None  # the agent kept going throughout
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert len(_runs(reader, "long")) == 1
    log.seek(0)
    assert "spec removed" in log.read()


def test_shutdown_while_the_server_hangs_spools_instead_of_killing(
    tmp_path: Path, server: Server, org: Org, reader: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM cancels the run; when its events cannot go out (the server takes requests and
    never answers), a second SIGTERM has it spool them and exit: nothing is killed, nothing lost."""
    for name, value in ingest_env(org).items():
        monkeypatch.setenv(name, value)
    gateway = Gateway(server.url, [HANG] * 100)
    jobs, spool = tmp_path / "jobs", tmp_path / "spool"
    jobs.mkdir()
    (jobs / "long.yaml").write_text(
        "job: long\nschedule: '0 0 1 1 *'\nsteps:\n  - {name: s, run: 'sleep 300'}\n"
    )
    scheduler = Agent(jobs, ["--server", gateway.url, "--spool", str(spool)], run_at_start=True)
    try:
        scheduler.tick()
        (job,) = scheduler.jobs.values()
        assert _wait_for(lambda: any(m == "POST" for m, _p, _s in gateway.seen))  # reporting
        process = job.process
        assert process is not None
        scheduler.shutdown(timeout=1, grace=20)
        assert process.returncode == 1  # ended by itself (cancelled), not killed
    finally:
        gateway.close()
    assert list(spool.glob("*.jsonl"))
    flushed = jobtrail("flush", "--server", server.url, "--spool", str(spool), env=ingest_env(org))
    assert flushed.returncode == 0, flushed.stderr
    (run,) = _runs(reader, "long")
    assert run["state"] == "CANCELLED"
