"""The Alembic migrations build exactly the tables `store/schema.py` describes, on both backends,
so a change to one without the other fails here."""

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from jobtrail.store import migrate
from jobtrail.store.dialect import make_engine
from jobtrail.store.partitions import include_name
from jobtrail.store.schema import metadata


def test_migrations_produce_the_schema_module(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include_name}
        )
        assert compare_metadata(context, metadata) == []


def test_a_migrated_store_is_current(engine: Engine) -> None:
    assert migrate.is_current(engine)


def test_0002_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    migrate.upgrade(engine)
    config = migrate.alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
        assert "fingerprint" not in {c["name"] for c in inspect(conn).get_columns("events")}
        command.upgrade(config, "head")
        conn.commit()
    assert migrate.is_current(engine)
    engine.dispose()
