"""dbt overhead (issue 12): `jobtrail run` of a `dbt build` step against a plain `dbt build` of
the same project (tests/runner/dbt_shop: 4 seeds, 9 models, a snapshot, 18 tests = 32 nodes) on
DuckDB, alternating in the same run, each from a clean warehouse and an empty `target/`, the
runner reporting over HTTP to a real server. Target: ratio of medians at most 1.15.

    python benchmarks/dbt.py [ROUNDS]     # default 5 rounds (each one of both)"""

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import ROOT, _sqlite, make_org, serve

from jobtrail.runner.dbt import DBT_ENV, dbt_executable

SHOP = ROOT / "tests" / "runner" / "dbt_shop"


def _clean(project: Path) -> None:
    (project / "warehouse.duckdb").unlink(missing_ok=True)
    shutil.rmtree(project / "target", ignore_errors=True)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: list[str], env: dict[str, str], project: Path) -> tuple[float, float]:
    """Wall time, and CPU time of the command and all it waited for (less at the mercy of a
    busy machine than wall time)."""
    _clean(project)
    began, cpu = time.perf_counter(), _cpu()
    code = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - began
    assert code.returncode == 0, f"{cmd[:4]} failed ({code.returncode})"
    return elapsed, _cpu() - cpu


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, _sqlite() as db_url:
        project = Path(tmp) / "shop"
        shutil.copytree(SHOP, project)
        spec = Path(tmp) / "job.yaml"
        spec.write_text(
            "job: bench-dbt\nenvironment: bench\nsteps:\n"
            f"  - {{name: build, dbt: {{command: build, project_dir: {project}}}}}\n"
        )
        with serve(db_url) as (server, engine):
            org = make_org(engine)
            key = org.keys["ingest"]
            env = {
                **os.environ,
                **DBT_ENV,
                "SHOP_WAREHOUSE": str(project / "warehouse.duckdb"),
                "JOBTRAIL_ORG": org.id,
                "JOBTRAIL_API_KEY_ID": key.key.key_id,
                "JOBTRAIL_API_KEY": key.secret,
            }
            plain_cmd = [dbt_executable(), "build", "--project-dir", str(project)]
            plain_cmd += ["--profiles-dir", str(project)]
            runner_cmd = [sys.executable, "-m", "jobtrail.cli", "run", str(spec)]
            runner_cmd += ["--server", server.url, "--spool", str(Path(tmp) / "spool")]
            plain, runner = [], []
            for _ in range(rounds):
                plain.append(_timed(plain_cmd, env, project))
                runner.append(_timed(runner_cmd, env, project))
            print(f"dbt build of a 32-node DuckDB project, {rounds} rounds, alternating")
            for label, index in (("wall", 0), ("CPU", 1)):
                mine, theirs = [r[index] for r in runner], [p[index] for p in plain]
                ratios = sorted(r / p for r, p in zip(mine, theirs, strict=True))
                print(f"  {label} time: plain dbt build  {_summary(theirs)}")
                print(f"  {label} time: jobtrail run     {_summary(mine)}")
                print(
                    f"  {label} ratio of medians "
                    f"{statistics.median(mine) / statistics.median(theirs):.2f} (target <= 1.15);"
                    f" per-round ratios {', '.join(f'{r:.2f}' for r in ratios)}"
                )


def _summary(times: list[float]) -> str:
    return f"median {statistics.median(times):5.2f} s  min {min(times):5.2f}  max {max(times):5.2f}"


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
