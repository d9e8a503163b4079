"""Any arrival order, duplicates and batching of the same OpenLineage events give byte-identical
API output (SPEC §3.8), parents after children and dataset-inferred dependencies included."""

import itertools
import uuid
from datetime import timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from jobtrail.domain import identity
from jobtrail.store import accounts
from tests.conftest import MakeApi
from tests.support import Api, Org, Server, ago, iso, make_org

_BASE = ago(hours=1)
ROOT = str(uuid.uuid4())
STEPS = {"a": str(uuid.uuid4()), "b": str(uuid.uuid4()), "c": str(uuid.uuid4())}
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def _ol(kind: str, seconds: int, job: str, run: str, **extra: Any) -> dict[str, Any]:
    return {
        "eventType": kind,
        "eventTime": iso(_BASE + timedelta(seconds=seconds)),
        "run": {"runId": run, "facets": extra.pop("facets", {})},
        "job": {"namespace": "dbt", "name": job},
        "producer": "https://example.com/p",
        "schemaURL": SCHEMA,
        **extra,
    }


def _step(kind: str, seconds: int, name: str, **extra: Any) -> dict[str, Any]:
    parent = {"run": {"runId": ROOT}, "job": {"namespace": "dbt", "name": "invocation"}}
    facets = {"parent": parent, **extra.pop("facets", {})}
    return _ol(kind, seconds, name, STEPS[name], facets=facets, **extra)


def _ds(name: str) -> list[dict[str, str]]:
    return [{"namespace": "duckdb", "name": name}]


def _error(message: str) -> dict[str, Any]:
    return {"errorMessage": {"message": message, "programmingLanguage": "sql", "stackTrace": "at"}}


# Ties on purpose (same eventTime for different states of one step), datasets split over events.
EVENTS = [
    _ol("START", 0, "invocation", ROOT),
    _step("START", 1, "a", outputs=_ds("t_a")),
    _step("COMPLETE", 2, "a", outputs=_ds("t_a")),
    _step("START", 2, "b", inputs=_ds("t_a")),
    _step("COMPLETE", 3, "b", outputs=_ds("t_b")),
    _step("START", 3, "c", inputs=_ds("t_b")),
    _step("FAIL", 3, "c", inputs=_ds("t_a"), facets=_error("bad sql")),
    _step("ABORT", 3, "c", facets=_error("cancelled")),
    _step("OTHER", 4, "b", inputs=_ds("t_x")),
    _ol("FAIL", 5, "invocation", ROOT),
    _ol("COMPLETE", 5, "invocation", ROOT),
]


def _post(server: Server, key: str, events: list[dict[str, Any]]) -> None:
    body: Any = events[0] if len(events) == 1 else events
    resp = httpx.post(
        f"{server.url}/api/v1/lineage", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert resp.status_code == 200, resp.text


def _output(api: Api) -> bytes:
    job = identity.lineage_job_id("dbt", "invocation")
    run_id = identity.run_id(api.org.id, job, ROOT)
    parts = [api.runs("PT-6H", "PT0S").content, api.get(f"/jobs/v1/runs/{run_id}").content]
    for step in STEPS:
        parts.append(api.get(f"/jobs/v1/runs/{run_id}/steps/{step}").content)
        parts.append(api.get(f"/jobs/v1/runs/{run_id}/steps/{step}/logs/stderr").content)
    return b"\n".join(parts).replace(run_id.encode(), b"RUN")


def _key(org: Org) -> str:
    key = org.keys["ingest"]
    return accounts.openlineage_api_key(key.key.key_id, key.secret)


# No shrinking: each example posts to a real server, and shrinking took minutes.
@settings(
    max_examples=15,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_order_duplicates_and_batching_same_output(
    data: st.DataObject, server: Server, engine: Engine, make_api: MakeApi
) -> None:
    first, second = make_org(engine), make_org(engine)
    _post(server, _key(first), EVENTS)
    stream = list(data.draw(st.permutations(EVENTS)))
    stream += data.draw(st.lists(st.sampled_from(EVENTS), max_size=4))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    for lo, hi in itertools.pairwise([0, *cuts, len(stream)]):
        if hi > lo:
            _post(server, _key(second), stream[lo:hi])
    a, b = make_api(first, "read"), make_api(second, "read")
    expected = _output(a)
    assert _output(b) == expected
    assert b'"dependencies":["a","b"]' in expected  # c reads t_a (a wrote it) and t_b (b)
