"""Response shapes as Pydantic models: they document the API in OpenAPI. Handlers serialise rows
straight to JSON for speed, and a test checks that real responses match these models."""

from pydantic import BaseModel, ConfigDict, Field

from jobtrail.domain.states import RunState, StepState


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Out):
    error: str = Field(examples=["invalid_window"], description="A stable, machine-readable code.")
    message: str = Field(description="One clear sentence saying what was wrong.")
    details: list[dict[str, object]] | None = Field(
        default=None, description="Per-field problems, when there are several."
    )


class TokenResponse(_Out):
    accessToken: str
    expiresAt: str


class IngestResponse(_Out):
    accepted: int = Field(description="Events stored by this request.")
    duplicates: int = Field(description="Events whose eventId was already stored (ignored).")


class RunSummary(_Out):
    runId: str
    jobId: str
    jobName: str
    environment: str
    state: RunState
    startTime: str | None
    endTime: str | None
    duration: str | None = Field(description="ISO 8601 duration; null while the run has not ended.")
    lastUpdated: str | None


class StepSummary(_Out):
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


class StateChange(_Out):
    state: StepState
    timestamp: str
    attempt: int | None
    exitCode: int | None
    message: str | None


class Dataset(_Out):
    namespace: str
    name: str


class AttemptStart(_Out):
    attempt: int
    offset: int = Field(description="Where its output begins, in kept bytes (as log offsets).")


class StepDetail(StepSummary):
    message: str | None
    stdout: str
    stderr: str
    stdoutTruncated: bool
    stderrTruncated: bool
    stdoutBytes: int = Field(description="Bytes of stdout received (kept plus dropped by the cap).")
    stderrBytes: int
    stdoutDroppedBytes: int = Field(description="Bytes dropped from the middle by the stream cap.")
    stderrDroppedBytes: int
    stdoutAttempts: list[AttemptStart] = Field(
        description="Where each attempt's output begins, for a step that ran more than once "
        "(empty otherwise, or when its reporter did not say which attempt wrote the output)."
    )
    stderrAttempts: list[AttemptStart]
    stateHistory: list[StateChange]
    inputs: list[Dataset] = Field(description="Datasets the step read (OpenLineage steps).")
    outputs: list[Dataset] = Field(description="Datasets the step wrote (OpenLineage steps).")


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "Bad input."},
    401: {"model": ErrorBody, "description": "No, invalid or expired token."},
    403: {"model": ErrorBody, "description": "Token not allowed for this organization or action."},
    404: {"model": ErrorBody, "description": "Unknown organization, run or step."},
    429: {
        "model": ErrorBody,
        "description": "Over the rate limit of the key or organization; retry after the "
        "`Retry-After` header's seconds.",
    },
}


class RecentRun(_Out):
    runId: str
    state: RunState
    startTime: str | None
    duration: str | None


class JobHealth(_Out):
    jobId: str
    jobName: str
    environment: str
    runs: int = Field(description="Runs that started in the window.")
    succeeded: int
    failed: int
    cancelled: int
    running: int
    pending: int
    successRate: float | None = Field(
        description="Succeeded ÷ final (succeeded, failed, cancelled) runs; null without any."
    )
    durationP50: str | None = Field(description="Of final runs, ISO 8601 (percentile_cont).")
    durationP95: str | None
    durationMax: str | None
    lastRunStart: str | None
    lastSuccess: str | None = Field(description="When the newest successful run ended.")
    recentRuns: list[RecentRun] = Field(description="The newest runs of the window, newest first.")


class DayBucket(_Out):
    date: str = Field(description="UTC day of the runs' start, YYYY-MM-DD.")
    runs: int
    succeeded: int
    failed: int
    cancelled: int
    running: int
    pending: int
    durationP50: str | None
    durationP95: str | None
    durationMax: str | None


class StepHealth(_Out):
    name: str
    runs: int
    failed: int
    durationP50: str | None
    durationP95: str | None
    durationMax: str | None


class JobInsight(JobHealth):
    days: list[DayBucket]
    slowestSteps: list[StepHealth] = Field(description="Up to 10, by median duration.")
    failingSteps: list[StepHealth] = Field(description="Up to 10 steps that failed, most first.")
    lastRuns: list[RunSummary]


class Organization(_Out):
    organizationId: str
    name: str


class ApiKeyOut(_Out):
    keyId: str
    name: str
    role: str = Field(description="read, ingest or admin.")
    kind: str = Field(description="v3 (exchanged with key id and key) or v2 (legacy: key alone).")
    createdAt: str
    lastUsedAt: str | None = Field(description="Kept to the minute; null when never used.")
    expiresAt: str | None
    revokedAt: str | None


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="The secret, shown only in this response; only a hash is kept.")
    openLineageApiKey: str | None = Field(
        default=None,
        description="For roles ingest and admin: `<keyId>.<secret>`, OPENLINEAGE_API_KEY's value.",
    )


class DefinitionIn(BaseModel):
    """A job's definition as a runner reports it (unknown fields are refused)."""

    model_config = ConfigDict(extra="forbid")
    jobName: str
    environment: str
    schedule: str | None = Field(default=None, examples=["0 * * * *"])
    timezone: str | None = Field(default=None, examples=["Europe/Paris"])
    owners: list[str] | None = None
    labels: dict[str, str] | None = None
    alerts: dict[str, object] | None = Field(
        default=None,
        examples=[{"on": ["failed", "stuck"], "stuck_after": "2h", "channels": ["team-hook"]}],
    )
    scheduled: bool | None = Field(default=None, description="false: no longer scheduled.")


class DefinitionsStored(_Out):
    stored: int


class DefinitionOut(_Out):
    jobId: str
    jobName: str
    environment: str
    schedule: str | None
    timezone: str
    owners: list[str]
    labels: dict[str, str]
    alerts: dict[str, object] = Field(description="Durations in seconds; only those given.")
    scheduled: bool
    lastSeen: str
    nextExpectedRun: str | None = Field(description="Next scheduled time (UTC), when scheduled.")


class DeliveryOut(_Out):
    channel: str
    status: str = Field(description="pending, delivered or failed (after the last retry).")
    attempts: int
    lastAttemptAt: str | None
    lastError: str | None


class AlertOut(_Out):
    alertId: str = Field(description="The idempotency key of the condition instance.")
    jobName: str
    environment: str
    condition: str
    state: str = Field(description="open or resolved")
    runId: str | None
    stepName: str | None
    scheduledAt: str | None
    raisedAt: str
    resolvedAt: str | None
    message: str
    deliveries: list[DeliveryOut]
