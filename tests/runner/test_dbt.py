"""dbt steps on real dbt and DuckDB, with the project in `dbt_shop/` (32 nodes, 2 sources).

dbt is slow, so each job runs once per module (offline, its events kept with --events-log) and
each test ingests those events into a server of its backend and reads them back from the API."""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select

from jobtrail.domain import identity
from jobtrail.runner.dbt import dbt_executable
from jobtrail.store.schema import steps as steps_table
from jobtrail.wire import paths
from tests.runner.conftest import steps_by_name
from tests.support import Api, free_port

SHOP = Path(__file__).with_name("dbt_shop")
JOB = "shop"

BUILD_AND_MORE = """
steps:
  - name: build
    dbt: {command: build, vars: {broken_column: missing_column}, threads: 2}
  - name: freshness
    dbt: {command: source freshness}
"""
UNOPENABLE = """
steps:
  - name: build
    dbt: {command: build, target: unopenable}
  - name: ops
    dbt: {command: run-operation, macro: say_hello, args: {name: jobtrail}}
"""


@dataclass
class Job:
    key: str
    code: int
    events: list[dict[str, Any]]
    project: Path


def copy_shop(folder: Path) -> Path:
    """The test project in a folder of its own, its warehouse beside it."""
    project = folder / "shop"
    shutil.copytree(SHOP, project)
    return project


def _offline_env(project: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SHOP_WAREHOUSE": str(project / "warehouse.duckdb"),
        "JOBTRAIL_ORG": "offline",
        "JOBTRAIL_API_KEY_ID": "k",
        "JOBTRAIL_API_KEY": "s",
    }


def _offline_command(project: Path, spec: str, log: Path, key: str = "k") -> list[str]:
    """`jobtrail run` against a server nobody listens on: the events are kept in `log`."""
    path = project / f"{key}.yaml"
    path.write_text(f"job: {JOB}\nenvironment: test\n" + spec)
    return [
        sys.executable, "-m", "jobtrail.cli", "run", str(path), "--parallel", "1",
        "--server", f"http://127.0.0.1:{free_port()}", "--flush-timeout", "0",
        "--spool", str(project / "spool"), "--run-key", key, "--events-log", str(log),
        "--workdir", str(project),
    ]  # fmt: skip


def _a_node_runs(log: Path) -> bool:
    lines = log.read_bytes().splitlines() if log.exists() else []
    for event in map(orjson.loads, lines[:-1]):  # the last line may be half written
        if event.get("state") == "RUNNING" and "." in event.get("step", {}).get("name", ""):
            return True
    return False


def run_offline(project: Path, spec: str, key: str) -> Job:
    log = project / f"{key}.events"
    command = _offline_command(project, spec, log, key)
    proc = subprocess.run(
        command, env=_offline_env(project), capture_output=True, text=True, timeout=600
    )
    events = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    return Job(key, proc.returncode, events, project)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Job, Job]:
    """A build with a broken model and source freshness; then, with that build's `target/`
    still in place, a build whose warehouse cannot be opened, and a macro."""
    if not Path(dbt_executable()).exists():
        pytest.skip("dbt is not installed (pip install 'jobtrail[dbt]')")
    project = copy_shop(tmp_path_factory.mktemp("dbt"))
    first = run_offline(project, BUILD_AND_MORE, "first")
    shutil.copy(project / "target" / "run_results.json", project / "first_results.json")
    return first, run_offline(project, UNOPENABLE, "stale")


def ingest(api: Api, job: Job) -> dict[str, dict[str, Any]]:
    """The job's steps as the API shows them, once its events are in the server."""
    for start in range(0, len(job.events), 5000):
        api.ingest(job.events[start : start + 5000])
    run_id = identity.run_id(api.org.id, identity.job_id(api.org.id, "test", JOB), job.key)
    return steps_by_name(api, run_id) | {"": {"runId": run_id}}


def detail(api: Api, steps: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(
        api.at(paths.STEP, runId=steps[""]["runId"], stepName=name)
    ).json()
    return body


def nodes(steps: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in steps.items() if n.count(".") >= 2}


def test_a_failing_model_fails_once_with_its_error_and_skips_what_is_downstream(
    shop: tuple[Job, Job], api: Api
) -> None:
    first, _ = shop
    assert first.code == 1
    steps = ingest(api, first)
    build = nodes({n: s for n, s in steps.items() if not n.startswith("source.")})
    assert len(build) == 32
    states = {n: s["state"] for n, s in build.items()}
    assert [n for n, s in states.items() if s == "FAILED"] == ["model.shop.countries"]
    skipped = sorted(n for n, s in states.items() if s == "SKIPPED")
    assert skipped == [
        "model.shop.country_revenue",
        "test.shop.not_null_countries_country.69e1905e51",
        "test.shop.not_null_country_revenue_country.a55e7daf15",
        "test.shop.unique_country_revenue_country.4a1a0564a0",
    ]
    rest = set(states) - set(skipped) - {"model.shop.countries"}
    assert {states[n] for n in rest} == {"SUCCEEDED"}
    assert build["model.shop.stg_customers"]["dependencies"] == ["seed.shop.customers"]
    assert build["seed.shop.customers"]["dependencies"] == ["build"]

    failed = detail(api, steps, "model.shop.countries")
    assert failed["message"].startswith('Binder Error: Referenced column "missing_column" not')
    assert "Runtime Error in model countries" in failed["stderr"]
    assert [h["state"] for h in failed["stateHistory"]] == ["RUNNING", "FAILED"]
    for name in skipped:
        node = detail(api, steps, name)
        assert [h["state"] for h in node["stateHistory"]] == ["SKIPPED"]  # never ran
        assert (node["startTime"], node["endTime"], node["duration"]) == (None, None, None)
        assert node["message"] == "upstream node 'model.shop.countries' failed"

    parent = detail(api, steps, "build")
    assert parent["state"] == "FAILED"
    assert parent["message"] == "1 of 32 dbt nodes failed: model.shop.countries"
    assert "START sql view model main.countries" in parent["stdout"]  # the whole output


def test_a_nodes_meta_owner_reaches_its_stored_step(
    shop: tuple[Job, Job], api: Api, engine: Engine
) -> None:
    """dbt_shop's models `countries` (fails) and `revenue` carry `config.meta.owner`: one
    owner, and a list of two."""
    first, _ = shop
    sent = {
        e["step"]["name"]: e["step"].get("owners")
        for e in first.events
        if e["kind"] == "step" and e["step"]["name"] == "model.shop.countries"
    }
    assert sent == {"model.shop.countries": ["countries-team@shop.test"]}
    steps = ingest(api, first)
    stored = stored_owners(engine, api, steps[""]["runId"])
    assert stored["model.shop.countries"] == ["countries-team@shop.test"]
    assert stored["model.shop.revenue"] == ["finance@shop.test", "ana@shop.test"]
    assert stored["model.shop.stg_customers"] is None
    assert stored["build"] is None


def stored_owners(engine: Engine, api: Api, run_id: str) -> dict[str, list[str] | None]:
    """The owners the store keeps for each step of the run."""
    stmt = select(steps_table.c.name, steps_table.c.owners).where(
        steps_table.c.org_id == api.org.id, steps_table.c.run_id == run_id
    )
    with engine.connect() as conn:
        return {r.name: orjson.loads(r.owners) if r.owners else None for r in conn.execute(stmt)}


def test_node_times_are_dbts_own(shop: tuple[Job, Job], api: Api) -> None:
    first, _ = shop
    steps = ingest(api, first)
    results = orjson.loads((first.project / "first_results.json").read_bytes())
    by_node = {r["unique_id"]: r for r in results["results"]}
    for name in ("model.shop.countries", "seed.shop.customers", "model.shop.revenue"):
        step, result = steps[name], by_node[name]
        took = _at(step["endTime"]) - _at(step["startTime"])
        assert abs(took.total_seconds() - result["execution_time"]) < 0.05, (name, took)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_each_node_has_its_own_output(shop: tuple[Job, Job], api: Api) -> None:
    first, _ = shop
    steps = ingest(api, first)
    seed = detail(api, steps, "seed.shop.customers")
    assert "OK loaded seed file main.customers" in seed["stdout"]
    assert "main.orders" not in seed["stdout"]
    test = detail(api, steps, "test.shop.not_null_stg_customers_country.c13d2cd104")
    assert "PASS not_null_stg_customers_country" in test["stdout"]
    failed = detail(api, steps, "model.shop.countries")
    assert "START sql view model main.countries" in failed["stdout"]
    assert "ERROR creating sql view model main.countries" in failed["stderr"]
    with_output = [n for n in nodes(steps) if detail(api, steps, n)["stdout"]]
    assert len(with_output) == len(nodes(steps))  # skipped ones say SKIP, sources their result


def test_source_freshness_reports_each_source_with_its_age(shop: tuple[Job, Job], api: Api) -> None:
    first, _ = shop
    steps = ingest(api, first)
    fresh = detail(api, steps, "source.shop.raw.fresh_events")
    stale = detail(api, steps, "source.shop.raw.stale_events")
    assert fresh["state"] == "SUCCEEDED"
    assert fresh["message"].startswith("fresh: newest row ")
    assert stale["state"] == "FAILED"
    assert stale["message"].startswith("stale: newest row ")
    assert "days old (at 2020-01-01T00:00:00" in stale["message"]
    assert "error after 1 day" in stale["message"]
    assert fresh["dependencies"] == stale["dependencies"] == ["freshness"]
    assert steps["freshness"]["state"] == "FAILED"


def test_run_operation_runs_the_macro(shop: tuple[Job, Job], api: Api) -> None:
    _, second = shop
    steps = ingest(api, second)
    ops = detail(api, steps, "ops")
    assert ops["state"] == "SUCCEEDED"
    assert "hello jobtrail" in ops["stdout"]


def test_a_stale_target_is_never_reported_as_this_runs_results(
    shop: tuple[Job, Job], api: Api
) -> None:
    """The first job left run_results.json with 27 successes; this build cannot open its
    warehouse, so dbt exits 2 before running anything, and nothing may pass for a result."""
    _, stale = shop
    assert stale.code == 1
    steps = ingest(api, stale)
    assert steps["build"]["state"] == "FAILED"
    assert steps["ops"]["state"] == "SUCCEEDED"
    assert detail(api, steps, "build")["message"].startswith(
        "dbt exited with code 2: IO Error: Cannot open file"
    )
    assert len(nodes(steps)) == 32
    for name in nodes(steps):
        node = detail(api, steps, name)
        assert [h["state"] for h in node["stateHistory"]] == ["SKIPPED"]
        assert node["message"].startswith(
            "dbt exited with code 2 before running this node: IO Error: Cannot open file"
        )


def test_a_signal_cancels_the_nodes_dbt_had_not_finished(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    if not Path(dbt_executable()).exists():
        pytest.skip("dbt is not installed (pip install 'jobtrail[dbt]')")
    project = copy_shop(tmp_path_factory.mktemp("dbt-cancel"))
    log = project / "cancel.events"
    proc = subprocess.Popen(
        _offline_command(project, "steps:\n  - {name: build, dbt: {command: build}}\n", log),
        env=_offline_env(project), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while not _a_node_runs(log):
            assert proc.poll() is None, "the run ended before dbt started a node"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    events = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    last: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["kind"] == "step":
            last[event["step"]["name"]] = event
    assert last["build"]["state"] == "CANCELLED"
    node_states = {n: e["state"] for n, e in last.items() if n != "build"}
    assert len(node_states) == 32
    assert "RUNNING" not in node_states.values()
    assert "CANCELLED" in node_states.values()
    assert all(e["message"] == "cancelled" for e in last.values() if e["state"] == "CANCELLED")
