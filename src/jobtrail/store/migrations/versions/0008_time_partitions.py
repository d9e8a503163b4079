"""time partitions: events and log chunks by day on PostgreSQL; log chunks get their time

Revision ID: 0008
Revises: 0007

Log chunks get `ts`, the timestamp of the log event that carried them (chunks stored before
this migration take their run's first event time, falling back to its last). On PostgreSQL both
tables become range-partitioned by `ts` (store/partitions.py): the rows are copied into a new
partitioned table with daily partitions for the last 8 days and the next 2 (older or stranger
rows go to the default partition, where retention still deletes them by row), and the unique
keys gain `ts`. SQLite keeps plain tables.
"""

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jobtrail.store import partitions

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK_TS = "COALESCE(r.first_event_ts, r.last_event_ts, 0)"
_CHUNK_COLS = "org_id, run_id, step_name, stream, seq, size, data, attempt"
_C_CHUNK_COLS = ", ".join(f"c.{column}" for column in _CHUNK_COLS.split(", "))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("log_chunks") as batch:
            batch.add_column(sa.Column("ts", sa.BigInteger(), nullable=False, server_default="0"))
        op.execute(
            "UPDATE log_chunks SET ts = (SELECT COALESCE(r.first_event_ts, r.last_event_ts, 0) "
            "FROM runs r WHERE r.org_id = log_chunks.org_id AND r.run_id = log_chunks.run_id) "
            "WHERE EXISTS (SELECT 1 FROM runs r "
            "WHERE r.org_id = log_chunks.org_id AND r.run_id = log_chunks.run_id)"
        )
        return
    conn = op.get_bind()
    op.execute("ALTER TABLE events RENAME TO events_unpartitioned")
    op.execute("ALTER TABLE log_chunks RENAME TO log_chunks_unpartitioned")
    op.execute(
        "CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (ts)"
    )
    op.execute(
        "CREATE TABLE log_chunks (LIKE log_chunks_unpartitioned INCLUDING DEFAULTS, "
        "ts BIGINT NOT NULL) PARTITION BY RANGE (ts)"
    )
    now = int(time.time() * 1_000_000)
    first = partitions.day_start(now) - 8 * partitions.DAY
    for table in partitions.TABLES:
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        for day in range(first, first + 11 * partitions.DAY, partitions.DAY):
            partitions.create_day(conn, table, day)
    op.execute("INSERT INTO events SELECT * FROM events_unpartitioned")
    op.execute(
        f"INSERT INTO log_chunks ({_CHUNK_COLS}, ts) SELECT {_C_CHUNK_COLS}, {_CHUNK_TS} "
        "FROM log_chunks_unpartitioned c LEFT JOIN runs r "
        "ON r.org_id = c.org_id AND r.run_id = c.run_id"
    )
    op.execute("DROP TABLE events_unpartitioned")
    op.execute("DROP TABLE log_chunks_unpartitioned")
    _keys_and_indexes(with_ts=True)


def _keys_and_indexes(*, with_ts: bool) -> None:
    ts = ", ts" if with_ts else ""
    op.execute(f"ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (org_id, event_id{ts})")
    op.execute(
        "ALTER TABLE log_chunks ADD CONSTRAINT log_chunks_pkey "
        f"PRIMARY KEY (org_id, run_id, step_name, stream, seq{ts})"
    )
    op.create_index("ix_events_window", "events", ["org_id", "ts", "event_id", "run_id"])
    op.create_index("ix_events_run", "events", ["org_id", "run_id", "step_name"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("log_chunks") as batch:
            batch.drop_column("ts")
        return
    op.execute("ALTER TABLE events RENAME TO events_partitioned")
    op.execute("ALTER TABLE log_chunks RENAME TO log_chunks_partitioned")
    op.execute("CREATE TABLE events (LIKE events_partitioned INCLUDING DEFAULTS)")
    op.execute(
        f"CREATE TABLE log_chunks AS SELECT {_CHUNK_COLS} FROM log_chunks_partitioned WITH NO DATA"
    )
    for column in ("org_id", "run_id", "step_name", "stream", "seq", "size", "data"):
        op.execute(f"ALTER TABLE log_chunks ALTER COLUMN {column} SET NOT NULL")
    # A repeat across days (allowed by the partitioned keys only in a race) keeps one row.
    op.execute(
        "INSERT INTO events SELECT DISTINCT ON (org_id, event_id) * FROM events_partitioned "
        "ORDER BY org_id, event_id, ts"
    )
    op.execute(
        f"INSERT INTO log_chunks SELECT DISTINCT ON (org_id, run_id, step_name, stream, seq) "
        f"{_CHUNK_COLS} FROM log_chunks_partitioned "
        "ORDER BY org_id, run_id, step_name, stream, seq, ts"
    )
    op.execute("DROP TABLE events_partitioned")
    op.execute("DROP TABLE log_chunks_partitioned")
    _keys_and_indexes(with_ts=False)
