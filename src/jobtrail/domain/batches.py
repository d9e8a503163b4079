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


def parse_batch(body: Any, bounds: TimeBounds | None = None) -> list[Event]:
    """The batch's events, or InvalidEvents naming every problem; with `bounds`, timestamps
    outside them are problems too (the server passes them; tools that import old runs not)."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise InvalidEvents('The body must be a JSON object {"events": [...]}.')
    if len(body["events"]) > MAX_BATCH_EVENTS:
        raise PayloadTooLarge(
            f"A batch may hold at most {MAX_BATCH_EVENTS} events; this one has "
            f"{len(body['events'])}. Split it."
        )
    try:
        batch = BATCH_ADAPTER.validate_python(body)
    except ValidationError as exc:
        raise rejected(_pydantic_problems(exc)) from None
    return batch_events(batch, bounds)


def validated_json(raw: bytes) -> EventBatch | None:
    """The batch validated straight from the request's bytes: pydantic-core parses and checks
    in one pass, without building the decoded body first (a third of parsing's cost). None when
    anything is wrong, whatever it is: the caller then decodes the body and calls `parse_batch`,
    which alone shapes the answer (the body-shape and size errors, the exact messages), so both
    ways give the same answer. The two decoders agree on what is JSON (both refuse lone
    surrogates, a byte order mark, NaN; the last of repeated keys wins in both)."""
    try:
        return BATCH_ADAPTER.validate_json(raw)
    except ValidationError:
        return None


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
