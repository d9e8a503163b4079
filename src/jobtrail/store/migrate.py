"""Apply the Alembic migrations that ship inside the package."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from jobtrail.store.dialect import migration_lock

_SCRIPTS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema; safe when several servers start together."""
    config = alembic_config()
    with engine.connect() as conn:
        with migration_lock(conn):
            conn.commit()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        conn.commit()


def is_current(engine: Engine) -> bool:
    """Whether the database has exactly the newest schema (read-only: a command that only reads
    checks this instead of migrating, so it never takes the migration lock or changes a store)."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads
