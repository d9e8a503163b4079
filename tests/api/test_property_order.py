"""Any arrival order of the same events, with duplicates and any batching, gives byte-identical
API output (SPEC §3.4)."""

import itertools
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from jobtrail.domain import identity
from jobtrail.store.schema import steps
from jobtrail.wire import paths
from tests.conftest import MakeApi
from tests.support import Api, Org, ago, event, make_org

_BASE = ago(hours=2)
STATES_RUN = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
STATES_STEP = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED"]


@st.composite
def event_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events of two runs with few distinct timestamps, so that ties are common."""
    n = draw(st.integers(min_value=1, max_value=25))
    events = []
    for i in range(n):
        run_key = draw(st.sampled_from(["r1", "r2"]))
        at = _BASE + timedelta(seconds=draw(st.integers(0, 4)))
        kind = draw(st.sampled_from(["run", "step", "log"]))
        step_name = draw(st.sampled_from(["a", "b"]))
        eid = f"ev{i:03d}"
        if kind == "run":
            events.append(
                event("run", at, run_key, state=draw(st.sampled_from(STATES_RUN)), eventId=eid)
            )
        elif kind == "step":
            deps = draw(st.one_of(st.none(), st.sampled_from([[], ["a"], ["x", "y"]])))
            step = {"name": step_name, **({"dependencies": deps} if deps is not None else {})}
            owners = draw(st.one_of(st.none(), st.sampled_from(["o1", ["o2"], ["o1", "o3"]])))
            if owners is not None:
                step["owners"] = owners
            extra = {
                "exitCode": draw(st.one_of(st.none(), st.integers(0, 3))),
                "attempt": draw(st.integers(1, 3)),
            }
            state = draw(st.sampled_from(STATES_STEP))
            events.append(event("step", at, run_key, step=step, state=state, eventId=eid, **extra))
        else:
            seq = draw(st.integers(0, 3))
            data = f"{run_key}-{step_name}-{seq}\n"
            stream = draw(st.sampled_from(["stdout", "stderr"]))
            events.append(
                event(
                    "log",
                    at,
                    run_key,
                    step={"name": step_name},
                    stream=stream,
                    data=data,
                    seq=seq,
                    eventId=eid,
                )
            )
    return events


def _owners(engine: Engine, api: Api) -> list[tuple[str, str, str | None]]:
    """The owners stored per step (not in the API's output), by run key and step name."""
    job = identity.job_id(api.org.id, "prod", "webmodel")
    keys = {identity.run_id(api.org.id, job, k): k for k in ("r1", "r2")}
    stmt = select(steps.c.run_id, steps.c.name, steps.c.owners).where(steps.c.org_id == api.org.id)
    with engine.connect() as conn:
        return sorted((keys[r.run_id], r.name, r.owners) for r in conn.execute(stmt))


def _output(api: Api) -> bytes:
    """Every read endpoint's body for the org, with the org-derived ids made neutral."""
    parts = [api.runs("PT-6H", "PT0S").content]
    for run_key in ("r1", "r2"):
        job = identity.job_id(api.org.id, "prod", "webmodel")
        run_id = identity.run_id(api.org.id, job, run_key)
        parts.append(api.get(api.at(paths.RUN, runId=run_id)).content)
        for step in ("a", "b"):
            parts.append(api.get(api.at(paths.STEP, runId=run_id, stepName=step)).content)
            parts.append(
                api.get(api.at(paths.LOGS, runId=run_id, stepName=step, stream="stdout")).content
            )
        parts.append(run_id.encode())
    out = b"\n".join(parts)
    for run_key in ("r1", "r2"):
        job = identity.job_id(api.org.id, "prod", "webmodel")
        out = out.replace(identity.run_id(api.org.id, job, run_key).encode(), run_key.encode())
        out = out.replace(job.encode(), b"JOB")
    return out


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=event_sets(), data=st.data())
def test_any_order_any_batching_same_output(
    events: list[dict[str, Any]], data: st.DataObject, engine: Engine, make_api: MakeApi
) -> None:
    first: Org = make_org(engine)
    second: Org = make_org(engine)
    a, b = make_api(first, "admin"), make_api(second, "admin")
    a.ingest(events)
    shuffled = data.draw(st.permutations(events))
    dupes = data.draw(st.lists(st.sampled_from(events), max_size=5))
    stream = list(shuffled) + dupes
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=4)))
    bounds = [0, *cuts, len(stream)]
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            b.ingest(stream[lo:hi])
    assert _output(a) == _output(b)
    assert _owners(engine, a) == _owners(engine, b)
