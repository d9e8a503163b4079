"""The worker: `jobtrail worker` runs retention on an injected clock (`--once --now`), stops
cleanly on SIGTERM, `serve --no-worker` leaves the work to it, and leases in the store let
exactly one of several workers run each round of a task."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from jobtrail.domain.batches import parse_batch
from jobtrail.store import leases
from jobtrail.store.dialect import make_engine
from jobtrail.store.ingest import ingest
from jobtrail.store.schema import worker_leases
from jobtrail.worker.loop import Task, Worker
from tests.support import (
    SECRET,
    Api,
    ago,
    free_port,
    iso,
    make_org,
    simple_run,
    start_server,
)


def _worker(db_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", "worker", "--db", db_url, *args],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "JOBTRAIL_SECRET": SECRET, **env},
    )  # fmt: skip


def test_once_prunes_on_the_given_clock(db_url: str, engine: Engine, tmp_path: Path) -> None:
    org = make_org(engine)
    ingest(engine, org.id, parse_batch({"events": simple_run(ago(hours=1), "r")}), 1 << 24)
    server = start_server(db_url, tmp_path / "server.log", JOBTRAIL_WORKER="false")
    api = Api(server, org, "read")
    try:
        now = _worker(db_url, "--once", "--now", iso(ago()), JOBTRAIL_RETENTION="PT12H")
        assert now.returncode == 0, now.stderr
        assert len(api.runs("PT-6H", "PT0S").json()) == 1  # 1 hour old: kept
        later = iso(ago(hours=-13))
        done = _worker(db_url, "--once", "--now", later, JOBTRAIL_RETENTION="PT12H")
        assert done.returncode == 0, done.stderr
        assert "retention: " in done.stdout
        assert api.runs("PT-6H", "PT0S").json() == []  # 14 hours old at the worker's time
    finally:
        api.close()
        server.stop()


def test_bad_clock_and_sigterm(db_url: str, engine: Engine, tmp_path: Path) -> None:
    bad = _worker(db_url, "--once", "--now", "yesterday")
    assert bad.returncode == 2
    assert "--now" in bad.stderr
    cmd = [sys.executable, "-m", "jobtrail.cli", "worker", "--db", db_url]
    with (tmp_path / "worker.log").open("w+") as log:
        env = {**os.environ, "JOBTRAIL_PRUNE_INTERVAL": "PT0.1S"}
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            # The worker logs its first round's work only when there is some; wait for the
            # process to be up by its own first lease instead of sleeping.
            _wait_for_lease(engine, "retention", f"{socket.gethostname()}:{proc.pid}")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _wait_for_lease(engine: Engine, name: str, holder: str, timeout: float = 60) -> None:
    """Until the worker process has run a round of its own (its signal handlers are set)."""
    deadline = time.monotonic() + timeout
    stmt = select(worker_leases.c.holder).where(worker_leases.c.name == name)
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(stmt).scalar() == holder:
                return
        time.sleep(0.1)
    raise AssertionError(f"the worker never took the {name!r} lease")


def test_one_claim_per_round_among_racing_workers(engine: Engine) -> None:
    name = f"race-{id(object())}"
    now = 10**15
    minute = int(timedelta(minutes=1).total_seconds() * 1_000_000)
    wins: list[bool] = []
    lock = threading.Lock()

    def claim(holder: str) -> None:
        won = leases.claim(engine, name, holder, now, minute)
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]
    assert not leases.claim(engine, name, "late", now + minute - 1, minute)
    assert leases.claim(engine, name, "often", now + 1, 1)  # a shorter interval is not held off
    assert leases.claim(engine, name, "next", now + minute + 1, minute)


def test_an_outage_met_claiming_a_lease_leaves_the_loop_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database unreachable just as a round claims its lease: the round logs it and the
    next round comes (it once ended the worker's thread for good, found in an outage test)."""
    ran: list[int] = []
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x")
    task = Task("t", timedelta(seconds=1), lambda _engine, now: ran.append(now) or 1)
    worker = Worker(engine, [task], clock=lambda: 1_000_000)
    try:
        assert worker.run_once() == {}
        assert worker.run_once() == {}
    finally:
        engine.dispose()
    assert ran == []
    assert "t: the store is unreachable" in caplog.text
