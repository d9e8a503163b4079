"""OpenLineage RunEvents (SPEC §3.8) mapped onto jobtrail's own events, so that the same fold,
idempotency and order independence apply to them as to a runner's events.

A run without a `parent` facet is a job run; a run whose parent facet names another run is a
step of that run. The step's run identity comes from the parent facet alone (its job and run id),
so a parent that arrives after its children ends up as the same run. An OpenLineage event has no
event id: ours are hashes of its content, so a resent event is a duplicate."""

import ast
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired
from uuid import UUID

import orjson
from pydantic import (
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    with_config,
)
from typing_extensions import TypedDict

from jobtrail.domain import identity
from jobtrail.domain.batches import rejected
from jobtrail.domain.errors import InvalidEvents, PayloadTooLarge
from jobtrail.domain.events import (
    MAX_BATCH_EVENTS,
    MAX_LOG_CHUNK_BYTES,
    MAX_NAME,
    Event,
    TimeBounds,
    Timestamp,
    kind_problems,
    time_problems,
    timestamp_micros,
)
from jobtrail.domain.names import check_step_name

STATES: dict[str, str | None] = {
    "START": "RUNNING",
    "RUNNING": "RUNNING",
    "COMPLETE": "SUCCEEDED",
    "FAIL": "FAILED",
    "ABORT": "CANCELLED",
    "OTHER": None,
}
MAX_DATASETS = 1000
_MAX_LOG_CHARS = MAX_LOG_CHUNK_BYTES // 4  # at most 4 UTF-8 bytes a character
_SEQ_SLOTS = 1024  # log seqs: eventTime in µs times this, plus a content hash modulo it
_Open = ConfigDict(extra="allow")  # unknown fields and facets are never an error
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
DatasetPart = Annotated[str, StringConstraints(min_length=1, max_length=500)]


@with_config(_Open)
class RunIn(TypedDict):
    runId: NonEmpty
    facets: NotRequired[dict[str, Any] | None]


@with_config(_Open)
class JobIn(TypedDict):
    namespace: NonEmpty
    name: NonEmpty


@with_config(_Open)
class DatasetIn(TypedDict):
    namespace: DatasetPart
    name: DatasetPart


Datasets = Annotated[list[DatasetIn], Field(max_length=MAX_DATASETS)]


@with_config(_Open)
class RunEventIn(TypedDict):
    """The fields of an OpenLineage RunEvent that the mapping relies on."""

    eventTime: Timestamp
    run: RunIn
    job: JobIn
    producer: NonEmpty
    schemaURL: NonEmpty
    eventType: NotRequired[Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"] | None]
    inputs: NotRequired[Datasets | None]
    outputs: NotRequired[Datasets | None]


_ADAPTER: TypeAdapter[list[RunEventIn]] = TypeAdapter(
    Annotated[list[RunEventIn], Field(max_length=MAX_BATCH_EVENTS)]
)


@dataclass(frozen=True, order=True)
class StepDataset:
    """One dataset a step read (`in`) or wrote (`out`), kept to infer dependencies."""

    job_id: str
    run_key: str
    step_name: str
    direction: str
    namespace: str
    name: str


@dataclass
class Mapped:
    events: list[Event]
    datasets: list[StepDataset]


def parse_lineage(
    body: Any, environments: Mapping[str, str], bounds: TimeBounds | None = None
) -> Mapped:
    """One RunEvent or an array of them → native events and step datasets, or one 400 naming
    every bad event's field (then nothing is stored); with `bounds`, an eventTime outside them
    is refused as a native timestamp would be."""
    items = body if isinstance(body, list) else [body]
    if len(items) > MAX_BATCH_EVENTS:
        raise PayloadTooLarge(f"A batch may hold at most {MAX_BATCH_EVENTS} events; split it.")
    if not all(isinstance(item, dict) for item in items):
        raise InvalidEvents("The body must be an OpenLineage RunEvent (a JSON object) or an array.")
    try:
        raws = _ADAPTER.validate_python(items)
    except ValidationError as exc:
        raise rejected(_problems(exc, isinstance(body, list))) from None
    out = Mapped([], [])
    problems: list[dict[str, object]] = []
    for i, (raw, original) in enumerate(zip(raws, items, strict=True)):
        index = i if isinstance(body, list) else None
        first = len(out.events)
        try:
            _map_one(raw, original, environments, out)
        except ValueError as exc:
            field, message = exc.args
            problems.append({"index": index, "field": field, "message": message})
            continue
        for field, message in _time_problems(out.events[first:], bounds):
            problems.append({"index": index, "field": field, "message": message})
    if problems:
        raise rejected(problems)
    return out


def _time_problems(events: list[Event], bounds: TimeBounds | None) -> list[tuple[str, str]]:
    """The native checks of the event's time (a real date, not before 1970, within bounds)."""
    if not events:
        return []
    problems = [p for p in kind_problems(events[0]) if p[0] == "timestamp"]
    if bounds is not None:
        problems.extend(time_problems(events[0], bounds))
    return [("eventTime", message) for _field, message in problems]


def _problems(exc: ValidationError, indexed: bool) -> list[dict[str, object]]:
    problems: list[dict[str, object]] = []
    for err in exc.errors(include_url=False):
        index, *path = err["loc"]
        problems.append(
            {
                "index": index if indexed else None,
                "field": ".".join(str(p) for p in path) or "event",
                "message": err["msg"],
            }
        )
    return problems


def _map_one(raw: RunEventIn, original: Any, envs: Mapping[str, str], out: Mapped) -> None:
    run_uuid = _check_uuid(raw["run"]["runId"], "run.runId")
    ts = timestamp_micros(raw["eventTime"])
    facets = raw["run"].get("facets") or {}
    parent = _parent(facets)
    digest = hashlib.sha256(orjson.dumps(original, option=orjson.OPT_SORT_KEYS)).hexdigest()
    event_id = f"ol-{digest[:40]}"
    state = STATES[raw.get("eventType") or "OTHER"]
    job = raw["job"]
    if parent is None:
        env = _environment(facets) or envs.get(job["namespace"], job["namespace"])
        base = _base(raw, event_id, ts, job["namespace"], job["name"], env, run_uuid)
        if state is not None:
            out.events.append(_with(base, kind="run", state=state, message=_error(facets)[0]))
        return
    p_ns, p_name, p_run = parent
    env = _environment(facets) or envs.get(p_ns, p_ns)
    base = _base(raw, event_id, ts, p_ns, p_name, env, p_run)
    step = _step_name(job["name"], p_name)
    message, stack = _error(facets)
    if state is not None:
        deps = _upstream(facets)
        out.events.append(
            _with(
                base, kind="step", state=state, step_name=step, dependencies=deps, message=message
            )
        )
    if message is not None:
        text = (message if stack is None else f"{message}\n{stack}")[:_MAX_LOG_CHARS]
        seq = ts * _SEQ_SLOTS + int(digest[:8], 16) % _SEQ_SLOTS
        out.events.append(
            _with(
                base,
                event_id=f"{event_id}-log",
                kind="log",
                step_name=step,
                stream="stderr",
                seq=seq,
                data=text if text.endswith("\n") else text + "\n",
            )
        )
    assert base.job_id is not None
    for direction, key in (("in", "inputs"), ("out", "outputs")):
        for ds in raw.get(key) or []:  # type: ignore[attr-defined]
            out.datasets.append(
                StepDataset(base.job_id, base.run_key, step, direction, ds["namespace"], ds["name"])
            )


def _base(
    raw: RunEventIn, event_id: str, ts: int, namespace: str, name: str, env: str, run_key: str
) -> Event:
    return Event(
        event_id,
        raw["eventTime"],
        ts,
        "run",
        name[:MAX_NAME],
        env[:MAX_NAME],
        identity.lineage_job_id(namespace, name),
        run_key,
    )


def _with(base: Event, **changes: Any) -> Event:
    return Event(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})


def _check_uuid(value: str, field: str) -> str:
    try:
        return str(UUID(value))
    except ValueError:
        raise ValueError(field, "must be a UUID") from None


def _parent(facets: dict[str, Any]) -> tuple[str, str, str] | None:
    parent = facets.get("parent")
    if not isinstance(parent, dict):
        return None
    run, job = parent.get("run"), parent.get("job")
    if not isinstance(run, dict) or not isinstance(job, dict):
        raise ValueError("run.facets.parent", "needs run.runId and job.namespace and job.name")
    ns, name = job.get("namespace"), job.get("name")
    if not isinstance(ns, str) or not ns or not isinstance(name, str) or not name:
        raise ValueError("run.facets.parent.job", "needs namespace and name")
    run_id = run.get("runId")
    if not isinstance(run_id, str):
        raise ValueError("run.facets.parent.run.runId", "must be a UUID")
    return ns, name, _check_uuid(run_id, "run.facets.parent.run.runId")


def _environment(facets: dict[str, Any]) -> str | None:
    """An `environment` (or `env`) tag of the `tags` run facet, or an `environment` facet."""
    tags = facets.get("tags")
    if isinstance(tags, dict) and isinstance(tags.get("tags"), list):
        for tag in tags["tags"]:
            if (
                isinstance(tag, dict)
                and str(tag.get("key", "")).lower() in ("environment", "env")
                and isinstance(tag.get("value"), str)
                and tag["value"]
            ):
                return str(tag["value"])
    env = facets.get("environment")
    if isinstance(env, dict):
        for field in ("environment", "name", "value"):
            if isinstance(env.get(field), str) and env[field]:
                return str(env[field])
    return None


def _error(facets: dict[str, Any]) -> tuple[str | None, str | None]:
    facet = facets.get("errorMessage")
    if not isinstance(facet, dict) or not isinstance(facet.get("message"), str):
        return None, None
    stack = facet.get("stackTrace")
    return facet["message"][:4096], stack if isinstance(stack, str) and stack else None


def _upstream(facets: dict[str, Any]) -> list[str] | None:
    """Airflow's upstream task ids (`airflow` facet, task.upstream_task_ids): a list, or the
    text of a Python list as some provider versions send it."""
    airflow = facets.get("airflow")
    task = airflow.get("task") if isinstance(airflow, dict) else None
    ids = task.get("upstream_task_ids") if isinstance(task, dict) else None
    if isinstance(ids, str):
        try:
            ids = ast.literal_eval(ids)
        except (ValueError, SyntaxError):
            return None
    if not isinstance(ids, list | tuple | set) or not all(isinstance(i, str) for i in ids):
        return None
    return sorted({_clean(i) for i in ids})


def _clean(name: str) -> str:
    name = name.replace("/", "\u2215").strip()[:MAX_NAME]
    return name


def _step_name(job_name: str, parent_name: str) -> str:
    """The child's job name without its parent's as a prefix (Airflow's `dag.task` → `task`)."""
    name = job_name
    if name.startswith(parent_name + ".") and len(name) > len(parent_name) + 1:
        name = name[len(parent_name) + 1 :]
    name = _clean(name)
    try:
        return check_step_name(name)
    except ValueError as exc:
        raise ValueError("job.name", str(exc)) from None


def infer_dependencies(
    stored: Mapping[str, list[str]], datasets: list[tuple[str, str, str, str]]
) -> dict[str, list[str]]:
    """Dependencies of a run's steps: those the events named, else the steps that wrote a
    dataset the step read. `datasets` holds (step, direction, namespace, name)."""
    writers: dict[tuple[str, str], set[str]] = {}
    for step, direction, ns, name in datasets:
        if direction == "out":
            writers.setdefault((ns, name), set()).add(step)
    result = {name: list(deps) for name, deps in stored.items()}
    inferred: dict[str, set[str]] = {}
    for step, direction, ns, name in datasets:
        if direction == "in" and step in stored and not stored[step]:
            inferred.setdefault(step, set()).update(
                w for w in writers.get((ns, name), ()) if w != step and w in stored
            )
    for step, deps in inferred.items():
        result[step] = sorted(deps)
    return result
