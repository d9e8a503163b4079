"""The demo's real jobs: specs the agent runs on short schedules, and a small dbt project on a
local DuckDB warehouse (written into a folder the demo owns)."""

from pathlib import Path

SHELL_JOBS = {
    "nightly-export.yaml": """
job: nightly-export
environment: demo
schedule: "* * * * * */40"
steps:
  - name: extract
    run: for t in orders customers payments; do echo "extracting $t"; sleep 1; done
  - name: validate
    needs: [extract]
    run: echo "3 tables, 0 problems"
  - name: upload
    needs: [validate]
    run: echo "uploading to s3://demo-bucket/export/" && sleep 1 && echo done
""",
    "flaky-sync.yaml": """
job: flaky-sync
environment: demo
schedule: "* * * * * */50"
steps:
  - name: fetch-api
    run: |
      echo "GET https://api.example/v2/accounts?page=1"
      echo "HTTP 503 Service Unavailable" >&2
      echo "Traceback (most recent call last):" >&2
      echo '  File "sync.py", line 42, in fetch' >&2
      echo "requests.exceptions.HTTPError: 503 Server Error" >&2
      exit 1
    retries: 1
  - name: load
    needs: [fetch-api]
    run: echo never runs
""",
    "backfill.yaml": """
job: backfill
environment: demo
schedule: "*/3 * * * *"
owners: [data-team@demo.example]
alerts:
  stuck_after: 20s
steps:
  - name: backfill-days
    run: |
      for d in $(seq 1 90); do echo "day -$d: 1000 rows"; sleep 2; done
""",
}

DBT_JOB = """
job: web-model
environment: demo
schedule: "* * * * *"
steps:
  - name: check-sources
    run: echo "sources look fresh"
  - name: run-dbt
    needs: [check-sources]
    dbt: {{command: build, project_dir: {project}, profiles_dir: {project}}}
"""

DBT_FILES = {
    "dbt_project.yml": 'name: web\nversion: "1.0"\nprofile: web\nmodel-paths: ["models"]\n',
    "models/stg_events.sql": (
        "select range as event_id, 'page_view' as event_type, range % 7 as session_id "
        "from range(1000)"
    ),
    "models/sessions.sql": (
        "select session_id, count(*) as events from {{ ref('stg_events') }} group by 1"
    ),
    "models/page_views.sql": (
        "select event_id, session_id from {{ ref('stg_events') }} where event_type = 'page_view'"
    ),
    "models/schema.yml": (
        "version: 2\nmodels:\n  - name: sessions\n    columns:\n      - name: session_id\n"
        "        data_tests: [unique, not_null]\n"
    ),
}

PROFILE = """
web:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: {warehouse}
      threads: 2
"""


def write_demo_jobs(folder: Path, with_dbt: bool) -> Path:
    """Write the specs (and the dbt project when dbt is installed); returns the jobs folder."""
    jobs = folder / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    for name, text in SHELL_JOBS.items():
        (jobs / name).write_text(text.lstrip())
    if with_dbt:
        project = folder / "web-model"
        for name, text in DBT_FILES.items():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            (project / name).write_text(text)
        (project / "profiles.yml").write_text(PROFILE.format(warehouse=folder / "warehouse.duckdb"))
        (jobs / "web-model.yaml").write_text(DBT_JOB.format(project=project).lstrip())
    return jobs
