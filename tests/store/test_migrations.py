"""The Alembic migrations build exactly the tables `store/schema.py` describes, on both backends,
so a change to one without the other fails here."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from jobtrail.store import migrate
from jobtrail.store.schema import metadata


def test_migrations_produce_the_schema_module(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_a_migrated_store_is_current(engine: Engine) -> None:
    assert migrate.is_current(engine)
