"""The events a run reports (SPEC §3.4), each with a fresh eventId, built by the wire contract's
one builder."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from jobtrail.wire.events import build_event
from jobtrail.wire.shapes import Kind, StepRef

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventFactory:
    """The events of one run of one job."""

    def __init__(self, job: str, environment: str, run_key: str, clock: Clock = utc_now) -> None:
        self._job = job
        self._environment = environment
        self.run_key = run_key
        self._clock = clock

    def _event(self, kind: Kind, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
        event = build_event(
            kind,
            at or self._clock(),
            job=self._job,
            environment=self._environment,
            run_key=self.run_key,
            **fields,
        )
        return dict(event)

    def run(self, state: str, message: str | None = None) -> dict[str, Any]:
        return self._event("run", state=state, message=message or None)

    def step(
        self,
        name: str,
        state: str,
        *,
        dependencies: list[str] | None = None,
        attempt: int | None = None,
        exit_code: int | None = None,
        message: str | None = None,
        at: datetime | None = None,
        owners: list[str] | None = None,
    ) -> dict[str, Any]:
        """`at`: when it happened, if not now (dbt's own times for its nodes); `owners`: the
        step's own (a dbt node's meta.owner), alerted too when it fails."""
        step: StepRef = {"name": name}
        if dependencies is not None:
            step["dependencies"] = dependencies
        if owners:
            step["owners"] = owners
        return self._event(
            "step",
            at,
            step=step,
            state=state,
            attempt=attempt,
            exitCode=exit_code,
            message=message or None,
        )

    def log(
        self, name: str, stream: str, data: str, seq: int, attempt: int | None = None
    ) -> dict[str, Any]:
        """`attempt`: the try of the step that wrote it, so each try's output can be told."""
        return self._event("log", step=name, stream=stream, data=data, seq=seq, attempt=attempt)
