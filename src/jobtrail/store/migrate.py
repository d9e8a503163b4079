"""Apply the Alembic migrations that ship inside the package. Alembic is imported only when
called: a server migrates in a child process, so Alembic (and Mako) never take its memory."""

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

if TYPE_CHECKING:
    from alembic.config import Config

from jobtrail.store.dialect import migration_lock

_SCRIPTS = Path(__file__).parent / "migrations"


def alembic_config() -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema; safe when several servers start together."""
    from alembic import command

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
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads
