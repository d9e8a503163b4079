"""`jobtrail`: the command group. A command's module is imported only when that command runs (or
when help lists it), so `jobtrail run`, which a scheduler starts for every run, does not pay for
the server, the store or the demo (about 0.8 s of imports)."""

import importlib
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperGroup

# name → "module:attribute": a function becomes a command, a Typer app a group of commands.
COMMANDS = {
    "serve": "jobtrail.cli.server:serve",
    "migrate": "jobtrail.cli.server:migrate_store",
    "prune": "jobtrail.cli.server:prune",
    "demo": "jobtrail.cli.demo:demo",
    "org": "jobtrail.cli.accounts:org_app",
    "key": "jobtrail.cli.accounts:key_app",
    "run": "jobtrail.cli.run:run",
    "flush": "jobtrail.cli.run:flush",
    "agent": "jobtrail.cli.agent:agent",
    "worker": "jobtrail.cli.worker:worker",
    "alerts": "jobtrail.cli.alerts:alerts_app",
    "runs": "jobtrail.cli.runs:runs_app",
    "logs": "jobtrail.cli.runs:logs",
    "login": "jobtrail.cli.login:login",
}


class LazyGroup(TyperGroup):
    """Click's documented pattern for lazily loaded subcommands, on Typer's group. (`ctx` is
    the Context of Typer's vendored click, which Typer does not export: typed Any.)"""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        obj: typer.Typer | Callable[..., Any] = getattr(importlib.import_module(module), attribute)
        if not isinstance(obj, typer.Typer):
            single = typer.Typer()
            single.command(cmd_name)(obj)
            obj = single
        command = typer.main.get_command(obj)
        command.name = cmd_name
        return command


cli = LazyGroup(
    name="jobtrail",
    help="jobtrail: monitor warehouse jobs (runs, steps, logs) through the Jobs API.",
    no_args_is_help=True,
)


def main() -> None:
    cli(prog_name="jobtrail")
