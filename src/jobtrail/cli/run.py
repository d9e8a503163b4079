"""`jobtrail run JOB.yaml` and `jobtrail flush`: run a job's DAG and report it; deliver spools.
This is the path a scheduler takes for every run, so it imports only what running needs."""

import asyncio
import re
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from jobtrail.cli.common import DbOption, error, fail
from jobtrail.cli.reporting import (
    DEFAULT_SPOOL,
    OrgOption,
    ServerOption,
    SpoolOption,
    companion,
    http_sink,
    sink,
)
from jobtrail.domain import identity
from jobtrail.runner.catalog import definition_payload, report_in_background
from jobtrail.runner.delivery import Delivery, flush_spool
from jobtrail.runner.events import EventFactory
from jobtrail.runner.executor import RunExecutor, RunOptions, new_run_key
from jobtrail.runner.sinks import RetryLater
from jobtrail.runner.spec import JobSpec, SpecError, load_spec
from jobtrail.runner.spool import Spool, spools_in
from jobtrail.wire.paths import console_run_url


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80]


TAIL_LINES = 20
_TAIL_BYTES = 8 * 1024


def _printer(emit: Any) -> Any:
    """Report each event, and tell the person at the terminal about state changes; when the run
    fails, show the failed steps' stderr tail, so the reason is on screen without a lookup."""
    stderr: dict[str, str] = {}
    failed: list[str] = []

    def emit_and_print(event: dict[str, Any]) -> None:
        emit(event)
        if event["kind"] == "log" and event["stream"] == "stderr":
            name = event["step"]["name"]
            stderr[name] = (stderr.get(name, "") + event["data"])[-_TAIL_BYTES:]
        elif event["kind"] == "step" and event["state"] not in ("PENDING",):
            extra = f" ({event['message']})" if event.get("message") else ""
            typer.echo(f"  {event['step']['name']}: {event['state']}{extra}", err=True)
            if event["state"] == "FAILED":
                failed.append(event["step"]["name"])
        elif event["kind"] == "run":
            typer.echo(f"run {event['runKey']}: {event['state']}", err=True)
            if event["state"] == "FAILED":
                _print_tails(failed, stderr)

    return emit_and_print


def _print_tails(failed: list[str], stderr: dict[str, str]) -> None:
    for name in dict.fromkeys(failed):
        lines = stderr.get(name, "").rstrip("\n").splitlines()[-TAIL_LINES:]
        if lines:
            typer.echo(f"--- {name}: stderr (last {len(lines)} lines) ---", err=True)
            typer.echo("\n".join(lines), err=True)


def _recording(emit: Any, path: Path) -> Any:
    """Also append each event to a file (for diagnosing delivery, and for tests)."""
    out = path.open("ab")

    def emit_and_record(event: dict[str, Any]) -> None:
        out.write(orjson.dumps(event) + b"\n")
        out.flush()
        emit(event)

    return emit_and_record


class _Interrupts:
    """Ctrl+C and SIGTERM for the whole command, by one handler: while the run goes they cancel
    it (its steps are reported CANCELLED, then delivery is waited for); once its final state is
    decided they stop that wait (what is left goes to the spool). A handler per phase left a
    gap as the run ended: a Ctrl+C that fell there was lost, and the wait took its full time."""

    def __init__(self, hurry: Callable[[], None]) -> None:
        self._hurry = hurry
        self._executor: RunExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._early = False

    def running(self, executor: RunExecutor, loop: asyncio.AbstractEventLoop) -> None:
        self._executor, self._loop = executor, loop
        if self._early:  # interrupted before the run began: it begins cancelled
            executor.cancel()

    def __call__(self, _signum: int, _frame: object) -> None:
        executor, loop = self._executor, self._loop
        if executor is None or loop is None:
            self._early = True
        elif executor.ended:
            self._hurry()
        else:  # the handler runs between the loop's steps: the cancel goes through the loop
            loop.call_soon_threadsafe(executor.cancel)


def _execute(
    spec: JobSpec, factory: EventFactory, emit: Any, options: RunOptions, interrupts: _Interrupts
) -> str:
    async def main() -> str:
        executor = RunExecutor(spec, factory, _printer(emit), options)
        interrupts.running(executor, asyncio.get_running_loop())
        return await executor.run()

    return asyncio.run(main())


def run(
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
            error(problem)
        raise typer.Exit(2) from None
    destination = sink(server, db, org)
    key = run_key or new_run_key()
    spool_file = Spool(spool / f"{_safe(spec.job)}-{_safe(key)}.jsonl") if server else None
    base = spec_path.resolve().parent
    folder = workdir or (base / spec.workdir if spec.workdir else None)
    if folder is not None and not folder.is_dir():
        raise fail(f"the working folder {folder} does not exist.", 2)
    try:
        if spool_file is not None and not spool_file.claim():
            raise fail(f"a run with key {key!r} of job {spec.job!r} is already running.", 2)
        tmp = Path(tempfile.mkdtemp(prefix=f"jobtrail-{_safe(spec.job)}-", dir=tmp_root))
    except OSError as exc:
        raise fail(f"cannot create {exc.filename}: {exc.strerror or exc}", 2) from None
    reported = report_in_background(
        lambda: companion(destination, server, db, org), [definition_payload(spec)]
    )
    if server and org:
        run_id = identity.run_id(org, identity.job_id(org, spec.environment, spec.job), key)
        typer.echo(f"run {key}: {console_run_url(server, run_id)}", err=True)
    delivery = Delivery(destination, spool_file).start()
    emit = _recording(delivery.emit, events_log) if events_log else delivery.emit
    options = RunOptions(
        parallel=parallel, workdir=folder or tmp, tmp_dir=tmp, has_room=delivery.has_room
    )
    interrupts = _Interrupts(delivery.hurry)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupts)
    try:
        factory = EventFactory(spec.job, spec.environment, key)
        state = _execute(spec, factory, emit, options, interrupts)
    finally:
        delivered = delivery.close(flush_timeout)
        reported.join(min(flush_timeout, 10.0))
        if spool_file is not None:
            spool_file.release()
        if not keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if not delivered and spool_file is not None:
        warning = typer.style("warning:", fg="yellow")
        typer.echo(
            f"{warning} some events are not delivered yet; they wait in "
            f"{spool_file.path} and `jobtrail flush` delivers them.",
            err=True,
        )
    raise typer.Exit(0 if state == "SUCCEEDED" else 1)


def flush(
    server: ServerOption = None, org: OrgOption = None, spool: SpoolOption = DEFAULT_SPOOL
) -> None:
    """Deliver the events that earlier runs left in the spool."""
    if not server:
        raise fail("say where to deliver: --server URL (or JOBTRAIL_SERVER).", 2)
    destination = http_sink(server, org)
    sent, live = 0, 0
    try:
        for spool_file in spools_in(spool):
            count = flush_spool(spool_file, destination)
            if count is None:
                live += 1
            else:
                sent += count
    except RetryLater as exc:
        error(f"{exc}; {sent} events delivered, the rest kept.")
        raise typer.Exit(1) from None
    finally:
        destination.close()
    note = f" ({live} spools left to the runs still writing them)" if live else ""
    typer.echo(f"delivered {sent} events{note}")
