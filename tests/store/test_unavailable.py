"""Which database errors mean "out of reach, retry" (503) rather than a bug (500)."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from jobtrail.store import dialect
from jobtrail.store.dialect import is_unavailable, make_engine
from tests.support import free_port
from tests.tcp_proxy import TcpProxy


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


@pytest.mark.parametrize("idle_ping_seconds", [0.0, 3600.0])
def test_a_connection_dropped_silently_while_idle_is_replaced_by_its_ping(
    monkeypatch: pytest.MonkeyPatch, idle_ping_seconds: float
) -> None:
    """A network that forgets an idle connection (a NAT's timeout, a crashed host) leaves
    nothing to read on its socket: the socket check is blinded here to stand for that. Once the
    connection sat idle longer than IDLE_PING_SECONDS, its ping fails and the pool opens another,
    so the request is answered; without the ping it meets the dead connection."""
    proxy = TcpProxy("127.0.0.1", 5432)
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/postgres")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        proxy.cut()
        proxy.restore()
        monkeypatch.setattr(dialect, "_hung_up", lambda fd: False)
        monkeypatch.setattr(dialect, "IDLE_PING_SECONDS", idle_ping_seconds)
        if idle_ping_seconds:
            with pytest.raises(DBAPIError), engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        else:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
        proxy.cut()
