"""`jobtrail alerts list|test|silence`: see alerts, try a channel, quiet a job for a while.
They work on the store and the server's alerts configuration, where channels (secrets) live."""

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from jobtrail.cli.common import DbOption, JsonOption, error, fail, print_json
from jobtrail.cli.store_access import load_settings, open_store
from jobtrail.domain.durations import parse_duration
from jobtrail.domain.timefmt import format_ts
from jobtrail.store import alerts
from jobtrail.store.accounts import now_micros
from jobtrail.worker.channels import SendFailed, send
from jobtrail.worker.config import ConfigError, load_config

alerts_app = typer.Typer(
    help="Alerts: list them, test a channel, silence a job.", no_args_is_help=True
)
OrgArg = Annotated[str, typer.Option("--org", envvar="JOBTRAIL_ORG", help="Organization id.")]
EnvOption = Annotated[str, typer.Option("--env", help="The job's environment.")]


@alerts_app.command("list")
def alerts_list(
    org: OrgArg, db: DbOption = None, show_all: Annotated[bool, typer.Option("--all")] = False,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Open alerts (or all recent ones) of an organization, newest first."""
    rows = alerts.list_alerts(open_store(db), org, only_open=not show_all)
    if as_json:
        print_json([{k: v for k, v in r.items() if k != "message"} for r in rows])
        return
    table = Table("raised", "job", "environment", "condition", "state", "deliveries")
    for r in rows:
        sent = ", ".join(f"{d['channel']}: {d['status']}" for d in r["deliveries"]) or "-"
        table.add_row(
            format_ts(r["raised_at"]), r["job_name"], r["environment"], r["condition"],
            r["state"], sent,
        )  # fmt: skip
    Console().print(table)


@alerts_app.command("test")
def alerts_test(
    channel: Annotated[str, typer.Argument(help="A configured channel's name.")],
) -> None:
    """Send a test alert through one channel of JOBTRAIL_ALERTS_CONFIG, now."""
    settings = load_settings(None)
    try:
        config = load_config(settings.alerts_config)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    if channel not in config.channels:
        raise fail(f"no channel named {channel!r} in {settings.alerts_config or 'no config'}.", 2)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    due = alerts.Due(
        "test", f"test-{stamp}", channel, 1, "*jobtrail test alert*\nIf you read this, the "
        "channel works.", "test", "jobtrail-test", "-", None, (),
    )  # fmt: skip
    try:
        send(config.channels[channel], due)
    except SendFailed as exc:
        error(f"{channel}: {exc}")
        raise typer.Exit(1) from None
    typer.echo(f"{channel}: sent")


@alerts_app.command("silence")
def alerts_silence(
    job: Annotated[str, typer.Argument(help="The job's name.")],
    org: OrgArg,
    env: EnvOption = "default",
    for_: Annotated[str, typer.Option("--for", help="How long, e.g. 2h or 30m.")] = "1h",
    db: DbOption = None,
) -> None:
    """Send no alert of a job to any channel for a while (they are still recorded)."""
    try:
        length = parse_duration(for_)
    except ValueError as exc:
        raise fail(f"--for: {exc}", 2) from None
    until = now_micros() + int(length.total_seconds() * 1_000_000)
    alerts.silence(open_store(db), org, job, env, until)
    typer.echo(f"{job} ({env}) silenced until {format_ts(until)}")
