"""Backends and servers. Storage and API tests run on SQLite and on PostgreSQL: each test run
gets a fresh database per backend, and each test its own organizations."""

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from jobtrail.settings import normalise_db_url
from jobtrail.store import migrate
from jobtrail.store.dialect import make_engine
from tests.browser import browser  # noqa: F401 - registered once here, for every module
from tests.support import Api, Org, Server, make_org, start_server

PG_ADMIN_URL = os.environ.get("JOBTRAIL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _create_pg_database() -> tuple[str, Engine]:
    admin = create_engine(normalise_db_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"jobtrail_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc.orig}")
    url = make_url(normalise_db_url(PG_ADMIN_URL)).set(database=name)
    return url.render_as_string(hide_password=False), admin


@contextmanager
def fresh_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a new, empty database of that backend, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'jobtrail.db'}"
        return
    url, admin = _create_pg_database()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(normalise_db_url(db_url))
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def server(
    db_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    srv = start_server(db_url, tmp_path_factory.mktemp("server") / "server.log")
    yield srv
    srv.stop()


@pytest.fixture
def org(engine: Engine) -> Org:
    return make_org(engine)


@pytest.fixture
def outsider(engine: Engine) -> Org:
    return make_org(engine)


MakeApi = Callable[..., Api]


@pytest.fixture
def make_api(server: Server) -> Iterator[MakeApi]:
    """Clients for any organization and role, closed when the test ends."""
    made: list[Api] = []

    def make(org: Org, role: str = "ingest") -> Api:
        made.append(Api(server, org, role))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def api(make_api: MakeApi, org: Org) -> Api:
    """A client that both reports and reads (an ingest key may not read): role admin."""
    return make_api(org, "admin")


@pytest.fixture
def reader(make_api: MakeApi, org: Org) -> Api:
    return make_api(org, "read")
