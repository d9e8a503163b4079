"""initial schema

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "api_keys",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("version", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "key_id"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index("ix_api_keys_key_id", ["key_id"], unique=True)
        batch_op.create_index("ix_api_keys_org_hash", ["org_id", "secret_hash"], unique=False)

    op.create_table(
        "events",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column(
            "event_id",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("run_id", sa.String(length=16), nullable=False),
        sa.Column("step_name", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("state_rank", sa.SmallInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "event_id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_run", ["org_id", "run_id", "step_name"], unique=False)
        batch_op.create_index(
            "ix_events_window", ["org_id", "ts", "event_id", "run_id"], unique=False
        )

    op.create_table(
        "log_chunks",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=16), nullable=False),
        sa.Column("step_name", sa.String(length=200), nullable=False),
        sa.Column("stream", sa.String(length=6), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "run_id", "step_name", "stream", "seq"),
    )
    op.create_table(
        "log_streams",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=16), nullable=False),
        sa.Column("step_name", sa.String(length=200), nullable=False),
        sa.Column("stream", sa.String(length=6), nullable=False),
        sa.Column("kept_bytes", sa.BigInteger(), nullable=False),
        sa.Column("dropped_bytes", sa.BigInteger(), nullable=False),
        sa.Column("dropped_lo", sa.BigInteger(), nullable=True),
        sa.Column("dropped_hi", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "run_id", "step_name", "stream"),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "runs",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=False),
        sa.Column("job_name", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=200), nullable=False),
        sa.Column("run_key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_ts", sa.BigInteger(), nullable=False),
        sa.Column("state_rank", sa.SmallInteger(), nullable=False),
        sa.Column(
            "state_eid",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("first_event_ts", sa.BigInteger(), nullable=True),
        sa.Column("first_running_ts", sa.BigInteger(), nullable=True),
        sa.Column("last_ts", sa.BigInteger(), nullable=False),
        sa.Column("last_rank", sa.SmallInteger(), nullable=False),
        sa.Column(
            "last_eid",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("last_event_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "run_id"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_retention", ["org_id", "last_event_ts"], unique=False)

    op.create_table(
        "settings",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "steps",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_ts", sa.BigInteger(), nullable=False),
        sa.Column("state_rank", sa.SmallInteger(), nullable=False),
        sa.Column(
            "state_eid",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("dependencies", sa.Text(), nullable=False),
        sa.Column("deps_ts", sa.BigInteger(), nullable=False),
        sa.Column("deps_rank", sa.SmallInteger(), nullable=False),
        sa.Column(
            "deps_eid",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("first_event_ts", sa.BigInteger(), nullable=True),
        sa.Column("first_running_ts", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "run_id", "name"),
    )


def downgrade() -> None:

    op.drop_table("steps")
    op.drop_table("settings")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_retention")

    op.drop_table("runs")
    op.drop_table("organizations")
    op.drop_table("log_streams")
    op.drop_table("log_chunks")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_window")
        batch_op.drop_index("ix_events_run")

    op.drop_table("events")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_org_hash")
        batch_op.drop_index("ix_api_keys_key_id")

    op.drop_table("api_keys")
