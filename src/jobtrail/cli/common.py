"""What every command shares: the store option, JSON output, clean errors."""

import os
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import Engine

from jobtrail.settings import Settings
from jobtrail.store import migrate
from jobtrail.store.dialect import make_engine

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="JOBTRAIL_DB", help="Store URL: sqlite:///path or postgresql://..."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]


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
            err_console.print(f"[red]error:[/] JOBTRAIL_{field.upper()}: {err['msg']}")
        raise typer.Exit(2) from None


def open_store(db: str | None) -> Engine:
    """An engine on a migrated store."""
    engine = make_engine(load_settings(db).db)
    migrate.upgrade(engine)
    return engine


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/] {message}")
    return typer.Exit(code)


def print_json(obj: Any) -> None:
    typer.echo(orjson.dumps(obj).decode())
