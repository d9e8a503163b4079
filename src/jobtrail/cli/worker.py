"""`jobtrail worker`: the background work (retention, alerts) as a process of its own, for
deployments that run `jobtrail serve --no-worker`."""

import logging
import signal
from datetime import datetime
from typing import Annotated

import typer

from jobtrail.cli.common import DbOption, fail
from jobtrail.cli.store_access import check_alerts_config, load_settings, open_store
from jobtrail.domain.timefmt import to_micros
from jobtrail.store.accounts import now_micros
from jobtrail.worker.loop import Worker, default_tasks


def _fixed_clock(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"--now {text!r} is not a timestamp such as 2026-11-29T10:00:00Z.", 2) from None
    if moment.tzinfo is None:
        raise fail("--now needs a UTC offset or Z.", 2)
    return to_micros(moment)


def worker(
    db: DbOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run every task once, then exit.")] = False,
    now: Annotated[
        str | None, typer.Option("--now", help="With --once: act as if it were this time (tests).")
    ] = None,
) -> None:
    """Run the background work (retention, alert evaluation and delivery) until SIGTERM."""
    if now is not None and not once:
        raise fail("--now goes with --once.", 2)
    settings = load_settings(db)
    check_alerts_config(settings)
    fixed = _fixed_clock(now) if now is not None else None
    clock = (lambda: fixed) if fixed is not None else now_micros
    engine = open_store(db)
    background = Worker(engine, default_tasks(settings), clock, settings.worker_poll)
    if once:
        for name, count in background.run_once(force=True).items():
            typer.echo(f"{name}: {count}")
        background.settle()
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: background.stop())
    background.run_forever()
