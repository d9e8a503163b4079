"""Where `run`, `flush` and `agent` report to: the options they share and the sink they name."""

import os
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from jobtrail.cli.common import fail
from jobtrail.runner.sinks import HttpSink, Sink

ServerOption = Annotated[
    str | None,
    typer.Option("--server", envvar="JOBTRAIL_SERVER", help="jobtrail server URL to report to."),
]
OrgOption = Annotated[
    str | None, typer.Option("--org", envvar="JOBTRAIL_ORG", help="Organization id.")
]
SpoolOption = Annotated[
    Path,
    typer.Option("--spool", envvar="JOBTRAIL_SPOOL", help="Folder for undelivered events."),
]
DEFAULT_SPOOL = Path.home() / ".jobtrail" / "spool"


def http_sink(server: str, org: str | None) -> HttpSink:
    url = urlsplit(server)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise fail(f"--server {server!r} is not a URL such as http://127.0.0.1:8000.", 2)
    key = os.environ.get("JOBTRAIL_API_KEY")
    if not org or not key:
        raise fail("reporting to a server needs JOBTRAIL_ORG (or --org) and JOBTRAIL_API_KEY.", 2)
    return HttpSink(server, org, os.environ.get("JOBTRAIL_API_KEY_ID") or None, key)


def sink(server: str | None, db: str | None, org: str | None) -> Sink:
    if server:
        return http_sink(server, org)
    if db or os.environ.get("JOBTRAIL_DB"):
        if not org:
            raise fail("reporting into a store (--db) needs --org or JOBTRAIL_ORG.", 2)
        # Imported here, not above: the store stack (SQLAlchemy, Alembic, settings) is most of a
        # runner's start-up time, and only `--db` needs it.
        from jobtrail.cli.store_access import load_settings, open_store
        from jobtrail.runner.store_sink import StoreSink

        settings = load_settings(db)
        return StoreSink(open_store(db), org, settings.log_stream_cap)
    raise fail("say where to report: --server URL or --db URL.", 2)


def companion(destination: Sink, server: str | None, db: str | None, org: str | None) -> Sink:
    """A second sink for another thread of the same run (the definition report): over HTTP it
    shares the run's token, so a run mints one token, not one per thread."""
    if isinstance(destination, HttpSink):
        return destination.sibling()
    return sink(server, db, org)
