"""insert_many: rows larger than one statement's share are written in several, all of them, in
their order, with the count of rows changed."""

import uuid

from sqlalchemy import Engine, delete, select

from jobtrail.store import dialect
from jobtrail.store.dialect import insert_ignore, insert_many, write_transaction
from jobtrail.store.schema import settings


def test_rows_over_a_statement_s_share_are_all_written(engine: Engine) -> None:
    prefix = f"im-{uuid.uuid4().hex[:8]}-"
    value = "x" * (dialect._STATEMENT_BYTES // 8)
    rows = [{"name": f"{prefix}{i:03d}", "value": f"{i}{value}"} for i in range(20)]
    try:
        with write_transaction(engine) as conn:
            assert insert_many(conn, insert_ignore(settings, engine), rows[::2]) == 10
        with write_transaction(engine) as conn:
            assert insert_many(conn, insert_ignore(settings, engine), rows) == 10  # new ones
        with engine.connect() as conn:
            stored = conn.execute(
                select(settings.c.name, settings.c.value)
                .where(settings.c.name.startswith(prefix))
                .order_by(settings.c.name)
            ).all()
        assert [tuple(r) for r in stored] == [(r["name"], r["value"]) for r in rows]
    finally:
        with write_transaction(engine) as conn:
            conn.execute(delete(settings).where(settings.c.name.startswith(prefix)))


def test_parts_are_consecutive_and_about_a_statement_s_share() -> None:
    share = dialect._STATEMENT_BYTES
    fifth = b"x" * (share // 5)
    rows = [{"k": i, "data": fifth, "note": None if i % 2 else "n"} for i in range(12)]
    parts = list(dialect._parts(rows, 3, ("data", "note")))
    assert [r for part in parts for r in part] == rows
    assert len(parts) == 3  # 12 rows of a fifth: 2.4 shares
    for part in parts:
        size = sum(3 * dialect._VALUE_BYTES + len(r["data"]) + len(r["note"] or "") for r in part)
        assert size <= share
    assert list(dialect._parts(rows[:4], 3, ("data", "note"))) == [rows[:4]]
    huge = [{"k": 0, "data": b"x" * (3 * share), "note": None}]
    assert list(dialect._parts(huge, 3, ("data", "note"))) == [huge]
