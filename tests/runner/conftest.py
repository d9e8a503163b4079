"""Running real jobs with `jobtrail run` against a real server."""

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from jobtrail.domain import identity
from jobtrail.store.schema import events, log_chunks
from jobtrail.wire import paths
from tests.support import Api, Org, Server, free_port, ingest_env


@dataclass
class JobRun:
    proc: subprocess.Popen[str]
    run_id: str
    run_key: str
    events_log: Path

    def wait(self, timeout: float = 120) -> int:
        return self.proc.wait(timeout)

    def emitted(self) -> list[dict[str, Any]]:
        import orjson

        return [orjson.loads(line) for line in self.events_log.read_bytes().splitlines()]


StartJob = Callable[..., JobRun]


@pytest.fixture
def start_job(tmp_path: Path, org: Org) -> Iterator[StartJob]:
    made: list[JobRun] = []

    def start(
        spec: str, server: Server | str, *args: str, job: str = "test-job", env: str = "test"
    ) -> JobRun:
        url = server if isinstance(server, str) else server.url
        path = tmp_path / f"{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(f"job: {job}\nenvironment: {env}\n" + spec)
        run_key = uuid.uuid4().hex[:10]
        events_log = tmp_path / f"{run_key}.events"
        environ = ingest_env(org, JOBTRAIL_SPOOL=str(tmp_path / "spool"))
        cmd = [
            sys.executable, "-m", "jobtrail.cli", "run", str(path), "--server", url,
            "--run-key", run_key, "--events-log", str(events_log), "--workdir", str(tmp_path),
            *args,
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        run_id = identity.run_id(org.id, identity.job_id(org.id, env, job), run_key)
        made.append(JobRun(proc, run_id, run_key, events_log))
        return made[-1]

    yield start
    for run in made:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
        if run.proc.stdout:
            run.proc.stdout.close()


def steps_by_name(api: Api, run_id: str) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in api.get(api.at(paths.STEPS, runId=run_id)).json()}


OFFLINE_SPEC = (
    "job: offline\nenvironment: test\nsteps:\n  - {name: s, run: 'echo $JOBTRAIL_RUN_TMP'}\n"
)


def jobtrail(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def run_offline(tmp_path: Path, env: dict[str, str], key: str, server: str | None = None) -> str:
    """Run the job against `server` (default: a port nobody listens on); its run id."""
    spec = tmp_path / "job.yaml"
    spec.write_text(OFFLINE_SPEC)
    roots = tmp_path / "runs"
    roots.mkdir(exist_ok=True)
    run = jobtrail(
        "run", str(spec), "--server", server or f"http://127.0.0.1:{free_port()}",
        "--run-key", key, "--flush-timeout", "1", "--tmp-root", str(roots), env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr  # the job itself succeeded
    assert "jobtrail flush" in run.stderr
    return identity.run_id(
        env["JOBTRAIL_ORG"], identity.job_id(env["JOBTRAIL_ORG"], "test", "offline"), key
    )


def stored_ids_and_chunks(
    engine: Engine, org_id: str, run_id: str
) -> tuple[set[str], dict[tuple[str, str], list[int]]]:
    """The state event ids and the (step, stream) → seqs of log chunks the store holds."""
    with engine.connect() as conn:
        ids = set(
            conn.execute(
                select(events.c.event_id).where(
                    events.c.org_id == org_id, events.c.run_id == run_id
                )
            ).scalars()
        )
        chunks: dict[tuple[str, str], list[int]] = {}
        rows = conn.execute(
            select(log_chunks.c.step_name, log_chunks.c.stream, log_chunks.c.seq)
            .where(log_chunks.c.org_id == org_id, log_chunks.c.run_id == run_id)
            .order_by(log_chunks.c.seq)
        )
        for step, stream, seq in rows:
            chunks.setdefault((step, stream), []).append(seq)
    return ids, chunks


def emitted_ids_and_chunks(job: JobRun) -> tuple[set[str], dict[tuple[str, str], list[int]]]:
    """The same, for what the runner emitted (its --events-log)."""
    ids: set[str] = set()
    chunks: dict[tuple[str, str], list[int]] = {}
    for ev in job.emitted():
        if ev["kind"] == "log":
            chunks.setdefault((ev["step"]["name"], ev["stream"]), []).append(ev["seq"])
        else:
            ids.add(ev["eventId"])
    return ids, {k: sorted(v) for k, v in chunks.items()}
