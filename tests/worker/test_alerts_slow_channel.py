"""A dead channel never delays the others: while every send to it hangs, the worker holds at
most PER_CHANNEL sending threads on it, delivers everything else, and leaves the dead channel's
other deliveries due for later rounds (claimed by no one, so no send waits in a queue)."""

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from jobtrail.worker.alerting import PER_CHANNEL
from tests.support import SECRET, Api, Server, ago, iso, make_org, simple_run
from tests.worker.conftest import HOOK_SECRET
from tests.worker.receiver import HANG, Receiver

ALERTS = 20


def _until(check: Callable[[], bool], timeout: float = 60) -> bool:
    """Polls what a real worker process does; returns once `check()` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_dead_channel_holds_no_more_than_its_share(
    alert_db: str, alert_server: Server, alert_engine: Engine, tmp_path: Path
) -> None:
    dead = Receiver(HOOK_SECRET, [HANG] * ALERTS)
    alive = Receiver(HOOK_SECRET)
    api = Api(alert_server, make_org(alert_engine), "admin")
    settings = tmp_path / "alerts.toml"
    settings.write_text(f"""
[defaults]
on = ["failed"]
channels = ["dead", "alive"]
[channels.dead]
type = "webhook"
url = "{dead.url}"
secret = "{HOOK_SECRET}"
timeout = 100
[channels.alive]
type = "webhook"
url = "{alive.url}"
secret = "{HOOK_SECRET}"
""")
    env = {**os.environ, "JOBTRAIL_SECRET": SECRET, "JOBTRAIL_ALERTS_CONFIG": str(settings)}
    start = ago(minutes=20)
    events = [
        e for i in range(ALERTS) for e in simple_run(start, f"r{i}", fail=True, job=f"j-{i:02d}")
    ]
    cmd = [sys.executable, "-m", "jobtrail.cli", "worker", "--db", alert_db, "--once"]
    worker = None
    try:
        api.ingest(events)
        with (tmp_path / "worker.log").open("w") as log:
            worker = subprocess.Popen(
                [*cmd, "--now", iso(ago(minutes=1))], env=env, stdout=log, stderr=log
            )
        # Every alert reaches the live channel while the dead one's sends all still hang.
        assert _until(lambda: len(alive.delivered()) == ALERTS)
        assert len(dead.received) == PER_CHANNEL
        assert not dead.released.is_set()
        dead.released.set()  # the hanging sends now fail (no answer): retried later
        assert worker.wait(120) == 0
        listed = api.get("/alerts/v1/alerts").json()
        assert len(listed) == ALERTS
        by_channel: dict[str, list[tuple[str, int]]] = {"dead": [], "alive": []}
        for alert in listed:
            for d in alert["deliveries"]:
                by_channel[d["channel"]].append((d["status"], d["attempts"]))
        assert by_channel["alive"] == [("delivered", 1)] * ALERTS
        assert sorted(by_channel["dead"]) == sorted(
            [("pending", 1)] * PER_CHANNEL + [("pending", 0)] * (ALERTS - PER_CHANNEL)
        )
        assert len({r.key for r in alive.received}) == ALERTS
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        dead.close()
        alive.close()
        api.close()
