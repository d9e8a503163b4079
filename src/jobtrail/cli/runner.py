"""`jobtrail run JOB.yaml` and `jobtrail flush`: run a job's DAG and report it; deliver spools."""

import asyncio
import logging
import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from jobtrail.cli.common import DbOption, err_console, fail, load_settings, open_store
from jobtrail.runner.agent import Agent
from jobtrail.runner.delivery import Delivery, flush_spool
from jobtrail.runner.events import EventFactory
from jobtrail.runner.executor import RunExecutor, RunOptions, new_run_key
from jobtrail.runner.sinks import HttpSink, RetryLater, Sink, StoreSink
from jobtrail.runner.spec import JobSpec, SpecError, load_spec
from jobtrail.runner.spool import Spool, spools_in

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


def _http_sink(server: str, org: str | None) -> HttpSink:
    key = os.environ.get("JOBTRAIL_API_KEY")
    if not org or not key:
        raise fail("reporting to a server needs JOBTRAIL_ORG (or --org) and JOBTRAIL_API_KEY.", 2)
    return HttpSink(server, org, os.environ.get("JOBTRAIL_API_KEY_ID") or None, key)


def _sink(server: str | None, db: str | None, org: str | None) -> Sink:
    if server:
        return _http_sink(server, org)
    if db or os.environ.get("JOBTRAIL_DB"):
        if not org:
            raise fail("reporting into a store (--db) needs --org or JOBTRAIL_ORG.", 2)
        settings = load_settings(db)
        return StoreSink(open_store(db), org, settings.log_stream_cap)
    raise fail("say where to report: --server URL or --db URL.", 2)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80]


def _printer(emit: Any) -> Any:
    """Report each event, and tell the person at the terminal about state changes."""

    def emit_and_print(event: dict[str, Any]) -> None:
        emit(event)
        if event["kind"] == "step" and event["state"] not in ("PENDING",):
            extra = f" ({event['message']})" if event.get("message") else ""
            err_console.print(
                f"  {event['step']['name']}: {event['state']}{extra}", highlight=False
            )
        elif event["kind"] == "run":
            err_console.print(f"run {event['runKey']}: {event['state']}", highlight=False)

    return emit_and_print


def _recording(emit: Any, path: Path) -> Any:
    """Also append each event to a file (for diagnosing delivery, and for tests)."""
    out = path.open("ab")

    def emit_and_record(event: dict[str, Any]) -> None:
        out.write(orjson.dumps(event) + b"\n")
        out.flush()
        emit(event)

    return emit_and_record


def _execute(spec: JobSpec, factory: EventFactory, emit: Any, options: RunOptions) -> str:
    async def main() -> str:
        executor = RunExecutor(spec, factory, _printer(emit), options)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, executor.cancel)
        return await executor.run()

    return asyncio.run(main())


def run_command(
    spec_path: Annotated[Path, typer.Argument(help="The job spec (YAML).")],
    server: ServerOption = None,
    db: DbOption = None,
    org: OrgOption = None,
    parallel: Annotated[int, typer.Option("--parallel", min=1, help="Steps at once.")] = 4,
    run_key: Annotated[str | None, typer.Option("--run-key", help="This run's key.")] = None,
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Working folder (default: a fresh one).")
    ] = None,
    spool: SpoolOption = DEFAULT_SPOOL,
    flush_timeout: Annotated[
        float, typer.Option("--flush-timeout", help="Seconds to wait for delivery at the end.")
    ] = 30.0,
    keep_tmp: Annotated[
        bool, typer.Option("--keep-tmp", help="Keep the run's temp folder.")
    ] = False,
    tmp_root: Annotated[
        Path | None,
        typer.Option("--tmp-root", help="Where the run's temp folder is made (default: TMPDIR)."),
    ] = None,
    events_log: Annotated[
        Path | None, typer.Option("--events-log", hidden=True, help="Append every event here.")
    ] = None,
) -> None:
    """Run a job's DAG once and report every state change and its output live."""
    try:
        spec = load_spec(spec_path)
    except SpecError as exc:
        for problem in exc.problems:
            err_console.print(f"[red]error:[/] {problem}", highlight=False)
        raise typer.Exit(2) from None
    sink = _sink(server, db, org)
    key = run_key or new_run_key()
    spool_file = Spool(spool / f"{_safe(spec.job)}-{_safe(key)}.jsonl") if server else None
    delivery = Delivery(sink, spool_file).start()
    emit = _recording(delivery.emit, events_log) if events_log else delivery.emit
    tmp = Path(tempfile.mkdtemp(prefix=f"jobtrail-{_safe(spec.job)}-", dir=tmp_root))
    base = spec_path.resolve().parent
    folder = workdir or (base / spec.workdir if spec.workdir else tmp)
    options = RunOptions(parallel=parallel, workdir=folder, tmp_dir=tmp)
    try:
        state = _execute(spec, EventFactory(spec.job, spec.environment, key), emit, options)
    finally:
        delivered = delivery.close(flush_timeout)
        if not keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if not delivered and spool_file is not None:
        err_console.print(
            f"[yellow]warning:[/] some events are not delivered yet; they wait in "
            f"{spool_file.path} and `jobtrail flush` delivers them."
        )
    raise typer.Exit(0 if state == "SUCCEEDED" else 1)


def flush_command(
    server: ServerOption = None, org: OrgOption = None, spool: SpoolOption = DEFAULT_SPOOL
) -> None:
    """Deliver the events that earlier runs left in the spool."""
    if not server:
        raise fail("say where to deliver: --server URL (or JOBTRAIL_SERVER).", 2)
    sink = _http_sink(server, org)
    sent = 0
    try:
        for spool_file in spools_in(spool):
            sent += flush_spool(spool_file, sink)
    except RetryLater as exc:
        err_console.print(f"[red]error:[/] {exc}; {sent} events delivered, the rest kept.")
        raise typer.Exit(1) from None
    finally:
        sink.close()
    typer.echo(f"delivered {sent} events")


def agent_command(
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
    sink = _sink(server, db, org)  # checks the destination and credentials once, up front
    sink.close()
    args = ["--parallel", str(parallel), "--spool", str(spool)]
    args += ["--server", server] if server else ["--db", db or os.environ["JOBTRAIL_DB"]]
    if org:
        args += ["--org", org]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    agent = Agent(jobs_dir, args)
    if server:
        agent.after_tick = lambda: _flush_stale(server, org, spool)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: agent.stop())
    agent.run_forever()


def _flush_stale(server: str, org: str | None, spool: Path, quiet_for: float = 60.0) -> None:
    """Deliver spools no run is writing any more (left by runs that ended during an outage)."""
    stale = [s for s in spools_in(spool) if time.time() - s.path.stat().st_mtime > quiet_for]
    if not stale:
        return
    sink = _http_sink(server, org)
    try:
        for spool_file in stale:
            flush_spool(spool_file, sink)
    except RetryLater:
        pass  # still unreachable: the next tick tries again
    finally:
        sink.close()
