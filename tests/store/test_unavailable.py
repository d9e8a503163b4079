"""Which database errors mean "out of reach, retry" (503) rather than a bug (500)."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from jobtrail.store.dialect import is_unavailable, make_engine
from tests.support import free_port


def _error(url: str, sql: str = "SELECT 1") -> DBAPIError:
    engine = make_engine(url)
    try:
        with pytest.raises(DBAPIError) as caught, engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()
    return caught.value


def test_postgresql_refusing_connections_is_unavailable() -> None:
    assert is_unavailable(_error(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x"))


def test_a_wrong_statement_is_not_an_outage(tmp_path: object) -> None:
    err = _error(f"sqlite:///{tmp_path}/x.db", "SELECT * FROM no_such_table")
    assert not is_unavailable(err)
