"""`jobtrail runs list|show|watch` and `jobtrail logs`: the Jobs API in a terminal, over the
client (so windows longer than 96 hours just work)."""

import csv
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.tree import Tree

from jobtrail.cli.client_access import KeyIdOpt, KeyOpt, OrgOpt, ProfileOpt, ServerOpt, connect
from jobtrail.cli.common import JsonOption, fail, print_json
from jobtrail.client import ApiError
from jobtrail.client.sync import JobsClient
from jobtrail.domain.dag import layers
from jobtrail.domain.durations import parse_duration
from jobtrail.wire.shapes import RunSummary, StepSummary

runs_app = typer.Typer(help="Job runs: list, show, watch.", no_args_is_help=True)
console = Console()
COLOURS = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "RUNNING": "cyan",
    "PENDING": "yellow",
    "CANCELLED": "magenta",
    "SKIPPED": "dim",
}
TAIL_LINES = 20


def _state(state: str) -> str:
    return f"[{COLOURS.get(state, 'white')}]{state}[/]"


def _failed_step(client: JobsClient, run: RunSummary) -> str:
    if run["state"] != "FAILED":
        return ""
    failed = [s["name"] for s in client.get_steps(run["runId"]) if s["state"] == "FAILED"]
    return ", ".join(failed)


def _table(client: JobsClient, runs: list[RunSummary], title: str | None = None) -> Table:
    table = Table(title=title)
    for column in ("run id", "job", "environment", "state", "start", "duration", "failed step"):
        table.add_column(column, no_wrap=column == "run id")
    for run in runs:
        table.add_row(
            run["runId"], run["jobName"], run["environment"], _state(run["state"]),
            run["startTime"] or "", run["duration"] or "", _failed_step(client, run),
        )  # fmt: skip
    return table


def _window(from_: str, to: str, since: str | None) -> tuple[str | datetime, str | datetime]:
    if since is None:
        return from_, to
    try:
        span = parse_duration(since)
    except ValueError as exc:
        raise fail(f"--since {since!r}: {exc}", 2) from None
    now = datetime.now(UTC)
    return now - span, now


def _api_errors(exc: ApiError) -> typer.Exit:
    return fail(exc.message if exc.status else str(exc.message), 1)


@runs_app.command("list")
def list_runs(
    from_: Annotated[str, typer.Option("--from", help="Start: PT-24H or a timestamp.")] = "PT-24H",
    to: Annotated[str, typer.Option("--to", help="End: PT0S or a timestamp.")] = "PT0S",
    since: Annotated[str | None, typer.Option("--since", help="Instead: the last 3d, 12h.")] = None,
    job: Annotated[str | None, typer.Option("--job")] = None,
    environment: Annotated[str | None, typer.Option("--environment")] = None,
    state: Annotated[str | None, typer.Option("--state")] = None,
    as_json: JsonOption = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV for spreadsheets.")] = False,
    server: ServerOpt = None,
    org: OrgOpt = None,
    api_key_id: KeyIdOpt = None,
    api_key: KeyOpt = None,
    profile: ProfileOpt = "default",
) -> None:
    """Runs in a window (any length within the last week), newest first."""
    start, end = _window(from_, to, since)
    with connect(server, org, api_key_id, api_key, profile) as client:
        try:
            runs = client.list_runs(start, end, job=job, environment=environment, state=state)
            if as_json:
                print_json(runs)
            elif as_csv:
                out = csv.DictWriter(sys.stdout, fieldnames=list(RunSummary.__annotations__))
                out.writeheader()
                out.writerows(runs)
            else:
                console.print(_table(client, runs))
        except ApiError as exc:
            raise _api_errors(exc) from None


def _tree(run_id: str, steps: list[StepSummary]) -> Tree:
    by_name = {s["name"]: s for s in steps}
    tree = Tree(f"run {run_id}")
    for layer in layers({s["name"]: s["dependencies"] for s in steps}):
        for name in layer:
            step = by_name.get(name)
            if step is None:
                continue
            after = f"  after {', '.join(step['dependencies'])}" if step["dependencies"] else ""
            tree.add(f"{name}  {_state(step['state'])}  {step['duration'] or ''}{after}")
    return tree


@runs_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="The run id.")],
    as_json: JsonOption = False,
    server: ServerOpt = None,
    org: OrgOpt = None,
    api_key_id: KeyIdOpt = None,
    api_key: KeyOpt = None,
    profile: ProfileOpt = "default",
) -> None:
    """One run: its steps as a tree in DAG order, and the failed step's stderr tail."""
    with connect(server, org, api_key_id, api_key, profile) as client:
        try:
            run = client.get_run(run_id)
            if as_json:
                print_json(run)
                return
            console.print(
                f"{run['jobName']} ({run['environment']})  {_state(run['state'])}  "
                f"started {run['startTime'] or '-'}  took {run['duration'] or '-'}"
            )
            console.print(_tree(run_id, run["steps"]))
            for step in run["steps"]:
                if step["state"] == "FAILED":
                    stderr = list(client.logs(run_id, step["name"], "stderr", tail=TAIL_LINES))
                    console.print(f"\n[red]{step['name']}[/] stderr (last {TAIL_LINES} lines):")
                    console.print("\n".join(stderr), markup=False, highlight=False)
        except ApiError as exc:
            raise _api_errors(exc) from None


@runs_app.command("watch")
def watch(
    since: Annotated[str, typer.Option("--since", help="Recent runs of the last 6h, 1d.")] = "6h",
    interval: Annotated[float, typer.Option("--interval", help="Seconds between updates.")] = 5.0,
    count: Annotated[int, typer.Option("--count", help="Stop after N updates (0: never).")] = 0,
    server: ServerOpt = None,
    org: OrgOpt = None,
    api_key_id: KeyIdOpt = None,
    api_key: KeyOpt = None,
    profile: ProfileOpt = "default",
) -> None:
    """A live table of running and recent runs (Ctrl+C to stop)."""
    span = parse_duration(since)
    with (
        connect(server, org, api_key_id, api_key, profile) as client,
        Live(console=console) as live,
    ):
        done = 0
        try:
            while count == 0 or done < count:
                runs = client.list_runs(-span, timedelta(0))
                running = [r for r in runs if r["state"] in ("RUNNING", "PENDING")]
                rest = [r for r in runs if r not in running]
                live.update(_table(client, running + rest, f"{len(running)} running"))
                done += 1
                if count == 0 or done < count:
                    time.sleep(interval)
        except KeyboardInterrupt:
            pass
        except ApiError as exc:
            raise _api_errors(exc) from None


def logs(
    run_id: Annotated[str, typer.Argument(help="The run id.")],
    step: Annotated[str, typer.Argument(help="The step name.")],
    stderr: Annotated[bool, typer.Option("--stderr", help="stderr instead of stdout.")] = False,
    tail: Annotated[int | None, typer.Option("--tail", help="Only the last N lines.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Until the step ends.")] = False,
    server: ServerOpt = None,
    org: OrgOpt = None,
    api_key_id: KeyIdOpt = None,
    api_key: KeyOpt = None,
    profile: ProfileOpt = "default",
) -> None:
    """A step's stdout (or stderr), whole, its tail, or followed live."""
    range_ = {"tail": tail} if tail is not None else {}
    stream = "stderr" if stderr else "stdout"
    with connect(server, org, api_key_id, api_key, profile) as client:
        try:
            for line in client.logs(run_id, step, stream, follow=follow, **range_):
                typer.echo(line)
        except ApiError as exc:
            raise _api_errors(exc) from None
        except KeyboardInterrupt:
            pass
