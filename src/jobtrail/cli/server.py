"""`jobtrail serve`, `migrate` and `prune`: operate a server and its store."""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from jobtrail.cli.common import DbOption, JsonOption, print_json
from jobtrail.cli.store_access import check_alerts_config, load_settings, open_store
from jobtrail.store import accounts, migrate, retention
from jobtrail.store.dialect import make_engine

HostOption = Annotated[str, typer.Option("--host", help="Address to listen on.")]
PortOption = Annotated[int, typer.Option("--port", help="Port to listen on.")]
RetentionOption = Annotated[
    str | None, typer.Option("--retention", help="Keep runs this long (ISO 8601, P7D).")
]


def serve(
    db: DbOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes.")] = 1,
    retention_: RetentionOption = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Leave background work to `jobtrail worker`.")
    ] = False,
) -> None:
    """Apply migrations and serve the Jobs API (docs at /api/msc/v1/docs)."""
    settings = load_settings(db, retention=retention_, worker=False if no_worker else None)
    check_alerts_config(settings)
    migrate.upgrade(make_engine(settings.db))
    made = _multiprocess_metrics() if workers > 1 else None
    try:
        _run(host, port, workers)
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


def _run(host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "jobtrail.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def _multiprocess_metrics() -> str | None:
    """Several workers share their metrics through files in PROMETHEUS_MULTIPROC_DIR: a fresh
    folder of our own (returned, removed at exit) unless the operator chose one (then emptied)."""
    chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not chosen:
        made = tempfile.mkdtemp(prefix="jobtrail-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
        return made
    folder = Path(chosen)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    return None


def migrate_store(db: DbOption = None) -> None:
    """Bring the store's schema up to date."""
    open_store(db)
    typer.echo("store is up to date")


def prune(
    db: DbOption = None, retention_: RetentionOption = None, as_json: JsonOption = False
) -> None:
    """Delete runs whose last event is older than the retention, with their steps and logs."""
    settings = load_settings(db, retention=retention_)
    engine = open_store(db)
    kept = settings.time_bounds(accounts.now_micros())
    pruned = retention.prune(engine, kept.earliest, kept.latest)
    if as_json:
        print_json({"pruned": pruned})
    else:
        typer.echo(f"pruned {pruned} runs")
