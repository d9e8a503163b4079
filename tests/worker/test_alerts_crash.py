"""The outbox under failure: kill -9 of the worker in the middle of a delivery, then a restart,
delivers the alert at most twice with the same idempotency key; two workers on one store raise
and deliver each of 200 alerts once."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from tests.support import SECRET, Api, Server, ago, iso, make_org, simple_run
from tests.worker.conftest import HOOK_SECRET, RunWorker
from tests.worker.receiver import HANG, Receiver
from tests.worker.test_alerts_webhook import config


def _until(check: object, timeout: float = 60) -> bool:
    """Polls what a real worker process does on its own clock; returns once `check()` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_kill_9_mid_delivery_then_restart(
    alert_db: str, alert_server: Server, alert_engine: Engine, run_worker: RunWorker, tmp_path: Path
) -> None:
    receiver = Receiver(HOOK_SECRET, [HANG])
    api = Api(alert_server, make_org(alert_engine), "admin")
    settings = tmp_path / "alerts.toml"
    settings.write_text(config(receiver.url))
    env = {
        **os.environ, "JOBTRAIL_SECRET": SECRET, "JOBTRAIL_ALERTS_CONFIG": str(settings),
        "JOBTRAIL_ALERTS_INTERVAL": "PT1S", "JOBTRAIL_WORKER_POLL": "0.2",
    }  # fmt: skip
    cmd = [sys.executable, "-m", "jobtrail.cli", "worker", "--db", alert_db]
    try:
        api.ingest(simple_run(ago(minutes=10), "bad", fail=True))
        with (tmp_path / "worker.log").open("w") as log:
            worker = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        assert _until(lambda: len(receiver.received) == 1)  # the send is in flight, unanswered
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        # After the dead worker's claim lapses (2 minutes), a new worker sends it again.
        run_worker(ago() + timedelta(minutes=3), config(receiver.url))
        assert 1 <= len(receiver.delivered()) <= 2
        assert len(receiver.received) == 2
        assert len({r.key for r in receiver.received}) == 1
        [alert] = api.get("/alerts/v1/alerts").json()
        assert alert["deliveries"][0]["status"] == "delivered"
    finally:
        receiver.close()
        api.close()


def test_two_workers_raise_each_of_200_alerts_once(
    alert_db: str, alert_server: Server, alert_engine: Engine, tmp_path: Path
) -> None:
    receiver = Receiver(HOOK_SECRET)
    api = Api(alert_server, make_org(alert_engine), "admin")
    settings = tmp_path / "alerts.toml"
    settings.write_text(config(receiver.url).replace('"failed", "recovered"', '"failed"'))
    env = {**os.environ, "JOBTRAIL_SECRET": SECRET, "JOBTRAIL_ALERTS_CONFIG": str(settings)}
    start = ago(minutes=20)
    events = [
        e for i in range(200) for e in simple_run(start, f"r{i}", fail=True, job=f"job-{i:03d}")
    ]
    try:
        api.ingest(events)
        now = iso(ago(minutes=1))
        cmd = [sys.executable, "-m", "jobtrail.cli", "worker", "--db", alert_db, "--once"]
        workers = [
            subprocess.Popen([*cmd, "--now", now], env=env, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        for worker in workers:
            assert worker.wait(300) == 0
            if worker.stderr:
                worker.stderr.close()
        listed = api.get("/alerts/v1/alerts").json()
        assert len(listed) == 200  # raised once each, by whichever worker got there first
        # A send that failed under load (a busy store, a refused connection) is retried with
        # backoff: later rounds deliver it, still once, with the same idempotency key.
        for minutes in (10, 60, 240):
            if len(receiver.received) >= 200:
                break
            later = iso(ago(minutes=1) + timedelta(minutes=minutes))
            subprocess.run([*cmd, "--now", later], env=env, capture_output=True, check=True)
        keys = [r.key for r in receiver.received]
        assert len(keys) == 200
        assert len(set(keys)) == 200
        listed = api.get("/alerts/v1/alerts").json()
        assert {a["deliveries"][0]["status"] for a in listed} == {"delivered"}
    finally:
        receiver.close()
        api.close()
