"""Runs a job's DAG: independent steps in parallel, stdout and stderr streamed in chunks, every
state change reported, downstream of a failure SKIPPED, timeouts and cancellation killing whole
process groups, retries with increasing attempt numbers."""

import asyncio
import codecs
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobtrail.domain.dag import downstream, layers
from jobtrail.runner import dbt
from jobtrail.runner.events import EventFactory
from jobtrail.runner.spec import JobSpec, StepSpec, retry_wait

Emit = Callable[[dict[str, Any]], None]


@dataclass
class RunOptions:
    parallel: int = 4
    workdir: Path = field(default_factory=Path.cwd)
    tmp_dir: Path = field(default_factory=Path.cwd)
    chunk_interval: float = 0.5
    chunk_bytes: int = 64 * 1024
    kill_grace: float = 5.0
    pipe_grace: float = 5.0  # how long to wait for output after the command has exited
    # Whether the reporter can take more output now. While it cannot, the pumps stop reading,
    # so the step blocks on its full pipe and memory stays bounded, but the loop stays free for
    # timeouts and cancellation.
    has_room: Callable[[], bool] = lambda: True


class _Chunker:
    """One output stream of a step: decoded incrementally (never a broken character), sent as a
    log event about every `interval` seconds or `limit` bytes, numbered by `seq`."""

    def __init__(
        self, emit: Emit, events: EventFactory, step: str, stream: str, limit: int
    ) -> None:
        self._emit, self._events, self._step, self._stream = emit, events, step, stream
        self._limit = limit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer: list[str] = []
        self._size = 0
        self.seq = 0
        self.attempt: int | None = None  # of the step, set as each attempt starts

    def feed(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if text:
            self._buffer.append(text)
            self._size += len(data)
        if self._size >= self._limit:
            self.flush()

    def feed_text(self, text: str) -> None:
        self._buffer.append(text)
        self._size += len(text)
        if self._size >= self._limit:
            self.flush()

    def flush(self, final: bool = False) -> None:
        if final:
            tail = self._decoder.decode(b"", final=True)
            if tail:
                self._buffer.append(tail)
        if not self._buffer:
            return
        text = "".join(self._buffer)
        self._buffer, self._size = [], 0
        for start in range(0, len(text), self._limit):  # bounded event size
            piece = text[start : start + self._limit]
            self._emit(self._events.log(self._step, self._stream, piece, self.seq, self.attempt))
            self.seq += 1


class _Lines:
    """Splits a byte stream into decoded lines (dbt writes one JSON object a line)."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self._on_line = on_line
        self._rest = b""

    def feed(self, data: bytes) -> None:
        *lines, self._rest = (self._rest + data).split(b"\n")
        for line in lines:
            self._on_line(line.decode("utf-8", "replace"))


class RunExecutor:
    def __init__(
        self, spec: JobSpec, events: EventFactory, emit: Emit, options: RunOptions
    ) -> None:
        self.spec = spec
        self.events = events
        self.emit = emit
        self.options = options
        self._steps = {s.name: s for s in spec.steps}
        self._state: dict[str, str] = {}
        self._tasks: dict[str, asyncio.Task[str]] = {}
        self._chunkers: dict[tuple[str, str], _Chunker] = {}
        self._cancelled = False
        self.ended = False  # the run's final state is decided (set before it is reported)

    def cancel(self) -> None:
        """Stop the run: running steps are killed and reported CANCELLED, the rest too."""
        self._cancelled = True
        for task in self._tasks.values():
            task.cancel()

    async def run(self) -> str:
        self.emit(self.events.run("RUNNING"))
        order = [name for layer in layers(self.spec.dependencies) for name in layer]
        for name in order:
            deps = list(self._steps[name].needs)
            self.emit(self.events.step(name, "PENDING", dependencies=deps))
        gate = asyncio.Semaphore(max(1, self.options.parallel))
        while True:
            self._start_ready(order, gate)
            active = [t for t in self._tasks.values() if not t.done()]
            if not active:
                break
            await asyncio.wait(active, return_when=asyncio.FIRST_COMPLETED)
            self._collect()
        for name in order:  # never started: cancelled, or skipped after a failure
            if name not in self._state:
                self._finish(name, "CANCELLED" if self._cancelled else "SKIPPED")
        final = self._final_state()
        self.ended = True
        self.emit(self.events.run(final))
        return final

    def _final_state(self) -> str:
        if self._cancelled:
            return "CANCELLED"
        return "SUCCEEDED" if all(s == "SUCCEEDED" for s in self._state.values()) else "FAILED"

    def _start_ready(self, order: list[str], gate: asyncio.Semaphore) -> None:
        if self._cancelled:
            return
        for name in order:
            if name in self._tasks or name in self._state:
                continue
            needs = self._steps[name].needs
            if all(self._state.get(d) == "SUCCEEDED" for d in needs):
                self._tasks[name] = asyncio.create_task(self._guarded(name, gate))

    def _collect(self) -> None:
        for name, task in self._tasks.items():
            if task.done() and name not in self._state:
                state = "CANCELLED" if task.cancelled() else task.result()
                self._state[name] = state
                if state != "SUCCEEDED" and not self._cancelled:
                    for child in sorted(downstream(self.spec.dependencies, name)):
                        if child not in self._tasks and child not in self._state:
                            self._finish(
                                child, "SKIPPED", f"upstream step {name!r} {state.lower()}"
                            )

    def _finish(self, name: str, state: str, message: str | None = None) -> None:
        self._state[name] = state
        self.emit(self.events.step(name, state, message=message))

    async def _guarded(self, name: str, gate: asyncio.Semaphore) -> str:
        async with gate:
            if self._cancelled:
                raise asyncio.CancelledError
            return await self._step(self._steps[name])

    async def _step(self, step: StepSpec) -> str:
        attempts = step.retries + 1
        for attempt in range(1, attempts + 1):
            self.emit(self.events.step(step.name, "RUNNING", attempt=attempt))
            try:
                code, message = await self._attempt(step, attempt)
            except asyncio.CancelledError:
                self.emit(
                    self.events.step(step.name, "CANCELLED", attempt=attempt, message="cancelled")
                )
                raise
            if code == 0:
                self.emit(self.events.step(step.name, "SUCCEEDED", attempt=attempt, exit_code=0))
                return "SUCCEEDED"
            self.emit(
                self.events.step(
                    step.name, "FAILED", attempt=attempt, exit_code=code, message=message
                )
            )
            if attempt < attempts:
                await self._before_retry(step, attempt)
        return "FAILED"

    async def _before_retry(self, step: StepSpec, attempt: int) -> None:
        try:
            await asyncio.sleep(retry_wait(step.retry_delay, attempt))
        except asyncio.CancelledError:
            self.emit(
                self.events.step(step.name, "CANCELLED", attempt=attempt, message="cancelled")
            )
            raise

    def _environment(self, step: StepSpec, attempt: int) -> dict[str, str]:
        return {
            **os.environ,
            **self.spec.env,
            **step.env,
            "JOBTRAIL_JOB": self.spec.job,
            "JOBTRAIL_ENVIRONMENT": self.spec.environment,
            "JOBTRAIL_RUN_KEY": self.events.run_key,
            "JOBTRAIL_STEP": step.name,
            "JOBTRAIL_ATTEMPT": str(attempt),
            "JOBTRAIL_RUN_TMP": str(self.options.tmp_dir),
        }

    def _cwd(self, step: StepSpec) -> Path:
        return self.options.workdir / step.workdir if step.workdir else self.options.workdir

    def _chunker(self, step: str, stream: str) -> _Chunker:
        key = (step, stream)
        if key not in self._chunkers:  # one per stream: seq goes on across attempts
            self._chunkers[key] = _Chunker(
                self.emit, self.events, step, stream, self.options.chunk_bytes
            )
        return self._chunkers[key]

    async def _attempt(self, step: StepSpec, attempt: int) -> tuple[int | None, str | None]:
        env, cwd = self._environment(step, attempt), self._cwd(step)
        out, err = self._chunker(step.name, "stdout"), self._chunker(step.name, "stderr")
        # Each attempt's output ends with a final flush, so a chunk never spans two attempts.
        out.attempt = err.attempt = attempt
        if step.dbt is None:
            assert step.run is not None
            return await self._execute(["/bin/sh", "-c", step.run], cwd, env, step, out.feed, err)
        return await self._dbt(step, cwd, env, out, err)

    async def _dbt(
        self, step: StepSpec, cwd: Path, env: dict[str, str], out: _Chunker, err: _Chunker
    ) -> tuple[int | None, str | None]:
        """One dbt invocation, its nodes reported as steps of their own as dbt goes."""
        assert step.dbt is not None
        try:
            argv = dbt.driver_command(step.dbt, cwd)
        except dbt.DbtMissing as exc:
            return _could_not_start(f"could not start: {exc}", err)
        nodes = dbt.DbtSteps(step.name, self.events, self.emit, self._chunker, out.feed_text)
        try:
            code, message = await self._execute(
                argv, cwd, {**env, **dbt.DBT_ENV}, step, _Lines(nodes.feed).feed, err
            )
        except asyncio.CancelledError:
            nodes.cancel()
            raise
        if code is not None and code < 0:  # killed: a timeout, or the group had to go
            nodes.close(code, message)
            return code, message
        nodes.close(code)
        return code, (nodes.summary(code) if code else None) or message

    async def _execute(
        self,
        argv: list[str],
        cwd: Path,
        env: dict[str, str],
        step: StepSpec,
        on_stdout: Callable[[bytes], None],
        err: _Chunker,
    ) -> tuple[int | None, str | None]:
        """Run one process in its own group, feed its output, enforce the timeout, and kill the
        whole group on timeout or cancellation. A process that cannot start (a missing working
        folder, say) fails its step with the reason, as its stderr too."""
        try:
            proc = await self._spawn(argv, cwd, env, asyncio.subprocess.PIPE)
        except OSError as exc:
            return _could_not_start(exc, err)
        out = self._chunker(step.name, "stdout")
        assert proc.stdout is not None
        assert proc.stderr is not None

        def running() -> bool:
            return proc.returncode is None

        pumps = [
            asyncio.create_task(self._pump(proc.stdout, on_stdout, running)),
            asyncio.create_task(self._pump(proc.stderr, err.feed, running)),
        ]
        ticker = asyncio.create_task(self._tick(out, err))
        message = None
        try:
            timeout = step.timeout.total_seconds() if step.timeout else None
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                message = f"timed out after {step.timeout}; its processes were killed"
                await self._kill(proc)
            _, pending = await asyncio.wait(pumps, timeout=self.options.pipe_grace)
            if pending:  # a background process still holds the pipes open (or the reporter is
                self._signal_group(proc, signal.SIGKILL)  # stuck): kill the group, and give up
                _, stuck = await asyncio.wait(pending, timeout=self.options.pipe_grace)
                for pump in stuck:  # on output the reporter cannot take
                    pump.cancel()
        except asyncio.CancelledError:
            await asyncio.shield(self._kill(proc))
            raise
        finally:
            ticker.cancel()
            out.flush(final=True)
            err.flush(final=True)
        code = proc.returncode if proc.returncode is not None else -signal.SIGKILL
        if message is None and code != 0:
            message = f"exited with code {code}" if code > 0 else f"killed by signal {-code}"
        return code, message

    async def _spawn(
        self, argv: list[str], cwd: Path, env: dict[str, str], stderr: int
    ) -> asyncio.subprocess.Process:
        """Start a process in a group of its own (so a kill reaches its grandchildren). The start
        is shielded from cancellation: on CPython 3.11 a cancellation that lands while asyncio
        is still connecting the pipes leaves the task waiting forever. So the start completes,
        the new process is killed, and then the cancellation goes on."""
        start = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
        )
        try:
            return await asyncio.shield(start)
        except asyncio.CancelledError:
            while not start.done():  # (asyncio.wait never cancels what it waits for)
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait({start})
            if start.exception() is None:  # it started: kill it (an OSError: nothing to kill)
                await asyncio.shield(self._kill(start.result()))
            raise

    async def _pump(
        self,
        stream: asyncio.StreamReader,
        feed: Callable[[bytes], None],
        running: Callable[[], bool],
    ) -> None:
        """Read a stream to its end. While the reporter has no room and the process runs, stop
        reading (the process then waits on its full pipe); once it has ended, what is left in
        the pipe (a pipe's worth at most) is read regardless, so the process can be reaped."""
        while True:
            data = await stream.read(65536)
            if not data:
                return
            feed(data)
            while not self.options.has_room() and running():
                await asyncio.sleep(0.02)

    async def _tick(self, *chunkers: _Chunker) -> None:
        while True:
            await asyncio.sleep(self.options.chunk_interval)
            for chunker in chunkers:
                chunker.flush()

    @staticmethod
    def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    async def _kill(self, proc: asyncio.subprocess.Process) -> None:
        """SIGTERM to the whole group, SIGKILL after the grace period."""
        self._signal_group(proc, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), self.options.kill_grace)
        self._signal_group(proc, signal.SIGKILL)  # stragglers in the group, even if the leader left
        await proc.wait()


def _could_not_start(reason: str | OSError, err: _Chunker) -> tuple[None, str]:
    """A step whose process cannot start fails with the reason (no exit code: nothing ran)."""
    if isinstance(reason, OSError):
        text = f"could not start: {reason.strerror or reason}"
        reason = text + (f": {reason.filename}" if reason.filename else "")
    err.feed_text(reason + "\n")
    err.flush(final=True)
    return None, reason


def new_run_key() -> str:
    """Sortable and unique enough: the start time plus random digits."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + os.urandom(3).hex()
