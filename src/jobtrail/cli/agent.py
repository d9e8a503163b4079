"""`jobtrail agent JOBS_DIR`: run every job spec in a folder on its cron schedule."""

import logging
import os
import signal
import time
from pathlib import Path
from typing import Annotated

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
from jobtrail.runner.delivery import flush_spool
from jobtrail.runner.sinks import RetryLater
from jobtrail.runner.spool import spools_in


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
    if server:
        scheduler.after_tick = lambda: _flush_stale(server, org, spool)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: scheduler.stop())
    scheduler.run_forever()


def _flush_stale(server: str, org: str | None, spool: Path, quiet_for: float = 60.0) -> None:
    """Deliver spools no run is writing any more (left by runs that ended during an outage)."""
    stale = [s for s in spools_in(spool) if time.time() - s.path.stat().st_mtime > quiet_for]
    if not stale:
        return
    destination = http_sink(server, org)
    try:
        for spool_file in stale:
            flush_spool(spool_file, destination)
    except RetryLater:
        pass  # still unreachable: the next tick tries again
    finally:
        destination.close()
