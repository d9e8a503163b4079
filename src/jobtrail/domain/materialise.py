"""The materialisation rule (SPEC §3.4), as a fold of a batch into per-run and per-step rows.

Each row carries *keys* (timestamp, state rank, event id) next to the values they decide. The
store merges a folded row into the stored one with the same comparison, so the result depends only
on the set of events, never on the order of arrival or on how they were split into batches.
"""

from dataclasses import dataclass, field

import orjson

from jobtrail.domain import identity
from jobtrail.domain.events import Event, fingerprint
from jobtrail.domain.states import NO_RANK, rank

Key = tuple[int, int, str]
NO_KEY: Key = (-1, NO_RANK, "")


@dataclass
class RunRow:
    org_id: str
    run_id: str
    job_id: str
    job_name: str
    environment: str
    run_key: str
    state: str = "PENDING"
    state_key: Key = NO_KEY
    attempt: int | None = None
    exit_code: int | None = None
    message: str | None = None
    first_event_ts: int | None = None
    first_running_ts: int | None = None
    last_key: Key = NO_KEY
    last_event_ts: int = -1


@dataclass
class StepRow:
    org_id: str
    run_id: str
    name: str
    state: str = "PENDING"
    state_key: Key = NO_KEY
    dependencies: str = "[]"
    deps_key: Key = NO_KEY
    attempt: int = 1
    exit_code: int | None = None
    message: str | None = None
    first_event_ts: int | None = None
    first_running_ts: int | None = None
    owners: str | None = None  # JSON list, from the newest step event that carries owners
    owners_key: Key = NO_KEY


@dataclass
class LogChunk:
    org_id: str
    run_id: str
    step_name: str
    stream: str
    seq: int
    data: bytes
    ts: int  # the log event's timestamp (the chunk's partition on PostgreSQL)
    attempt: int | None = None  # the step's attempt that wrote it, when the reporter says
    # Bytes of data, derived here once: the chunk's fields are its row as they are.
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.data)


@dataclass
class Folded:
    """A batch of new events reduced to the rows the store writes."""

    events: list[dict[str, object]] = field(default_factory=list)
    runs: dict[str, RunRow] = field(default_factory=dict)
    steps: dict[tuple[str, str], StepRow] = field(default_factory=dict)
    chunks: dict[tuple[str, str, str, int], LogChunk] = field(default_factory=dict)


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def event_key(ts: int, state: str | None, event_id: str) -> Key:
    return (ts, rank(state) if state else NO_RANK, event_id)


def fold(org_id: str, events: list[Event]) -> Folded:
    """Reduce already de-duplicated events to event rows and merged run/step/log rows."""
    out = Folded()
    ids: dict[tuple[str, str, str | None, str], tuple[str, str]] = {}
    for ev in events:
        ts = ev.ts
        ident = (ev.environment, ev.job_name, ev.job_id, ev.run_key)
        if ident not in ids:  # hash once per run, not once per event
            job_id = identity.job_id(org_id, ev.environment, ev.job_name, ev.job_id)
            ids[ident] = (job_id, identity.run_id(org_id, job_id, ev.run_key))
        job, rid = ids[ident]
        run = out.runs.get(rid)
        if run is None:
            run = out.runs[rid] = RunRow(org_id, rid, job, ev.job_name, ev.environment, ev.run_key)
        run.last_event_ts = max(run.last_event_ts, ts)
        if ev.kind == "log":  # stored as a chunk only: its (stream, seq) makes it idempotent
            _fold_log(out, org_id, rid, ev)
            continue
        out.events.append(_event_row(org_id, rid, ev.step_name, ts, ev))
        key = event_key(ts, ev.state, ev.event_id)
        _fold_common(run, key, ev)
        if ev.kind == "run":
            _fold_run(run, key, ev)
        else:
            _fold_step(out, org_id, rid, key, ev)
    return out


def _event_row(
    org_id: str, rid: str, step_name: str | None, ts: int, ev: Event
) -> dict[str, object]:
    return {
        "org_id": org_id,
        "event_id": ev.event_id,
        "ts": ts,
        "kind": ev.kind,
        "run_id": rid,
        "step_name": step_name,
        "state": ev.state,
        "state_rank": rank(ev.state) if ev.state else NO_RANK,
        "attempt": ev.attempt,
        "exit_code": ev.exit_code,
        "message": ev.message,
        "fingerprint": fingerprint(ev),
    }


def _fold_common(run: RunRow, key: Key, ev: Event) -> None:
    """What every state event (run or step) decides for its run: first and last activity."""
    run.first_event_ts = _min(run.first_event_ts, key[0])
    if key > run.last_key:
        run.last_key = key
        run.job_name, run.environment = ev.job_name, ev.environment


def _fold_run(run: RunRow, key: Key, ev: Event) -> None:
    assert ev.state is not None
    if ev.state == "RUNNING":
        run.first_running_ts = _min(run.first_running_ts, key[0])
    if key > run.state_key:
        run.state_key, run.state = key, ev.state
        run.attempt, run.exit_code, run.message = ev.attempt, ev.exit_code, ev.message


def _step_row(out: Folded, org_id: str, rid: str, name: str) -> StepRow:
    step = out.steps.get((rid, name))
    if step is None:
        step = out.steps[(rid, name)] = StepRow(org_id, rid, name)
    return step


def _fold_step(out: Folded, org_id: str, rid: str, key: Key, ev: Event) -> None:
    assert ev.step_name is not None
    assert ev.state is not None
    step = _step_row(out, org_id, rid, ev.step_name)
    step.first_event_ts = _min(step.first_event_ts, key[0])
    if ev.state == "RUNNING":
        step.first_running_ts = _min(step.first_running_ts, key[0])
    if ev.attempt is not None:
        step.attempt = max(step.attempt, ev.attempt)
    if key > step.state_key:
        step.state_key, step.state = key, ev.state
        step.exit_code, step.message = ev.exit_code, ev.message
    if ev.dependencies is not None and key > step.deps_key:
        step.deps_key = key
        step.dependencies = orjson.dumps(ev.dependencies).decode()
    if ev.owners is not None and key > step.owners_key:
        step.owners_key = key
        step.owners = orjson.dumps(ev.owners).decode()


def _fold_log(out: Folded, org_id: str, rid: str, ev: Event) -> None:
    assert ev.step_name is not None
    assert ev.stream is not None
    assert ev.seq is not None
    assert ev.data is not None
    _step_row(out, org_id, rid, ev.step_name)  # a log may arrive before the step's first event
    ck = (rid, ev.step_name, ev.stream, ev.seq)
    if ck not in out.chunks:  # chunks are deduplicated by (stream, seq): the first one stays
        data = ev.data.encode("utf-8")
        out.chunks[ck] = LogChunk(
            org_id, rid, ev.step_name, ev.stream, ev.seq, data, ev.ts, ev.attempt
        )
