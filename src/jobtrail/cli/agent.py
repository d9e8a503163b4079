"""`jobtrail agent JOBS_DIR`: run every job spec in a folder on its cron schedule."""

import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from jobtrail.cli.common import DbOption, fail
from jobtrail.cli.reporting import (
    DEFAULT_SPOOL,
    OrgOption,
    ServerOption,
    SpoolOption,
    http_sink,
    sink,
)
from jobtrail.runner.agent import Agent
from jobtrail.runner.catalog import report_in_background
from jobtrail.runner.delivery import SpoolSweeper
from jobtrail.runner.sinks import Sink


def agent(
    jobs_dir: Annotated[Path, typer.Argument(help="Folder of job specs (*.yaml) to schedule.")],
    server: ServerOption = None,
    db: DbOption = None,
    org: OrgOption = None,
    parallel: Annotated[int, typer.Option("--parallel", min=1, help="Steps at once, per run.")] = 4,
    spool: SpoolOption = DEFAULT_SPOOL,
) -> None:
    """Run every job spec in a folder on its cron schedule until stopped (SIGTERM or Ctrl+C)."""
    if not jobs_dir.is_dir():
        raise fail(f"{jobs_dir} is not a folder.", 2)
    checked = sink(server, db, org)  # checks the destination and credentials once, up front
    checked.close()
    args = ["--parallel", str(parallel), "--spool", str(spool)]
    args += ["--server", server] if server else ["--db", db or os.environ["JOBTRAIL_DB"]]
    if org:
        args += ["--org", org]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    scheduler = Agent(jobs_dir, args)
    scheduler.on_definitions = lambda found: _report(lambda: sink(server, db, org), found)
    if server:
        scheduler.after_tick = SpoolSweeper(spool, lambda: http_sink(server, org))
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: scheduler.stop())
    scheduler.run_forever()


def _report(make_sink: Callable[[], Sink], definitions: list[dict[str, Any]]) -> None:
    report_in_background(make_sink, definitions)
