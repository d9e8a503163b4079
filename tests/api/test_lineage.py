"""OpenLineage ingestion over HTTP (SPEC §3.8): the unchanged openlineage-python client with its
HTTP transport and `api_key` auth, authentication, and bad events."""

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from typing import Any

import attr
import httpx
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import RunFacet, error_message_run, parent_run

from jobtrail.domain import identity
from jobtrail.store import accounts
from tests.support import Api, Org, Server, ago, iso

PRODUCER = "https://github.com/example/jobtrail-tests"


@attr.define
class AirflowRunFacet(RunFacet):
    """The part of Airflow's `airflow` run facet the mapping reads."""

    task: dict[str, Any]


def lineage_key(org: Org, role: str = "ingest") -> str:
    key = org.keys[role]
    return accounts.openlineage_api_key(key.key.key_id, key.secret)


def ol_client(server: Server, org: Org, monkeypatch: pytest.MonkeyPatch) -> OpenLineageClient:
    """Configured the way a user does it: two environment variables."""
    monkeypatch.setenv("OPENLINEAGE_URL", server.url)
    monkeypatch.setenv("OPENLINEAGE_API_KEY", lineage_key(org))
    return OpenLineageClient()


def dag_events(start: datetime) -> list[RunEvent]:
    """A DAG run with three task runs; `transform` fails with an errorMessage facet."""
    dag_run = str(uuid.uuid4())
    dag = Job(namespace="airflow", name="etl")
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=dag_run), job=parent_run.Job(namespace="airflow", name="etl")
    )

    def at(seconds: int) -> str:
        return (start + timedelta(seconds=seconds)).isoformat()

    def task(
        name: str, upstream: list[str], state: RunState, seconds: int, run: str, **facets: Any
    ) -> RunEvent:
        airflow = AirflowRunFacet(task={"task_id": name, "upstream_task_ids": str(upstream)})
        return RunEvent(
            eventType=state,
            eventTime=at(seconds),
            run=Run(runId=run, facets={"parent": parent, "airflow": airflow, **facets}),
            job=Job(namespace="airflow", name=f"etl.{name}"),
            producer=PRODUCER,
        )

    runs = {name: str(uuid.uuid4()) for name in ("extract", "transform", "load")}
    error = error_message_run.ErrorMessageRunFacet(
        message="division by zero",
        programmingLanguage="python",
        stackTrace='Traceback (most recent call last):\n  File "t.py", line 1\nZeroDivisionError',
    )
    return [
        RunEvent(
            eventType=RunState.START,
            eventTime=at(0),
            run=Run(runId=dag_run),
            job=dag,
            producer=PRODUCER,
        ),
        task("extract", [], RunState.START, 1, runs["extract"]),
        task("extract", [], RunState.COMPLETE, 2, runs["extract"]),
        task("transform", ["extract"], RunState.START, 3, runs["transform"]),
        task("load", ["extract"], RunState.START, 3, runs["load"]),
        task("transform", ["extract"], RunState.FAIL, 4, runs["transform"], errorMessage=error),
        task("load", ["extract"], RunState.COMPLETE, 5, runs["load"]),
        RunEvent(
            eventType=RunState.FAIL,
            eventTime=at(6),
            run=Run(runId=dag_run),
            job=dag,
            producer=PRODUCER,
        ),
    ]


def run_id_of(org: Org, namespace: str, name: str, ol_run: str) -> str:
    return identity.run_id(org.id, identity.lineage_job_id(namespace, name), ol_run)


def test_openlineage_client_reports_a_dag_run(
    server: Server, org: Org, reader: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ol_client(server, org, monkeypatch)
    events = dag_events(ago(minutes=30))
    for ev in events:
        client.emit(ev)
    (run,) = reader.runs(jobName="etl").json()
    assert (run["state"], run["environment"]) == ("FAILED", "airflow")
    assert run["runId"] == run_id_of(org, "airflow", "etl", events[0].run.runId)
    detail = reader.get(f"/jobs/v1/runs/{run['runId']}").json()
    steps = {s["name"]: (s["state"], s["dependencies"]) for s in detail["steps"]}
    assert steps == {
        "extract": ("SUCCEEDED", []),
        "transform": ("FAILED", ["extract"]),
        "load": ("SUCCEEDED", ["extract"]),
    }
    step = reader.get(f"/jobs/v1/runs/{run['runId']}/steps/transform").json()
    assert step["message"] == "division by zero"
    assert step["stderr"].startswith("division by zero\nTraceback (most recent call last):")
    assert "ZeroDivisionError" in step["stderr"]
    assert [h["state"] for h in step["stateHistory"]] == ["RUNNING", "FAILED"]
    assert (step["inputs"], step["outputs"]) == ([], [])


def _post(server: Server, body: Any, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.post(f"{server.url}/api/v1/lineage", json=body, headers=headers, timeout=30)


def _event(**change: Any) -> dict[str, Any]:
    body = {
        "eventType": "START",
        "eventTime": iso(ago(minutes=5)),
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "ns", "name": "job"},
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    return {**body, **change}


def test_keys_of_every_role_and_bad_keys(server: Server, org: Org, reader: Api) -> None:
    assert _post(server, _event(), lineage_key(org, "ingest")).status_code == 200
    assert _post(server, [_event()], lineage_key(org, "admin")).status_code == 200
    denied = _post(server, _event(), lineage_key(org, "read"))
    assert denied.status_code == 403
    assert denied.json()["error"] == "forbidden"
    key = org.keys["ingest"]
    for bad in (None, "a.b", "nodot", f"{key.key.key_id}.wrong", f"{uuid.uuid4()}.{key.secret}"):
        resp = _post(server, _event(), bad)
        assert resp.status_code == 401, bad
        assert resp.json()["error"] == "unauthorized"
    assert len(reader.runs(jobName="job").json()) == 2


def test_a_revoked_key_is_refused(server: Server, org: Org, engine: Any) -> None:
    new = accounts.create_key(engine, org.id, "ingest")
    value = accounts.openlineage_api_key(new.key.key_id, new.secret)
    assert _post(server, _event(), value).status_code == 200
    accounts.revoke_key(engine, new.key.key_id)
    deadline = datetime.now().timestamp() + 10  # the key cache holds a record for 0.5 s
    while _post(server, _event(), value).status_code == 200:
        assert datetime.now().timestamp() < deadline


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"eventTime": "2026-11-27 10:00"}, "eventTime"),
        ({"run": {"runId": "123"}}, "run.runId"),
        ({"job": {"name": "x"}}, "job.namespace"),
        ({"producer": ""}, "producer"),
        ({"schemaURL": None}, "schemaURL"),
        ({"eventType": "DONE"}, "eventType"),
    ],
)
def test_a_malformed_event_is_400_and_nothing_is_stored(
    server: Server, org: Org, reader: Api, change: dict[str, Any], field: str
) -> None:
    good = _event(job={"namespace": "ns", "name": "malformed"})
    resp = _post(server, [good, _event(**change)], lineage_key(org))
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"] == "invalid_events"
    assert f"events[1].{field}" in body["message"]
    assert reader.runs(jobName="malformed").json() == []


def test_not_json_is_400(server: Server, org: Org) -> None:
    resp = httpx.post(
        f"{server.url}/api/v1/lineage",
        content=b"{not json",
        headers={"Authorization": f"Bearer {lineage_key(org)}", "Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "bad_request"


def test_datasets_make_dependencies_and_show_in_the_step(
    server: Server, org: Org, reader: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model reading what another model of the run wrote depends on it, whichever arrives
    first; the parent arrives last."""
    client = ol_client(server, org, monkeypatch)
    start = ago(minutes=20)
    root = str(uuid.uuid4())
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=root), job=parent_run.Job(namespace="dbt", name="dbt-run-shop")
    )

    def model(name: str, reads: list[str], seconds: int) -> RunEvent:
        return RunEvent(
            eventType=RunState.COMPLETE,
            eventTime=(start + timedelta(seconds=seconds)).isoformat(),
            run=Run(runId=str(uuid.uuid4()), facets={"parent": parent}),
            job=Job(namespace="dbt", name=f"shop.main.{name}"),
            producer=PRODUCER,
            inputs=[InputDataset(namespace="duckdb", name=f"shop.main.{r}") for r in reads],
            outputs=[OutputDataset(namespace="duckdb", name=f"shop.main.{name}")],
        )

    client.emit(model("orders_summary", ["orders", "customers"], 3))
    client.emit(model("orders", ["raw_orders"], 1))
    client.emit(model("customers", [], 2))
    for state, seconds in ((RunState.START, 0), (RunState.COMPLETE, 4)):
        client.emit(
            RunEvent(
                eventType=state,
                eventTime=(start + timedelta(seconds=seconds)).isoformat(),
                run=Run(runId=root),
                job=Job(namespace="dbt", name="dbt-run-shop"),
                producer=PRODUCER,
            )
        )
    run_id = run_id_of(org, "dbt", "dbt-run-shop", root)
    detail = reader.get(f"/jobs/v1/runs/{run_id}").json()
    assert detail["state"] == "SUCCEEDED"
    deps = {s["name"]: s["dependencies"] for s in detail["steps"]}
    assert deps == {
        "shop.main.orders": [],
        "shop.main.customers": [],
        "shop.main.orders_summary": ["shop.main.customers", "shop.main.orders"],
    }
    step = reader.get(f"/jobs/v1/runs/{run_id}/steps/shop.main.orders_summary").json()
    assert step["dependencies"] == ["shop.main.customers", "shop.main.orders"]
    assert step["inputs"] == [
        {"namespace": "duckdb", "name": "shop.main.customers"},
        {"namespace": "duckdb", "name": "shop.main.orders"},
    ]
    assert step["outputs"] == [{"namespace": "duckdb", "name": "shop.main.orders_summary"}]


def _cli(*args: str, db: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", *args, "--db", db],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
        check=True,
    )
    return proc.stdout


def test_key_create_prints_the_openlineage_api_key(server: Server, org: Org) -> None:
    made = json.loads(
        _cli("key", "create", "--org", org.id, "--role", "ingest", "--json", db=server.db_url)
    )
    assert made["openLineageApiKey"] == f"{made['keyId']}.{made['key']}"
    assert _post(server, _event(), made["openLineageApiKey"]).status_code == 200
    human = _cli("key", "create", "--org", org.id, "--role", "ingest", db=server.db_url)
    (line,) = [ln for ln in human.splitlines() if ln.startswith("OPENLINEAGE_API_KEY=")]
    assert _post(server, _event(), line.split("=", 1)[1]).status_code == 200
    read = _cli("key", "create", "--org", org.id, "--role", "read", "--json", db=server.db_url)
    assert "openLineageApiKey" not in json.loads(read)
