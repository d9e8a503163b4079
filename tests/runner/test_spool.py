"""The server goes away in the middle of a run and comes back: every event arrives exactly once,
and the API shows the same run as an uninterrupted one."""

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from jobtrail.wire import paths
from tests.runner.conftest import (
    StartJob,
    emitted_ids_and_chunks,
    steps_by_name,
    stored_ids_and_chunks,
)
from tests.support import Api, Org, Server, start_server

SPEC = """
steps:
  - name: produce
    run: "for i in 1 2 3 4 5 6 7 8; do echo tick $i; echo warn $i >&2; sleep 0.4; done"
  - {name: consume, needs: [produce], run: "echo consumed"}
"""


def _view(api: Api, run_id: str) -> dict[str, Any]:
    """What the API shows, minus times and ids."""
    run = api.get(api.at(paths.RUN, runId=run_id)).json()
    steps = steps_by_name(api, run_id)
    logs = {
        (name, stream): api.get(api.at(paths.LOGS, runId=run_id, stepName=name, stream=stream)).text
        for name in steps
        for stream in ("stdout", "stderr")
    }
    shape = {
        n: (s["state"], s["dependencies"], s["attempt"], s["exitCode"]) for n, s in steps.items()
    }
    return {"state": run["state"], "steps": shape, "logs": logs}


def test_outage_in_the_middle_of_a_run(
    start_job: StartJob,
    db_url: str,
    engine: Engine,
    org: Org,
    server: Server,
    reader: Api,
    tmp_path: Path,
) -> None:
    outage = start_server(db_url, tmp_path / "outage.log")
    port = int(outage.url.rsplit(":", 1)[1])
    job = start_job(SPEC, outage)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until the run is visibly under way
            if reader.get(reader.at(paths.RUN, runId=job.run_id)).status_code == 200:
                break
            time.sleep(0.1)
        outage.stop()
        time.sleep(1.5)  # the job keeps running and spools
        spool_files = list((tmp_path / "spool").glob("*.jsonl"))
        assert spool_files, "events should have been spooled while the server was down"
        outage = start_server(db_url, tmp_path / "outage.log", port=port)
        assert job.wait(90) == 0
    finally:
        outage.stop()
    emitted_ids, emitted_chunks = emitted_ids_and_chunks(job)
    stored_ids, stored_chunks = stored_ids_and_chunks(engine, org.id, job.run_id)
    assert stored_ids == emitted_ids
    assert stored_chunks == emitted_chunks
    assert not list((tmp_path / "spool").glob("*.jsonl"))  # delivered and cleaned up

    calm = start_job(SPEC, server)  # the same job, uninterrupted
    assert calm.wait(90) == 0
    assert _view(reader, job.run_id) == _view(reader, calm.run_id)
