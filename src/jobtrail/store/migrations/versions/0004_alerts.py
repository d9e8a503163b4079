"""jobs catalog and alerts

Revision ID: 0004
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_definitions",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("job_name", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=200), nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=False),
        sa.Column("schedule", sa.String(length=200), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("owners", sa.Text(), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("alerts", sa.Text(), nullable=False),
        sa.Column("scheduled", sa.Boolean(), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "job_name", "environment"),
    )
    op.create_index(
        "ix_job_definitions_scheduled", "job_definitions", ["scheduled", "org_id"], unique=False
    )
    op.create_table(
        "worker_leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("until", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "alerts",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("alert_key", sa.String(length=64), nullable=False),
        sa.Column("job_name", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=200), nullable=False),
        sa.Column("condition", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=16), nullable=True),
        sa.Column("step_name", sa.String(length=200), nullable=True),
        sa.Column("scheduled_at", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("raised_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "alert_key"),
    )
    op.create_index(
        "ix_alerts_job", "alerts", ["org_id", "job_name", "environment", "state"], unique=False
    )
    op.create_index("ix_alerts_raised", "alerts", ["org_id", "raised_at"], unique=False)
    op.create_table(
        "alert_deliveries",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("alert_key", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("claimed_until", sa.BigInteger(), nullable=False),
        sa.Column("last_attempt_at", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "alert_key", "channel"),
    )
    op.create_index(
        "ix_alert_deliveries_due",
        "alert_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "alert_silences",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("job_name", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=200), nullable=False),
        sa.Column("until", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "job_name", "environment"),
    )


def downgrade() -> None:
    op.drop_table("alert_silences")
    op.drop_table("alert_deliveries")
    op.drop_table("alerts")
    op.drop_table("worker_leases")
    op.drop_index("ix_job_definitions_scheduled", table_name="job_definitions")
    op.drop_table("job_definitions")
