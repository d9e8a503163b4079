"""insights: runs of one job by time

Revision ID: 0006
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_runs_job", "runs", ["org_id", "job_id", "last_event_ts"])


def downgrade() -> None:
    op.drop_index("ix_runs_job", table_name="runs")
