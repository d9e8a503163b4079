"""A server with a small window cap (so splitting is exercised on a scaled-down week) and a
2-second token lifetime (so tokens expire in the middle of a listing)."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from jobtrail.client.sync import JobsClient
from tests.support import Org, Server, start_server

CAP = 500


@pytest.fixture(scope="module")
def capped(
    db_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("capped") / "server.log"
    srv = start_server(db_url, log, JOBTRAIL_WINDOW_EVENT_CAP=str(CAP), JOBTRAIL_TOKEN_TTL="PT2S")
    yield srv
    srv.stop()


def client_for(url: str, org: Org, role: str = "read", **options: object) -> JobsClient:
    key = org.keys[role]
    return JobsClient(url, org.id, key.key.key_id, key.secret, **options)  # type: ignore[arg-type]
