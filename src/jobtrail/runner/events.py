"""Builds the ingestion events a run reports (SPEC §3.4), each with a fresh eventId."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventFactory:
    """The events of one run of one job."""

    def __init__(self, job: str, environment: str, run_key: str, clock: Clock = utc_now) -> None:
        self._job = {"name": job, "environment": environment}
        self.run_key = run_key
        self._clock = clock

    def _base(self, kind: str, at: datetime | None = None) -> dict[str, Any]:
        return {
            "eventId": str(uuid.uuid4()),
            "timestamp": _stamp(at or self._clock()),
            "kind": kind,
            "job": self._job,
            "runKey": self.run_key,
        }

    def run(self, state: str, message: str | None = None) -> dict[str, Any]:
        event = {**self._base("run"), "state": state}
        if message:
            event["message"] = message[:4096]
        return event

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
    ) -> dict[str, Any]:
        """`at`: when it happened, if not now (dbt's own times for its nodes)."""
        step: dict[str, Any] = {"name": name}
        if dependencies is not None:
            step["dependencies"] = dependencies
        event = {**self._base("step", at), "step": step, "state": state}
        if attempt is not None:
            event["attempt"] = attempt
        if exit_code is not None:
            event["exitCode"] = exit_code
        if message:
            event["message"] = message[:4096]
        return event

    def log(self, name: str, stream: str, data: str, seq: int) -> dict[str, Any]:
        return {
            **self._base("log"),
            "step": {"name": name},
            "stream": stream,
            "data": data,
            "seq": seq,
        }
