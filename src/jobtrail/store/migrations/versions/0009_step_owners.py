"""step owners: a step's own owners (a dbt node's meta.owner), alerted when it fails

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Steps stored before have no owners and the key "no event yet", which any event beats.
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("owners", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("owners_ts", sa.BigInteger(), nullable=False, server_default="-1")
        )
        batch.add_column(
            sa.Column("owners_rank", sa.SmallInteger(), nullable=False, server_default="-1")
        )
        event_id = sa.String(length=200).with_variant(
            sa.String(length=200, collation="C"), "postgresql"
        )
        batch.add_column(sa.Column("owners_eid", event_id, nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        for name in ("owners_eid", "owners_rank", "owners_ts", "owners"):
            batch.drop_column(name)
