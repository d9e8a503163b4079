"""What every command shares: the store option, JSON output, clean errors. Light on purpose:
`jobtrail run` imports this, so nothing here may pull in the store or Rich."""

from typing import Annotated, Any

import orjson
import typer

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="JOBTRAIL_DB", help="Store URL: sqlite:///path or postgresql://..."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]


def error(message: str) -> None:
    """One line on stderr, prefixed by a red `error:`."""
    typer.echo(typer.style("error:", fg="red") + " " + message, err=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    error(message)
    return typer.Exit(code)


def print_json(obj: Any) -> None:
    typer.echo(orjson.dumps(obj).decode())
