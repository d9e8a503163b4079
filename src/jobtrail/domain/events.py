"""The ingestion event (SPEC §3.4): its wire shape and the checks that make a batch valid.

The wire shape (`jobtrail.wire.shapes.Event`, plain, for reporters) is validated here by Pydantic
as TypedDicts with the same keys plus the constraints (several times faster than model instances
on 10,000-event batches), then turned into small immutable `Event` objects for the domain. The
constraints live here, not in the wire package, because they are the server's rules."""

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired

import orjson
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    with_config,
)
from typing_extensions import TypedDict

from jobtrail.domain.errors import EventConflict
from jobtrail.domain.names import check_step_name
from jobtrail.domain.states import RunState, StepState
from jobtrail.domain.timefmt import format_ts, parse_timestamp, to_micros
from jobtrail.wire.limits import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_LOG_CHUNK_BYTES,
    MAX_MESSAGE,
    MAX_NAME,
    MAX_OWNERS,
)

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_EVENTS", "MAX_LOG_CHUNK_BYTES", "MAX_NAME"]

RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
_RFC3339 = re.compile(RFC3339_PATTERN)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _check_timestamp(value: str) -> str:
    # The shape only: impossible dates (month 13) are found when `to_event` converts it.
    if not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. 2026-11-27T10:00:00Z")
    return value


_IMPOSSIBLE = -(2**63)


def timestamp_micros(value: str) -> int:
    """Microseconds since the epoch, or _IMPOSSIBLE for a well-shaped but impossible date."""
    try:
        return to_micros(parse_timestamp(value))
    except (ValueError, OverflowError):
        return _IMPOSSIBLE


def _one_as_list(value: object) -> object:
    """dbt lets `meta.owner` be one string or a list: one owner is a list of one."""
    return [value] if isinstance(value, str) else value


def _dedupe(value: list[str]) -> list[str]:
    return list(dict.fromkeys(value))


def _unique(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError("dependencies must not repeat a step")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME), AfterValidator(_no_nul)]
StepName = Annotated[Name, AfterValidator(check_step_name)]
Text = Annotated[str, StringConstraints(max_length=MAX_MESSAGE), AfterValidator(_no_nul)]
# The pattern is documented in the JSON Schema and checked by `_check_timestamp` (one message).
Timestamp = Annotated[
    str,
    AfterValidator(_check_timestamp),
    WithJsonSchema({"type": "string", "pattern": RFC3339_PATTERN, "format": "date-time"}),
]
_OWNER_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_NAME}
# A step's owners (names or e-mail addresses), alerted besides the job's owners when the step
# fails; the latest state event of the step that carries owners decides them.
Owners = Annotated[
    list[Name],
    BeforeValidator(_one_as_list),
    Field(max_length=MAX_OWNERS),
    AfterValidator(_dedupe),
    WithJsonSchema(
        {
            "anyOf": [
                _OWNER_SCHEMA,
                {"type": "array", "items": _OWNER_SCHEMA, "maxItems": MAX_OWNERS},
            ],
            "description": "The step's owners (names or e-mail addresses), one or a list; "
            "also alerted when the step fails. Only on step events; the latest step event "
            "carrying owners decides them.",
        }
    ),
]
_Strict = ConfigDict(extra="forbid")


@with_config(_Strict)
class JobIn(TypedDict):
    name: Name
    environment: Annotated[str, StringConstraints(max_length=MAX_NAME), AfterValidator(_no_nul)]
    id: NotRequired[Name | None]


@with_config(_Strict)
class StepIn(TypedDict):
    name: StepName
    dependencies: NotRequired[
        Annotated[list[StepName], Field(max_length=1000), AfterValidator(_unique)] | None
    ]
    owners: NotRequired[Owners | None]


@with_config(_Strict)
class EventIn(TypedDict):
    """One state change or log chunk as a reporter sends it."""

    eventId: Name
    timestamp: Timestamp
    kind: Literal["run", "step", "log"]
    job: JobIn
    runKey: Name
    state: NotRequired[str | None]
    step: NotRequired[StepIn | None]
    attempt: NotRequired[Annotated[int, Field(ge=1, le=1_000_000)] | None]
    exitCode: NotRequired[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] | None]
    message: NotRequired[Text | None]
    stream: NotRequired[Literal["stdout", "stderr"] | None]
    data: NotRequired[str | None]
    seq: NotRequired[Annotated[int, Field(ge=0, le=2**62)] | None]


@with_config(_Strict)
class EventBatch(TypedDict):
    events: Annotated[list[EventIn], Field(max_length=MAX_BATCH_EVENTS)]


BATCH_ADAPTER: TypeAdapter[EventBatch] = TypeAdapter(EventBatch)


@dataclass(slots=True)
class Event:
    """A validated event, flat (one object per event keeps 10,000-event batches cheap); `ts` is
    its timestamp in microseconds since the epoch, negative for an impossible date or one before
    the epoch (both refused)."""

    event_id: str
    timestamp: str
    ts: int
    kind: str
    job_name: str
    environment: str
    job_id: str | None
    run_key: str
    state: str | None = None
    step_name: str | None = None
    dependencies: list[str] | None = None
    attempt: int | None = None
    exit_code: int | None = None
    message: str | None = None
    stream: str | None = None
    data: str | None = None
    seq: int | None = None
    owners: list[str] | None = None


def to_event(raw: EventIn) -> Event:
    job = raw["job"]
    step = raw.get("step")
    return Event(
        raw["eventId"],
        raw["timestamp"],
        timestamp_micros(raw["timestamp"]),
        raw["kind"],
        job["name"],
        job["environment"],
        job.get("id"),
        raw["runKey"],
        raw.get("state"),
        step["name"] if step else None,
        step.get("dependencies") if step else None,
        raw.get("attempt"),
        raw.get("exitCode"),
        raw.get("message"),
        raw.get("stream"),
        raw.get("data"),
        raw.get("seq"),
        step.get("owners") if step else None,
    )


def fingerprint(event: Event) -> str:
    """A digest of everything the event says, its instant rather than the text of its timestamp
    (`Z` and `+00:00` are the same event): a retry of the same event matches, a different event
    reusing the eventId does not."""
    content: tuple[object, ...] = (
        event.kind, event.ts, event.job_name, event.environment, event.job_id, event.run_key,
        event.state, event.step_name, event.dependencies, event.attempt, event.exit_code,
        event.message, event.stream, event.seq, event.data,
    )  # fmt: skip
    if event.owners is not None:  # only then: events without owners keep their old digest
        content += (event.owners,)
    # MD5 as a checksum, not for security: the fastest 128-bit digest in hashlib here.
    return hashlib.md5(orjson.dumps(content), usedforsecurity=False).hexdigest()


def unique_events(batch: list[Event]) -> dict[str, Event]:
    """The batch's events by eventId, the first of repeats; a repeat that says something else
    is an EventConflict (silently keeping the first could lose a FAILED)."""
    unique: dict[str, Event] = {}
    clashes: list[str] = []
    for ev in batch:
        first = unique.setdefault(ev.event_id, ev)
        if first is not ev and fingerprint(first) != fingerprint(ev):
            clashes.append(ev.event_id)
    if clashes:
        raise conflict(clashes, "twice in this batch")
    return unique


def conflict(event_ids: list[str], where: str) -> EventConflict:
    """The error for eventIds that carry different content than before (`where`)."""
    names = ", ".join(repr(i) for i in sorted(set(event_ids))[:5])
    more = f" (and {len(set(event_ids)) - 5} more)" if len(set(event_ids)) > 5 else ""
    return EventConflict(
        f"eventId {names}{more} came {where} with different content; an eventId names one "
        "event for ever, so send a changed event under a new eventId. Nothing was stored.",
        details=[{"eventId": i} for i in sorted(set(event_ids))],
    )


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """The timestamps ingestion accepts, in µs since the epoch: not older than the retention
    (the run would be pruned at once) and not further ahead than the allowed clock skew (a
    far-future event would stay the newest for ever and never be pruned)."""

    earliest: int
    latest: int

    @classmethod
    def around(cls, now: int, retention_us: int, skew_us: int) -> "TimeBounds":
        return cls(now - retention_us, now + skew_us)


def time_problems(event: Event, bounds: TimeBounds) -> list[tuple[str, str]]:
    """The event's timestamp outside the bounds, as a (field, message) pair naming the bound."""
    if event.ts < 0 or bounds.earliest <= event.ts <= bounds.latest:
        return []
    if event.ts > bounds.latest:
        return [
            (
                "timestamp",
                f"{event.timestamp} is after {format_ts(bounds.latest)}, the "
                "latest accepted (now plus the allowed clock skew)",
            )
        ]
    return [
        (
            "timestamp",
            f"{event.timestamp} is before {format_ts(bounds.earliest)}, the "
            "earliest accepted (now minus the retention)",
        )
    ]


def kind_problems(event: Event) -> list[tuple[str, str]]:
    """Fields that the event's kind requires or forbids: (field, message) pairs."""
    problems: list[tuple[str, str]] = []
    if event.ts == _IMPOSSIBLE:
        problems.append(("timestamp", "is not a real date and time"))
    elif event.ts < 0:  # negative times mean "none" in the store's keys
        problems.append(("timestamp", "is before 1970-01-01T00:00:00Z, the earliest stored"))
    if event.kind == "run":
        if event.state not in RunState.__members__:
            problems.append(("state", f"a run event needs a run state: {', '.join(RunState)}"))
        if event.step_name is not None:
            problems.append(("step", "a run event has no step"))
    elif event.kind == "step":
        if event.state not in StepState.__members__:
            problems.append(("state", f"a step event needs a step state: {', '.join(StepState)}"))
        if event.step_name is None:
            problems.append(("step", "a step event needs step.name"))
    else:
        problems.extend(_log_problems(event))
    if event.kind == "log" and event.owners is not None:
        problems.append(("step", "only step events carry step.owners"))
    if event.kind != "log":
        for name in ("stream", "data", "seq"):
            if getattr(event, name) is not None:
                problems.append((name, f"only log events carry {name}"))
    return problems


def _log_problems(event: Event) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if event.step_name is None:
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


def event_batch_schema(ref_template: str) -> dict[str, Any]:
    """JSON Schema of the request body, for the OpenAPI document."""
    return BATCH_ADAPTER.json_schema(ref_template=ref_template)
