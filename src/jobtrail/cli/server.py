"""`jobtrail serve`, `migrate` and `prune`: operate a server and its store."""

import ctypes
import multiprocessing
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
    _fewer_malloc_arenas()
    _migrate_apart(settings.db)
    made = _multiprocess_metrics() if workers > 1 else None
    try:
        _run(host, port, workers)
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


def _fewer_malloc_arenas() -> None:
    """Two malloc arenas, as MALLOC_ARENA_MAX=2 would give (an operator's own setting wins).
    glibc gives each thread that allocates an arena of its own, up to eight per core, and memory
    freed in one arena serves no other: requests hop across a pool of threads, so each arena
    keeps its own high-water mark and the process tens of MB it no longer uses."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    os.environ["MALLOC_ARENA_MAX"] = "2"  # read by worker processes (--workers) as they start
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to do
        return
    libc.mallopt(-8, 2)  # M_ARENA_MAX, for this process, whose malloc has already started


def _migrate_apart(db_url: str) -> None:
    """Apply the migrations in a child process (a fork, so it starts at once): Alembic and Mako,
    about 10 MB, then never enter the serving process's memory. A failure exits 1 with the
    child's traceback, as it did when it ran here."""
    if not hasattr(os, "fork"):
        _upgrade(db_url)
        return
    child = multiprocessing.get_context("fork").Process(
        target=_upgrade, args=(db_url,), name="jobtrail-migrate"
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise typer.Exit(1)


def _upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


# Idle connections are kept longer than clients keep theirs (httpx: 5 s) and than load balancers
# do (commonly 60 s), so the server never closes one at the moment a client reuses it: with
# uvicorn's 5 s, equal to httpx's, one request in ~12,000 of the load benchmark's mixed traffic
# met a connection reset.
KEEP_ALIVE_SECONDS = 75


def _run(host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "jobtrail.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
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
