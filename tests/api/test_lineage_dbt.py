"""`dbt-ol run` from openlineage-dbt, unchanged, on a real dbt project on DuckDB, reporting to a
real server: the invocation is a run, each model a step, dependencies from the datasets."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobtrail.domain import identity
from jobtrail.store import accounts
from tests.support import Api, Org, Server

PROFILE = """
shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: {path}
      threads: 1
"""


@pytest.fixture
def dbt_project(tmp_path: Path) -> Path:
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "dbt-ol").exists() or not (bin_dir / "dbt").exists():
        pytest.skip("dbt and openlineage-dbt are not installed")
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        'name: shop\nversion: "1.0"\nprofile: shop\nmodel-paths: ["models"]\n'
    )
    (project / "profiles.yml").write_text(PROFILE.format(path=tmp_path / "warehouse.duckdb"))
    models = project / "models"
    (models / "orders.sql").write_text("select 1 as id, 10 as amount")
    (models / "revenue.sql").write_text("select sum(amount) as total from {{ ref('orders') }}")
    (models / "broken.sql").write_text("select missing_column from {{ ref('orders') }}")
    return project


def test_dbt_ol_run_appears_as_a_run_with_model_steps(
    dbt_project: Path, server: Server, org: Org, reader: Api
) -> None:
    key = org.keys["ingest"]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "OPENLINEAGE_URL": server.url,
        "OPENLINEAGE_API_KEY": accounts.openlineage_api_key(key.key.key_id, key.secret),
    }
    dbt_ol = shutil.which("dbt-ol", path=env["PATH"])
    assert dbt_ol is not None
    proc = subprocess.run(
        [dbt_ol, "run", "--profiles-dir", "."],
        cwd=dbt_project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the broken model fails the run
    assert "Emitted 8 OpenLineage events" in proc.stdout + proc.stderr
    (run,) = reader.runs(jobName="dbt-run-shop").json()
    assert run["state"] == "FAILED"
    assert run["jobId"] == identity.lineage_job_id("dbt", "dbt-run-shop")
    steps = reader.get(f"/jobs/v1/runs/{run['runId']}/steps").json()
    got = {s["name"]: (s["state"], s["dependencies"]) for s in steps}
    orders = "warehouse.main.shop.orders"
    assert got == {
        orders: ("SUCCEEDED", []),
        "warehouse.main.shop.revenue": ("SUCCEEDED", [orders]),
        "warehouse.main.shop.broken": ("FAILED", [orders]),
    }
    step = reader.get(f"/jobs/v1/runs/{run['runId']}/steps/warehouse.main.shop.revenue").json()
    assert step["inputs"] == [
        {"namespace": step["inputs"][0]["namespace"], "name": "warehouse.main.orders"}
    ]
    assert [o["name"] for o in step["outputs"]] == ["warehouse.main.revenue"]
