"""The JSON shapes of the API as TypedDicts: what the server documents (OpenAPI) and sends, and
what the client returns. This is their one home: the server's OpenAPI document is generated from
these classes by Pydantic (`typing_extensions.TypedDict`, which Pydantic reads on Python 3.11),
so a field's name, type and description are written here only.

Two markers carry what the document needs without this package importing Pydantic: `closed`
(the PEP 728 runtime flag: no keys besides the declared ones, `additionalProperties: false`) and
`Doc` (a field's description and examples, through Pydantic's JSON-schema hook)."""

from enum import StrEnum
from typing import Annotated, Any, Literal, NotRequired, TypeVar

from typing_extensions import TypedDict

_T = TypeVar("_T")


def closed(cls: _T) -> _T:
    """Mark a shape as closed (PEP 728's `__closed__`, which Pydantic honours): a response
    carries exactly its declared keys. The class keyword `closed=True` says the same, but the
    type checker does not take it yet."""
    setattr(cls, "__closed__", True)  # noqa: B010 (a TypedDict class has no such attribute to type)
    return cls


class Doc:
    """A field's description (and examples) in the API's document. Pydantic calls
    `__get_pydantic_json_schema__` on annotation metadata, so no Pydantic import is needed."""

    def __init__(
        self, description: str | None = None, *, examples: list[Any] | None = None
    ) -> None:
        self.keys: dict[str, Any] = {}
        if description is not None:
            self.keys["description"] = description
        if examples is not None:
            self.keys["examples"] = examples

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        out = handler(schema)
        out.update(self.keys)
        return out


# The states as str enums (the domain's too): a JSON body's plain strings compare equal to them.
class RunState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class StepState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


Kind = Literal["run", "step", "log"]
Stream = Literal["stdout", "stderr"]
TERMINAL_STATES: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED"})


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


# Response shapes. No class docstrings: a docstring would become the schema's description.


@closed
class ErrorBody(TypedDict):
    error: Annotated[str, Doc("A stable, machine-readable code.", examples=["invalid_window"])]
    message: Annotated[str, Doc("One clear sentence saying what was wrong.")]
    details: NotRequired[
        Annotated[
            list[dict[str, object]] | None, Doc("Per-field problems, when there are several.")
        ]
    ]


@closed
class TokenResponse(TypedDict):
    accessToken: str
    expiresAt: str


@closed
class IngestResponse(TypedDict):
    accepted: Annotated[int, Doc("Events stored by this request.")]
    duplicates: Annotated[int, Doc("Events whose eventId was already stored (ignored).")]


@closed
class RunSummary(TypedDict):
    runId: str
    jobId: str
    jobName: str
    environment: str
    state: RunState
    startTime: str | None
    endTime: str | None
    duration: Annotated[str | None, Doc("ISO 8601 duration; null while the run has not ended.")]
    lastUpdated: str | None


@closed
class StepSummary(TypedDict):
    name: str
    state: StepState
    dependencies: list[str]
    startTime: str | None
    endTime: str | None
    duration: str | None
    attempt: int
    exitCode: int | None


class RunDetail(RunSummary):
    steps: list[StepSummary]


@closed
class StateChange(TypedDict):
    state: StepState
    timestamp: str
    attempt: int | None
    exitCode: int | None
    message: str | None


@closed
class Dataset(TypedDict):
    namespace: str
    name: str


@closed
class AttemptStart(TypedDict):
    attempt: int
    offset: Annotated[int, Doc("Where its output begins, in kept bytes (as log offsets).")]


class StepDetail(StepSummary):
    message: str | None
    stdout: str
    stderr: str
    stdoutTruncated: bool
    stderrTruncated: bool
    stdoutBytes: Annotated[int, Doc("Bytes of stdout received (kept plus dropped by the cap).")]
    stderrBytes: int
    stdoutDroppedBytes: Annotated[int, Doc("Bytes dropped from the middle by the stream cap.")]
    stderrDroppedBytes: int
    stdoutAttempts: Annotated[
        list[AttemptStart],
        Doc(
            "Where each attempt's output begins, for a step that ran more than once (empty "
            "otherwise, or when its reporter did not say which attempt wrote the output)."
        ),
    ]
    stderrAttempts: list[AttemptStart]
    stateHistory: list[StateChange]
    inputs: Annotated[list[Dataset], Doc("Datasets the step read (OpenLineage steps).")]
    outputs: Annotated[list[Dataset], Doc("Datasets the step wrote (OpenLineage steps).")]


@closed
class RecentRun(TypedDict):
    runId: str
    state: RunState
    startTime: str | None
    duration: str | None


@closed
class JobHealth(TypedDict):
    jobId: str
    jobName: str
    environment: str
    runs: Annotated[int, Doc("Runs that started in the window.")]
    succeeded: int
    failed: int
    cancelled: int
    running: int
    pending: int
    successRate: Annotated[
        float | None,
        Doc("Succeeded ÷ final (succeeded, failed, cancelled) runs; null without any."),
    ]
    durationP50: Annotated[str | None, Doc("Of final runs, ISO 8601 (percentile_cont).")]
    durationP95: str | None
    durationMax: str | None
    lastRunStart: str | None
    lastSuccess: Annotated[str | None, Doc("When the newest successful run ended.")]
    recentRuns: Annotated[list[RecentRun], Doc("The newest runs of the window, newest first.")]


@closed
class DayBucket(TypedDict):
    date: Annotated[str, Doc("UTC day of the runs' start, YYYY-MM-DD.")]
    runs: int
    succeeded: int
    failed: int
    cancelled: int
    running: int
    pending: int
    durationP50: str | None
    durationP95: str | None
    durationMax: str | None


@closed
class StepHealth(TypedDict):
    name: str
    runs: int
    failed: int
    durationP50: str | None
    durationP95: str | None
    durationMax: str | None


class JobInsight(JobHealth):
    days: list[DayBucket]
    slowestSteps: Annotated[list[StepHealth], Doc("Up to 10, by median duration.")]
    failingSteps: Annotated[list[StepHealth], Doc("Up to 10 steps that failed, most first.")]
    lastRuns: list[RunSummary]


@closed
class Organization(TypedDict):
    organizationId: str
    name: str


@closed
class ApiKeyOut(TypedDict):
    keyId: str
    name: str
    role: Annotated[str, Doc("read, ingest or admin.")]
    kind: Annotated[str, Doc("v3 (exchanged with key id and key) or v2 (legacy: key alone).")]
    createdAt: str
    lastUsedAt: Annotated[str | None, Doc("Kept to the minute; null when never used.")]
    expiresAt: str | None
    revokedAt: str | None


class NewApiKeyOut(ApiKeyOut):
    key: Annotated[str, Doc("The secret, shown only in this response; only a hash is kept.")]
    openLineageApiKey: NotRequired[
        Annotated[
            str | None,
            Doc("For roles ingest and admin: `<keyId>.<secret>`, OPENLINEAGE_API_KEY's value."),
        ]
    ]


@closed
class DefinitionIn(TypedDict):
    """A job's definition as a runner reports it (unknown fields are refused)."""

    jobName: str
    environment: str
    schedule: NotRequired[Annotated[str | None, Doc(examples=["0 * * * *"])]]
    timezone: NotRequired[Annotated[str | None, Doc(examples=["Europe/Paris"])]]
    owners: NotRequired[list[str] | None]
    labels: NotRequired[dict[str, str] | None]
    alerts: NotRequired[
        Annotated[
            dict[str, object] | None,
            Doc(
                examples=[
                    {"on": ["failed", "stuck"], "stuck_after": "2h", "channels": ["team-hook"]}
                ]
            ),
        ]
    ]
    scheduled: NotRequired[Annotated[bool | None, Doc("false: no longer scheduled.")]]


@closed
class DefinitionsStored(TypedDict):
    stored: int


@closed
class DefinitionOut(TypedDict):
    jobId: str
    jobName: str
    environment: str
    schedule: str | None
    timezone: str
    owners: list[str]
    labels: dict[str, str]
    alerts: Annotated[dict[str, object], Doc("Durations in seconds; only those given.")]
    scheduled: bool
    lastSeen: str
    nextExpectedRun: Annotated[str | None, Doc("Next scheduled time (UTC), when scheduled.")]


@closed
class DeliveryOut(TypedDict):
    channel: str
    status: Annotated[str, Doc("pending, delivered or failed (after the last retry).")]
    attempts: int
    lastAttemptAt: str | None
    lastError: str | None


@closed
class AlertOut(TypedDict):
    alertId: Annotated[str, Doc("The idempotency key of the condition instance.")]
    jobName: str
    environment: str
    condition: str
    state: Annotated[str, Doc("open or resolved")]
    runId: str | None
    stepName: str | None
    scheduledAt: str | None
    raisedAt: str
    resolvedAt: str | None
    message: str
    deliveries: list[DeliveryOut]
