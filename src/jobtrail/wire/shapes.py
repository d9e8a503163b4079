"""The JSON shapes of the API as TypedDicts: what the server documents (OpenAPI) and sends, and
what the client returns. `typing_extensions.TypedDict`, because Pydantic builds the server's
schema from them on Python 3.11."""

from typing import Literal, NotRequired

from typing_extensions import TypedDict

RunStateName = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
StepStateName = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED"]
Kind = Literal["run", "step", "log"]
Stream = Literal["stdout", "stderr"]
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED"})


class JobRef(TypedDict):
    name: str
    environment: str
    id: NotRequired[str | None]


class StepRef(TypedDict):
    name: str
    dependencies: NotRequired[list[str] | None]
    owners: NotRequired[list[str] | str | None]  # on step events: also alerted when it fails


class Event(TypedDict):
    """One state change or log chunk as a reporter sends it (SPEC §3.4)."""

    eventId: str
    timestamp: str
    kind: Kind
    job: JobRef
    runKey: str
    state: NotRequired[str | None]
    step: NotRequired[StepRef | None]
    attempt: NotRequired[int | None]
    exitCode: NotRequired[int | None]
    message: NotRequired[str | None]
    stream: NotRequired[Stream | None]
    data: NotRequired[str | None]
    seq: NotRequired[int | None]


class ErrorBody(TypedDict):
    error: str
    message: str
    details: NotRequired[list[dict[str, object]] | None]


class TokenResponse(TypedDict):
    accessToken: str
    expiresAt: str


class IngestResponse(TypedDict):
    accepted: int
    duplicates: int


class RunSummary(TypedDict):
    runId: str
    jobId: str
    jobName: str
    environment: str
    state: RunStateName
    startTime: str | None
    endTime: str | None
    duration: str | None
    lastUpdated: str | None


class StepSummary(TypedDict):
    name: str
    state: StepStateName
    dependencies: list[str]
    startTime: str | None
    endTime: str | None
    duration: str | None
    attempt: int
    exitCode: int | None


class RunDetail(RunSummary):
    steps: list[StepSummary]


class StateChange(TypedDict):
    state: StepStateName
    timestamp: str
    attempt: int | None
    exitCode: int | None
    message: str | None


class Dataset(TypedDict):
    namespace: str
    name: str


class StepDetail(StepSummary):
    message: str | None
    stdout: str
    stderr: str
    stdoutTruncated: bool
    stderrTruncated: bool
    stdoutBytes: int
    stderrBytes: int
    stdoutDroppedBytes: int
    stderrDroppedBytes: int
    stateHistory: list[StateChange]
    inputs: list[Dataset]  # datasets the step read (OpenLineage steps)
    outputs: list[Dataset]  # datasets the step wrote
