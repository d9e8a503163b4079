"""The ingestion event (SPEC §3.4): its wire shape and the checks that make a batch valid."""

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from jobtrail.domain.states import RunState, StepState
from jobtrail.domain.timefmt import to_micros

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 10 * 1024 * 1024
MAX_LOG_CHUNK_BYTES = 1024 * 1024
MAX_NAME = 200

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME), AfterValidator(_no_nul)]
Text = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_no_nul)]


def check_step_name(name: str) -> str:
    """Step names go into URL paths: any printable character except `/`, and not `.`/`..`."""
    if "/" in name or not name.isprintable() or name in {".", ".."} or name != name.strip():
        raise ValueError(
            "a step name must be printable, without '/', without leading or trailing spaces, "
            "and not '.' or '..'"
        )
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class JobRef(_Strict):
    name: Name
    environment: Annotated[str, StringConstraints(max_length=MAX_NAME), AfterValidator(_no_nul)]
    id: Name | None = None


class StepRef(_Strict):
    name: Name
    dependencies: list[Name] | None = Field(default=None, max_length=1000)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_step_name(value)

    @field_validator("dependencies")
    @classmethod
    def _deps(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for dep in value:
            check_step_name(dep)
        if len(set(value)) != len(value):
            raise ValueError("dependencies must not repeat a step")
        return value


class Event(_Strict):
    """One state change or log chunk as a reporter sends it."""

    event_id: Name = Field(alias="eventId")
    timestamp: str
    kind: Literal["run", "step", "log"]
    job: JobRef
    run_key: Name = Field(alias="runKey")
    state: str | None = None
    step: StepRef | None = None
    attempt: int | None = Field(default=None, ge=1, le=1_000_000)
    exit_code: int | None = Field(default=None, alias="exitCode", ge=-(2**31), le=2**31 - 1)
    message: Text | None = None
    stream: Literal["stdout", "stderr"] | None = None
    data: str | None = None
    seq: int | None = Field(default=None, ge=0, le=2**62)

    @field_validator("timestamp")
    @classmethod
    def _timestamp(cls, value: str) -> str:
        if not _RFC3339.match(value):
            raise ValueError(
                "must be an RFC 3339 timestamp with an offset, e.g. 2026-11-27T10:00:00Z"
            )
        datetime.fromisoformat(value)  # rejects impossible dates such as month 13
        return value

    @property
    def ts(self) -> int:
        return to_micros(datetime.fromisoformat(self.timestamp))


class EventBatch(_Strict):
    events: list[Event] = Field(max_length=MAX_BATCH_EVENTS)


def kind_problems(event: Event) -> list[tuple[str, str]]:
    """Fields that the event's kind requires or forbids: (field, message) pairs."""
    problems: list[tuple[str, str]] = []
    if event.kind == "run":
        if event.state not in RunState.__members__:
            problems.append(("state", f"a run event needs a run state: {', '.join(RunState)}"))
        if event.step is not None:
            problems.append(("step", "a run event has no step"))
    elif event.kind == "step":
        if event.state not in StepState.__members__:
            problems.append(("state", f"a step event needs a step state: {', '.join(StepState)}"))
        if event.step is None:
            problems.append(("step", "a step event needs step.name"))
    else:
        problems.extend(_log_problems(event))
    if event.kind != "log":
        for name in ("stream", "data", "seq"):
            if getattr(event, name) is not None:
                problems.append((name, f"only log events carry {name}"))
    return problems


def _log_problems(event: Event) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if event.step is None:
        problems.append(("step", "a log event needs step.name"))
    if event.state is not None:
        problems.append(("state", "a log event has no state"))
    if event.stream is None:
        problems.append(("stream", "a log event needs stream: stdout or stderr"))
    if event.seq is None:
        problems.append(("seq", "a log event needs seq, its order number within the stream"))
    if event.data is None:
        problems.append(("data", "a log event needs data, a UTF-8 text chunk"))
    elif len(event.data) > MAX_LOG_CHUNK_BYTES or (
        len(event.data.encode("utf-8", "surrogatepass")) > MAX_LOG_CHUNK_BYTES
    ):
        problems.append(("data", "a log chunk may hold at most 1 MiB"))
    return problems
