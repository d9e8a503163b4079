"""Shared by the benchmarks: each backend in a fresh database, a real server process on it."""

import os
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobtrail.settings import normalise_db_url  # noqa: E402
from jobtrail.store import migrate  # noqa: E402
from jobtrail.store.dialect import make_engine  # noqa: E402
from tests.support import Api, Server, make_org, start_server  # noqa: E402

PG_ADMIN_URL = os.environ.get("JOBTRAIL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

__all__ = ["Api", "Server", "backends", "make_org", "percentile", "rss_kib", "serve"]


@contextmanager
def _sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/bench.db"


@contextmanager
def _postgres() -> Iterator[str]:
    admin = create_engine(normalise_db_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"jobtrail_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_db_url(PG_ADMIN_URL)).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def backends() -> list[tuple[str, object]]:
    chosen = os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")
    table = {"sqlite": _sqlite, "postgres": _postgres}
    return [(name, table[name]) for name in chosen]


@contextmanager
def serve(db_url: str, **env: str) -> Iterator[tuple[Server, Engine]]:
    engine = make_engine(normalise_db_url(db_url))
    migrate.upgrade(engine)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(db_url, Path(tmp) / "server.log", **env)
        try:
            yield server, engine
        finally:
            server.stop()
            engine.dispose()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
