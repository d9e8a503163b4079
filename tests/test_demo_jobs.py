"""The demo's job specs are valid (a typo there would only show in the agent's log)."""

from pathlib import Path

from jobtrail.demo.jobs import write_demo_jobs
from jobtrail.runner.spec import load_spec


def test_demo_specs_load(tmp_path: Path) -> None:
    jobs = write_demo_jobs(tmp_path, with_dbt=True)
    specs = [load_spec(path) for path in sorted(jobs.glob("*.yaml"))]
    assert {s.job for s in specs} == {"nightly-export", "flaky-sync", "backfill", "web-model"}
    assert all(s.schedule for s in specs)
