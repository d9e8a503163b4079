"""A run that ends while the server is unreachable leaves its events in the spool, and
`jobtrail flush` delivers them later, with the run's temp folder where it was asked to be."""

import subprocess
import sys
from pathlib import Path

from jobtrail.domain import identity
from tests.runner.conftest import steps_by_name
from tests.support import Api, Org, Server, free_port, ingest_env


def test_flush_delivers_what_an_outage_left(
    tmp_path: Path, server: Server, org: Org, reader: Api
) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "job: offline\nenvironment: test\nsteps:\n  - {name: s, run: 'echo $JOBTRAIL_RUN_TMP'}\n"
    )
    env = ingest_env(org, JOBTRAIL_SPOOL=str(tmp_path / "spool"))
    nowhere = f"http://127.0.0.1:{free_port()}"
    roots = tmp_path / "runs"
    roots.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", "run", str(spec), "--server", nowhere,
         "--run-key", "k1", "--flush-timeout", "1", "--tmp-root", str(roots)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "jobtrail flush" in run.stderr
    assert list((tmp_path / "spool").glob("*.jsonl"))
    flush = subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", "flush", "--server", server.url],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert flush.returncode == 0, flush.stderr
    assert flush.stdout.startswith("delivered ")
    assert not list((tmp_path / "spool").glob("*.jsonl"))
    run_id = identity.run_id(org.id, identity.job_id(org.id, "test", "offline"), "k1")
    assert steps_by_name(reader, run_id)["s"]["state"] == "SUCCEEDED"
    out = reader.get(f"/jobs/v1/runs/{run_id}/steps/s/logs/stdout").text
    assert out.startswith(str(roots))
