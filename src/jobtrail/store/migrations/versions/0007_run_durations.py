"""run start and duration as generated columns, indexed for insights; log chunks' attempt

Revision ID: 0007
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JOB = ["org_id", "job_id", "environment", "job_name"]
RUN_START = "COALESCE(first_running_ts, first_event_ts)"
RUN_DURATION = (
    f"CASE WHEN state IN ('SUCCEEDED', 'FAILED', 'CANCELLED') THEN state_ts - {RUN_START} END"
)


def upgrade() -> None:
    # Generated columns fill themselves for the stored rows: PostgreSQL computes and stores them
    # as it rewrites the table (it has no other kind before version 18), SQLite computes them on
    # read (a VIRTUAL column is the only kind ALTER TABLE can add there) and keeps them in the
    # indexes built below, which is where insights read them.
    stored = op.get_bind().dialect.name == "postgresql"
    for name, expression in (("start_ts", RUN_START), ("duration", RUN_DURATION)):
        computed = sa.Computed(expression, persisted=stored)
        op.add_column("runs", sa.Column(name, sa.BigInteger(), computed))
    op.drop_index("ix_runs_job", table_name="runs")
    op.create_index("ix_runs_job", "runs", [*_JOB, "start_ts", "run_id", "state", "duration"])
    op.create_index(
        "ix_runs_durations", "runs", [*_JOB, "duration", "start_ts", "state", "state_ts"]
    )
    # Chunks stored before this have none: their steps show one stream, as before.
    op.add_column("log_chunks", sa.Column("attempt", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_chunks") as batch:
        batch.drop_column("attempt")
    op.drop_index("ix_runs_durations", table_name="runs")
    op.drop_index("ix_runs_job", table_name="runs")
    op.create_index("ix_runs_job", "runs", ["org_id", "job_id", "last_event_ts"])
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("duration")
        batch.drop_column("start_ts")
