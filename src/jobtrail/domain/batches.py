"""Turning a decoded request body into a valid batch of events, or one error naming every bad
event's index and field (a rejected batch changes nothing)."""

from typing import Any

from pydantic import ValidationError

from jobtrail.domain.errors import InvalidEvents, PayloadTooLarge
from jobtrail.domain.events import (
    BATCH_ADAPTER,
    MAX_BATCH_EVENTS,
    Event,
    EventBatch,
    TimeBounds,
    kind_problems,
    time_problems,
    to_event,
)

_SHOWN = 10
# The pydantic errors that read the same whether the body was validated from its JSON bytes or
# decoded first (checked one by one on every field: `dict_type` and `list_type` do not, "an
# object" against "a valid dictionary"); any other type is validated again, decoded.
_SAME_FROM_BYTES = frozenset(
    {
        "missing", "extra_forbidden", "value_error", "literal_error", "string_type",
        "string_too_short", "string_too_long", "int_type", "int_parsing", "int_from_float",
        "greater_than_equal", "less_than_equal", "too_long",
    }
)  # fmt: skip


def parse_batch(
    body: Any, bounds: TimeBounds | None = None, found: ValidationError | None = None
) -> list[Event]:
    """The batch's events, or InvalidEvents naming every problem; with `bounds`, timestamps
    outside them are problems too (the server passes them; tools that import old runs not).
    `found`: what validating the same body from its bytes refused (`from_json`), named as it
    is when each of its errors reads the same either way, sparing a second validation."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise InvalidEvents('The body must be a JSON object {"events": [...]}.')
    if len(body["events"]) > MAX_BATCH_EVENTS:
        raise PayloadTooLarge(
            f"A batch may hold at most {MAX_BATCH_EVENTS} events; this one has "
            f"{len(body['events'])}. Split it."
        )
    if found is not None and all(_reads_the_same(body, e) for e in found.errors()):
        raise rejected(_pydantic_problems(found))
    try:
        batch = BATCH_ADAPTER.validate_python(body)
    except ValidationError as exc:
        raise rejected(_pydantic_problems(exc)) from None
    return batch_events(batch, bounds)


def _reads_the_same(body: Any, error: Any) -> bool:
    """Whether validating the decoded body would give this error of validating its bytes: an
    error that reads the same both ways, about the very value the decoder made (the decoder
    makes a float of an integer past 64 bits, which pydantic-core keeps: another error)."""
    if error["type"] not in _SAME_FROM_BYTES:
        return False
    value = body
    loc = error["loc"][:-1] if error["type"] == "missing" else error["loc"]
    try:
        for part in loc:
            value = value[part]
    except (KeyError, IndexError, TypeError):
        return False
    return type(value) is type(error["input"]) and bool(value == error["input"])


def from_json(raw: bytes) -> EventBatch | ValidationError:
    """The batch validated straight from the request's bytes: pydantic-core parses and checks
    in one pass, without building the decoded body first (a third of parsing's cost). When
    anything is wrong, whatever it is, what it found: the caller then decodes the body (the
    decoder tells what is JSON: pydantic-core also takes integers past 64 bits) and calls
    `parse_batch` with it, which alone shapes the answer (the body-shape and size errors, the
    exact messages), so both ways give the same answer. The two decoders agree on what is JSON
    otherwise (both refuse lone surrogates, a byte order mark, NaN; the last of repeated keys
    wins in both)."""
    try:
        return BATCH_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        return exc


def validated_json(raw: bytes) -> EventBatch | None:
    """`from_json`, None when it refuses the body."""
    batch = from_json(raw)
    return None if isinstance(batch, ValidationError) else batch


def batch_events(batch: EventBatch, bounds: TimeBounds | None = None) -> list[Event]:
    """The events of a batch that passed the schema, or InvalidEvents naming what the kinds and
    the timestamp bounds refuse (see `parse_batch`)."""
    events = [to_event(raw) for raw in batch["events"]]
    problems = [
        {"index": i, "field": field, "message": message}
        for i, ev in enumerate(events)
        for field, message in _problems(ev, bounds)
    ]
    if problems:
        raise rejected(problems)
    return events


def _problems(event: Event, bounds: TimeBounds | None) -> list[tuple[str, str]]:
    problems = kind_problems(event)
    if bounds is not None:
        problems.extend(time_problems(event, bounds))
    return problems


def _pydantic_problems(exc: ValidationError) -> list[dict[str, object]]:
    problems: list[dict[str, object]] = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "events" and isinstance(loc[1], int):
            field = ".".join(str(p) for p in loc[2:]) or "event"
            problems.append({"index": loc[1], "field": field, "message": err["msg"]})
        else:
            problems.append(
                {"index": None, "field": ".".join(map(str, loc)), "message": err["msg"]}
            )
    return problems


def rejected(problems: list[dict[str, object]]) -> InvalidEvents:
    def where(p: dict[str, object]) -> str:
        return f"events[{p['index']}].{p['field']}" if p["index"] is not None else str(p["field"])

    shown = "; ".join(f"{where(p)}: {p['message']}" for p in problems[:_SHOWN])
    more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
    return InvalidEvents(
        f"The batch was rejected and nothing was stored: {shown}{more}.", details=problems
    )
