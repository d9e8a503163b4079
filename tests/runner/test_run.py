"""`jobtrail run`: DAG order and parallelism, streams, timeouts, retries, cancellation."""

import os
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobtrail.runner.dbt import command as dbt_command
from jobtrail.runner.events import EventFactory
from jobtrail.runner.executor import RunExecutor, RunOptions
from jobtrail.runner.spec import parse_spec
from jobtrail.wire import paths
from tests.runner.conftest import StartJob, jobtrail, steps_by_name
from tests.support import Api, Org, Server, ingest_env, run_on_own_loop


def _history(api: Api, run_id: str, step: str) -> list[tuple[str, int | None]]:
    detail = api.get(api.at(paths.STEP, runId=run_id, stepName=step)).json()
    return [(h["state"], h["attempt"]) for h in detail["stateHistory"]]


def test_dag_order_parallelism_and_failure(
    start_job: StartJob, server: Server, reader: Api
) -> None:
    spec = """
steps:
  - {name: first, run: "echo one"}
  - {name: left, needs: [first], run: "sleep 0.6; echo left"}
  - {name: right, needs: [first], run: "sleep 0.6; echo right"}
  - {name: join, needs: [left, right], run: "exit 4"}
  - {name: after, needs: [join], run: "echo never"}
  - {name: alone, run: "echo alone"}
"""
    job = start_job(spec, server)
    assert job.wait() == 1
    run = reader.get(reader.at(paths.RUN, runId=job.run_id)).json()
    assert run["state"] == "FAILED"
    steps = steps_by_name(reader, job.run_id)
    assert {n: s["state"] for n, s in steps.items()} == {
        "first": "SUCCEEDED", "left": "SUCCEEDED", "right": "SUCCEEDED",
        "join": "FAILED", "after": "SKIPPED", "alone": "SUCCEEDED",
    }  # fmt: skip
    assert steps["join"]["exitCode"] == 4
    assert steps["join"]["dependencies"] == ["left", "right"]
    left, right = steps["left"], steps["right"]
    assert left["startTime"] >= steps["first"]["endTime"]
    assert left["startTime"] < right["endTime"]  # the two ran at the same time
    assert right["startTime"] < left["endTime"]
    assert steps["join"]["startTime"] >= max(left["endTime"], right["endTime"])


def test_parallel_one_runs_steps_one_at_a_time(
    start_job: StartJob, server: Server, reader: Api
) -> None:
    spec = """
steps:
  - {name: a, run: "sleep 0.3"}
  - {name: b, run: "sleep 0.3"}
  - {name: c, run: "sleep 0.3"}
"""
    job = start_job(spec, server, "--parallel", "1")
    assert job.wait() == 0
    spans = sorted(
        (s["startTime"], s["endTime"]) for s in steps_by_name(reader, job.run_id).values()
    )
    assert spans[0][1] <= spans[1][0]
    assert spans[1][1] <= spans[2][0]


def test_streams_are_separate_ordered_and_whole(
    start_job: StartJob, server: Server, reader: Api, tmp_path: Path
) -> None:
    script = tmp_path / "noisy.py"
    script.write_text(
        "import sys\n"
        "for i in range(200000): sys.stdout.write(f'out {i}\\n')\n"
        "for i in range(3000): sys.stderr.write(f'err {i}\\n')\n"
        "sys.stdout.write('last é line')\n"
    )  # ~2 MB at once, then the process exits immediately
    job = start_job(f"steps:\n  - {{name: noisy, run: 'python3 {script}'}}\n", server)
    assert job.wait() == 0
    ids = {"runId": job.run_id, "stepName": "noisy"}
    out = reader.get(reader.at(paths.LOGS, **ids, stream="stdout")).text
    err = reader.get(reader.at(paths.LOGS, **ids, stream="stderr")).text
    assert out == "".join(f"out {i}\n" for i in range(200000)) + "last é line"
    assert err == "".join(f"err {i}\n" for i in range(3000))


def test_timeout_kills_the_whole_process_group(
    start_job: StartJob, server: Server, reader: Api, tmp_path: Path
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    spec = f"""
steps:
  - name: slow
    timeout: 1s
    run: "sh -c 'sleep 300 & echo $! > {pid_file}; wait'"
"""
    job = start_job(spec, server)
    assert job.wait() == 1
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid)
    detail = reader.get(reader.at(paths.STEP, runId=job.run_id, stepName="slow")).json()
    assert detail["state"] == "FAILED"
    assert "timed out" in detail["message"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def test_retries_count_attempts(
    start_job: StartJob, server: Server, reader: Api, tmp_path: Path
) -> None:
    marker = tmp_path / "tried"
    spec = f"""
steps:
  - name: flaky
    retries: 2
    retry_delay: 0.5s
    run: >-
      echo try $JOBTRAIL_ATTEMPT;
      if [ -f {marker} ]; then echo ok; else touch {marker}; echo boom >&2; exit 1; fi
"""
    job = start_job(spec, server)
    assert job.wait() == 0
    # Each attempt's output is told apart: where it begins, in the stream's bytes.
    detail = reader.get(f"/jobs/v1/runs/{job.run_id}/steps/flaky").json()
    assert detail["stdout"] == "try 1\ntry 2\nok\n"
    assert detail["stdoutAttempts"] == [{"attempt": 1, "offset": 0}, {"attempt": 2, "offset": 6}]
    assert detail["stderrAttempts"] == [{"attempt": 1, "offset": 0}]
    assert _history(reader, job.run_id, "flaky") == [
        ("PENDING", None), ("RUNNING", 1), ("FAILED", 1), ("RUNNING", 2), ("SUCCEEDED", 2),
    ]  # fmt: skip
    step = steps_by_name(reader, job.run_id)["flaky"]
    assert step["attempt"] == 2
    emitted = [e for e in job.emitted() if e["kind"] == "step"]
    stamps = {(e["state"], e.get("attempt")): e["timestamp"] for e in emitted}
    failed, again = stamps[("FAILED", 1)], stamps[("RUNNING", 2)]
    assert datetime.fromisoformat(again) - datetime.fromisoformat(failed) >= timedelta(seconds=0.5)


def test_sigterm_cancels_running_steps(
    start_job: StartJob, server: Server, reader: Api, tmp_path: Path
) -> None:
    pid_file = tmp_path / "step.pid"
    spec = f"""
steps:
  - {{name: long, run: "echo $$ > {pid_file}; sleep 300"}}
  - {{name: later, needs: [long], run: "echo never"}}
"""
    job = start_job(spec, server)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not pid_file.exists():
        time.sleep(0.05)
    job.proc.send_signal(signal.SIGTERM)
    assert job.wait(60) != 0
    run = reader.get(reader.at(paths.RUN, runId=job.run_id)).json()
    assert run["state"] == "CANCELLED"
    steps = steps_by_name(reader, job.run_id)
    assert steps["long"]["state"] == "CANCELLED"
    assert steps["later"]["state"] == "CANCELLED"
    assert not _alive(int(pid_file.read_text()))


def test_a_step_that_cannot_start_fails_with_the_reason(
    start_job: StartJob, server: Server, reader: Api
) -> None:
    spec = """
steps:
  - {name: lost, workdir: no-such-folder, run: "echo never"}
  - {name: after, needs: [lost], run: "echo never"}
"""
    job = start_job(spec, server)
    assert job.wait() == 1
    assert reader.get(reader.at(paths.RUN, runId=job.run_id)).json()["state"] == "FAILED"
    detail = reader.get(reader.at(paths.STEP, runId=job.run_id, stepName="lost")).json()
    assert detail["state"] == "FAILED"
    assert detail["message"].startswith("could not start: No such file or directory")
    assert "no-such-folder" in detail["stderr"]
    assert detail["exitCode"] is None  # nothing ran
    assert steps_by_name(reader, job.run_id)["after"]["state"] == "SKIPPED"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--server", "127.0.0.1:8000"], "is not a URL"),
        (["--workdir", "/no/such/folder"], "working folder /no/such/folder does not exist"),
        (["--spool", "/proc/no-spool-here"], "cannot create /proc/no-spool-here"),
        (["--tmp-root", "/no/such/root"], "cannot create /no/such/root"),
    ],
)
def test_bad_run_options_exit_2_before_anything_runs(
    tmp_path: Path, server: Server, org: Org, args: list[str], expected: str
) -> None:
    spec = tmp_path / "job.yaml"
    marker = tmp_path / "ran"
    spec.write_text(f"job: j\nenvironment: e\nsteps:\n  - {{name: s, run: 'touch {marker}'}}\n")
    base = ["run", str(spec), "--server", server.url, "--spool", str(tmp_path / "spool")]
    proc = jobtrail(*base, *args, env=ingest_env(org))
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists()


def test_a_dbt_step_without_dbt_installed_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dbt_command, "dbt_executable", lambda: str(tmp_path / "no-dbt-here"))
    spec = parse_spec(
        {"job": "j", "steps": [{"name": "models", "dbt": {"command": "run"}}]}, "job.yaml"
    )
    emitted: list[dict[str, Any]] = []
    options = RunOptions(parallel=1, workdir=tmp_path, tmp_dir=tmp_path)
    executor = RunExecutor(spec, EventFactory("j", "e", "k"), emitted.append, options)
    assert run_on_own_loop(executor.run()) == "FAILED"
    (failed,) = [e for e in emitted if e["kind"] == "step" and e["state"] == "FAILED"]
    assert failed["message"] == "could not start: dbt is not installed (jobtrail[dbt])"
    assert [e["data"] for e in emitted if e["kind"] == "log"] == [failed["message"] + "\n"]


def test_a_signal_while_a_step_is_starting_still_cancels(
    start_job: StartJob, server: Server, reader: Api, tmp_path: Path
) -> None:
    """The step signals its runner the moment it starts, while asyncio may still be connecting
    its pipes: the run must still end CANCELLED, promptly, with the step's process gone.
    (On CPython 3.11 an unshielded start hung here about one time in three; five tries.)"""
    for attempt in range(5):
        pid_file = tmp_path / f"step-{attempt}.pid"
        spec = (
            f'steps:\n  - {{name: s, run: "echo $$ > {pid_file}; kill -TERM $PPID; sleep 300"}}\n'
        )
        job = start_job(spec, server)
        assert job.wait(30) == 1
        assert reader.get(reader.at(paths.RUN, runId=job.run_id)).json()["state"] == "CANCELLED"
        assert not _alive(int(pid_file.read_text()))


def test_run_prints_its_console_url_and_the_failed_steps_stderr_tail(
    start_job: StartJob, server: Server
) -> None:
    spec = """
steps:
  - name: breaks
    run: "for i in $(seq 1 30); do echo problem $i >&2; done; exit 3"
"""
    job = start_job(spec, server)
    assert job.wait() == 1
    assert job.proc.stdout is not None
    out = job.proc.stdout.read()
    assert f"{server.url}/console#/runs/{job.run_id}" in out
    tail = out.split("breaks: stderr (last 20 lines)")[1]
    assert "problem 30" in tail
    assert "problem 11" in tail
    assert "problem 10\n" not in tail
