"""`jobtrail alerts test|silence|list`: a test alert reaches the channel signed; a silenced
job's alert is recorded and listed but sent nowhere."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
from sqlalchemy import Engine

from tests.support import SECRET, Api, Server, ago, make_org, simple_run
from tests.worker.conftest import HOOK_SECRET, RunWorker
from tests.worker.receiver import Receiver
from tests.worker.test_alerts_webhook import config


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", "alerts", *args],
        env={**os.environ, "JOBTRAIL_SECRET": SECRET, **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_test_a_channel(tmp_path: Path) -> None:
    receiver = Receiver(HOOK_SECRET)
    settings = tmp_path / "alerts.toml"
    settings.write_text(config(receiver.url))
    try:
        done = _cli("test", "hook", JOBTRAIL_ALERTS_CONFIG=str(settings))
        assert done.returncode == 0, done.stderr
        [got] = receiver.received
        assert got.signed
        assert "test alert" in got.body["text"]
        missing = _cli("test", "nope", JOBTRAIL_ALERTS_CONFIG=str(settings))
        assert missing.returncode == 2
        assert "nope" in missing.stderr
    finally:
        receiver.close()


def test_silence_then_list(
    alert_db: str, alert_server: Server, alert_engine: Engine, run_worker: RunWorker
) -> None:
    receiver = Receiver(HOOK_SECRET)
    org = make_org(alert_engine)
    api = Api(alert_server, org, "admin")
    try:
        quiet = _cli("silence", "webmodel", "--org", org.id, "--env", "prod", "--for", "2h",
                     "--db", alert_db)  # fmt: skip
        assert quiet.returncode == 0, quiet.stderr
        api.ingest(simple_run(ago(minutes=10), "bad", fail=True))
        run_worker(ago(minutes=2), config(receiver.url))
        assert receiver.received == []
        listed = _cli("list", "--org", org.id, "--db", alert_db, "--json")
        assert listed.returncode == 0, listed.stderr
        [alert] = orjson.loads(listed.stdout)
        assert alert["condition"] == "failed"
        assert alert["deliveries"] == []
        assert _cli("silence", "webmodel", "--org", org.id, "--for", "soon").returncode == 2
    finally:
        receiver.close()
        api.close()
