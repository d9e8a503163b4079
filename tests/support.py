"""Test helpers: a real server process, an HTTP client with a token, event builders."""

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine

from jobtrail.store import accounts
from jobtrail.wire import paths
from jobtrail.wire.events import build_event, stamp
from jobtrail.wire.paths import BASE

__all__ = ["BASE"]
T = TypeVar("T")
SECRET = "test-secret-" + "x" * 40


def run_on_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on a thread of its own: in the full suite Playwright's sync API holds the
    main thread's event loop (the browser fixture is session-scoped)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    db_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(
    db_url: str, log: Path, port: int | None = None, args: Sequence[str] = (), **env: str
) -> Server:
    """`jobtrail serve` as a subprocess on a loopback port, ready when /readyz answers; `args`
    are more options for `serve` (such as `--workers 2`)."""
    port = port or free_port()
    environ = {
        **os.environ,
        "JOBTRAIL_SECRET": SECRET,
        "JOBTRAIL_KEY_CACHE_SECONDS": "0.5",
        **env,
    }
    cmd = [sys.executable, "-m", "jobtrail.cli", "serve", "--db", db_url, "--port", str(port)]
    cmd += args
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=environ, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return Server(url, db_url, proc, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not become ready: {log.read_text()}")


@dataclass
class Org:
    """An organization with one key of each role."""

    id: str
    keys: dict[str, accounts.NewKey]


def ingest_env(org: "Org", **extra: str) -> dict[str, str]:
    """The environment a runner or agent reports with: the org and its ingest key."""
    key = org.keys["ingest"]
    return {
        **os.environ,
        "JOBTRAIL_ORG": org.id,
        "JOBTRAIL_API_KEY_ID": key.key.key_id,
        "JOBTRAIL_API_KEY": key.secret,
        **extra,
    }


def make_org(engine: Engine) -> Org:
    org_id = accounts.create_org(engine, f"org-{uuid.uuid4().hex[:8]}")
    keys = {role: accounts.create_key(engine, org_id, role) for role in ("read", "ingest", "admin")}
    return Org(org_id, keys)


class Api:
    """An HTTP client for one organization, holding a token of the chosen role."""

    def __init__(self, server: Server, org: Org, role: str = "ingest") -> None:
        self.http = httpx.Client(base_url=server.url, timeout=60)
        self.org = org
        self.prefix = paths.fill(paths.ORG, organizationId=org.id)
        key = org.keys[role]
        resp = self.http.get(
            paths.fill(paths.TOKEN_V3, organizationId=org.id),
            headers={"X-API-Key-ID": key.key.key_id, "X-API-Key": key.secret},
        )
        assert resp.status_code == 200, resp.text
        self.token = resp.json()["accessToken"]

    def at(self, template: str, **params: str) -> str:
        """A wire route of this organization, filled in and URL-encoded."""
        return paths.fill(template, organizationId=self.org.id, **params)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        """`path` from `at`, or (older tests) spelled from below the organization."""
        return self.http.get(self._full(path), headers=self._auth(kw), **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.post(self._full(path), headers=self._auth(kw), **kw)

    def _full(self, path: str) -> str:
        return path if path.startswith(paths.BASE) else self.prefix + path

    def _auth(self, kw: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}

    def ingest(self, events: list[dict[str, Any]]) -> dict[str, int]:
        resp = self.post(self.at(paths.EVENTS), json={"events": events})
        assert resp.status_code == 200, resp.text
        body: dict[str, int] = resp.json()
        return body

    def runs(self, from_: str = "PT-96H", to: str = "PT0S", **params: str) -> httpx.Response:
        return self.get(self.at(paths.RUNS), params={"from": from_, "to": to, **params})

    def close(self) -> None:
        self.http.close()


_ids = itertools.count()


def iso(dt: datetime) -> str:
    return stamp(dt)


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def event(
    kind: str,
    at: datetime,
    run_key: str = "r1",
    *,
    job: str = "webmodel",
    env: str = "prod",
    **fields: Any,
) -> dict[str, Any]:
    event_id = fields.pop("eventId", f"e{next(_ids):08d}-{uuid.uuid4().hex[:6]}")
    body = build_event(
        kind, at, job=job, environment=env, run_key=run_key, event_id=event_id, **fields
    )
    return dict(body)


def simple_run(
    start: datetime, run_key: str, *, fail: bool = False, job: str = "webmodel", env: str = "prod"
) -> list[dict[str, Any]]:
    """A two-step run (git-clone-cache → run-dbt) with output; run-dbt fails when asked."""
    t = start
    kw: dict[str, Any] = {"job": job, "env": env}
    clone = {"name": "git-clone-cache", "dependencies": []}
    dbt = {"name": "run-dbt", "dependencies": ["git-clone-cache"]}
    s = timedelta(seconds=1)
    return [
        event("run", t, run_key, state="RUNNING", **kw),
        event("step", t + s, run_key, step=clone, state="RUNNING", attempt=1, **kw),
        event(
            "log",
            t + s,
            run_key,
            step="git-clone-cache",
            stream="stdout",
            data="cloning\n",
            seq=0,
            **kw,
        ),
        event("step", t + 2 * s, run_key, step=clone, state="SUCCEEDED", exitCode=0, **kw),
        event("step", t + 3 * s, run_key, step=dbt, state="RUNNING", attempt=1, **kw),
        event(
            "log",
            t + 4 * s,
            run_key,
            step="run-dbt",
            stream="stdout",
            data="1 of 2 OK\n",
            seq=0,
            **kw,
        ),
        event(
            "log",
            t + 5 * s,
            run_key,
            step="run-dbt",
            stream="stderr",
            data="Database Error\n",
            seq=0,
            **kw,
        ),
        event(
            "step",
            t + 6 * s,
            run_key,
            step=dbt,
            state="FAILED" if fail else "SUCCEEDED",
            exitCode=2 if fail else 0,
            message="Database Error in model x" if fail else None,
            **kw,
        ),
        event("run", t + 7 * s, run_key, state="FAILED" if fail else "SUCCEEDED", **kw),
    ]
