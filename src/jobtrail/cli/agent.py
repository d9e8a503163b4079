"""`jobtrail agent JOBS_DIR`: run every job spec in a folder on its cron schedule."""

import logging
import os
import signal
import threading
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

log = logging.getLogger("jobtrail.agent")


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
        scheduler.after_tick = _SpoolSweeper(server, org, spool)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: scheduler.stop())
    scheduler.run_forever()


class _SpoolSweeper:
    """After each tick, deliver the spools of runs that have ended (left by an outage), in a
    thread of its own so an unreachable server never holds up the schedule."""

    def __init__(self, server: str, org: str | None, folder: Path) -> None:
        self._server, self._org, self._folder = server, org, folder
        self._thread: threading.Thread | None = None

    def __call__(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        if not spools_in(self._folder):
            return
        self._thread = threading.Thread(target=self._sweep, name="jobtrail-spools", daemon=True)
        self._thread.start()

    def _sweep(self) -> None:
        destination = http_sink(self._server, self._org)
        try:
            for spool_file in spools_in(self._folder):
                sent = flush_spool(spool_file, destination)  # None: a live run delivers it
                if sent:
                    log.info("delivered %d spooled events from %s", sent, spool_file.path.name)
        except RetryLater:
            pass  # still unreachable: a later tick tries again
        finally:
            destination.close()
