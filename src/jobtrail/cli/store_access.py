"""Commands that open a store: settings from the environment with command-line values on top,
and an engine on a migrated store."""

import os
from typing import Any

import typer
from pydantic import ValidationError
from sqlalchemy import Engine

from jobtrail.cli.common import error, fail
from jobtrail.settings import Settings
from jobtrail.store import migrate
from jobtrail.store.dialect import make_engine
from jobtrail.worker.config import ConfigError, load_config


def load_settings(db: str | None, **overrides: Any) -> Settings:
    """Settings from the environment, with command-line values on top; exits 2 on bad values."""
    if db:
        os.environ["JOBTRAIL_DB"] = db
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"JOBTRAIL_{name.upper()}"] = str(value)
    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(map(str, err["loc"]))
            error(f"JOBTRAIL_{field.upper()}: {err['msg']}")
        raise typer.Exit(2) from None


def open_store(db: str | None) -> Engine:
    """An engine on a migrated store."""
    engine = make_engine(load_settings(db).db)
    migrate.upgrade(engine)
    return engine


def open_store_to_read(db: str | None) -> Engine:
    """An engine on a store that must already be migrated: commands that only read never run
    migrations (they may run beside servers, or with a role that may not change the schema)."""
    settings = load_settings(db)
    engine = make_engine(settings.db)
    if not migrate.is_current(engine):
        raise fail("the store's schema is not the current one; run `jobtrail migrate` first.", 2)
    return engine


def check_alerts_config(settings: Settings) -> None:
    """Refuse a bad alerts configuration file before starting (exit 2 naming the setting)."""
    try:
        load_config(settings.alerts_config)
    except ConfigError as exc:
        error(str(exc))
        raise typer.Exit(2) from None
