"""dbt steps: each node is a step with dbt's dependencies, and a SQL error reaches its node."""

from pathlib import Path

import pytest

from jobtrail.runner.dbt import dbt_executable
from tests.runner.conftest import StartJob, steps_by_name
from tests.support import Api, Server

PROFILE = """
demo:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: {path}
      threads: 2
"""


@pytest.fixture
def dbt_project(tmp_path: Path) -> Path:
    if not Path(dbt_executable()).exists():
        pytest.skip("dbt is not installed (pip install 'jobtrail[dbt]')")
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        'name: demo\nversion: "1.0"\nprofile: demo\nmodel-paths: ["models"]\n'
    )
    (project / "profiles.yml").write_text(PROFILE.format(path=tmp_path / "warehouse.duckdb"))
    models = project / "models"
    (models / "orders.sql").write_text("select 1 as id, 10 as amount")
    (models / "revenue.sql").write_text("select sum(amount) as total from {{ ref('orders') }}")
    (models / "broken.sql").write_text("select missing_column from {{ ref('orders') }}")
    (models / "after_broken.sql").write_text("select * from {{ ref('broken') }}")
    return project


def test_dbt_nodes_become_steps(
    dbt_project: Path, start_job: StartJob, server: Server, reader: Api
) -> None:
    spec = f"""
steps:
  - name: run-dbt
    dbt: {{command: run, project_dir: {dbt_project}, profiles_dir: {dbt_project}}}
"""
    job = start_job(spec, server)
    assert job.wait(180) == 1
    steps = steps_by_name(reader, job.run_id)
    assert {n: (s["state"], s["dependencies"]) for n, s in steps.items()} == {
        "run-dbt": ("FAILED", []),
        "model.demo.orders": ("SUCCEEDED", ["run-dbt"]),
        "model.demo.revenue": ("SUCCEEDED", ["model.demo.orders"]),
        "model.demo.broken": ("FAILED", ["model.demo.orders"]),
        "model.demo.after_broken": ("SKIPPED", ["model.demo.broken"]),
    }
    broken = reader.get(f"/jobs/v1/runs/{job.run_id}/steps/model.demo.broken").json()
    assert "missing_column" in broken["stderr"]
    assert "broken" in broken["message"]
    states = [h["state"] for h in broken["stateHistory"]]
    assert states[0] == "PENDING"
    assert "RUNNING" in states
    assert states[-1] == "FAILED"
    parent = reader.get(f"/jobs/v1/runs/{job.run_id}/steps/run-dbt").json()
    assert "model main.revenue" in parent["stdout"]  # dbt's own output is the parent's stdout
