"""Alert tests run on a database of their own (per backend) with a server whose embedded
worker is off: the test alone drives the worker, with `jobtrail worker --once --now`."""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Engine

from jobtrail.settings import normalise_db_url
from jobtrail.store import migrate
from jobtrail.store.dialect import make_engine
from tests.conftest import fresh_database
from tests.support import SECRET, Server, free_port, iso, start_server
from tests.worker.receiver import Receiver


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def alert_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="module")
def alert_engine(alert_db: str) -> Iterator[Engine]:
    eng = make_engine(normalise_db_url(alert_db))
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def alert_server(
    alert_db: str, alert_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("alert-server") / "server.log"
    srv = start_server(alert_db, log, JOBTRAIL_WORKER="false")
    yield srv
    srv.stop()


RunWorker = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_worker(alert_db: str, tmp_path: Path) -> RunWorker:
    """`jobtrail worker --once --now T` with the test's alerts configuration."""

    def run(now: datetime, config: str, **env: str) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "alerts.toml"
        path.write_text(config)
        environ = {
            **os.environ, "JOBTRAIL_SECRET": SECRET, "JOBTRAIL_ALERTS_CONFIG": str(path),
            "JOBTRAIL_PUBLIC_URL": "http://jobtrail.example", **env,
        }  # fmt: skip
        cmd = [sys.executable, "-m", "jobtrail.cli", "worker", "--db", alert_db, "--once"]
        done = subprocess.run(
            [*cmd, "--now", iso(now)], env=environ, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done

    return run


HOOK_SECRET = "hook-secret-0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback webhook receiver that checks each alert's signature with HOOK_SECRET."""
    made = Receiver(HOOK_SECRET)
    yield made
    made.close()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.secure: list[bool] = []  # whether each message came over TLS
        self.logins: list[bytes] = []

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        self.secure.append(session.ssl is not None)
        return "250 OK"

    def authenticate(
        self, _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"jobtrail",
            b"s3cret",
        )
        if ok:
            self.logins.append(data.login)
        return AuthResult(success=ok)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()
