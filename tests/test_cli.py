"""The CLI as a user runs it: a real subprocess on a real store."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from jobtrail.cli.main import cli
from jobtrail.store.dialect import make_engine


def _run(*args: str, db: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", *args, "--db", db],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_org_and_key_lifecycle(db_url: str) -> None:
    org = json.loads(_run("org", "create", "acme", "--json", db=db_url).stdout)["organizationId"]
    key = json.loads(
        _run(
            "key", "create", "--org", org, "--role", "ingest", "--name", "ci", "--json", db=db_url
        ).stdout
    )
    assert set(key) >= {"keyId", "key", "role"}
    assert key["role"] == "ingest"
    listed = json.loads(_run("key", "list", "--org", org, "--json", db=db_url).stdout)["keys"]
    assert [k["keyId"] for k in listed] == [key["keyId"]]
    assert key["key"] not in json.dumps(listed)  # secrets are never shown again
    _run("key", "revoke", key["keyId"], db=db_url)
    listed = json.loads(_run("key", "list", "--org", org, "--json", db=db_url).stdout)["keys"]
    assert listed[0]["revokedAt"] is not None
    human = _run(
        "key", "create", "--org", org, "--role", "read", "--v2", "--expires", "P90D", db=db_url
    )
    assert "key id:" in human.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("key", "create", "--org", "not-a-uuid", "--role", "read"),
        ("key", "create", "--org", "00000000-0000-0000-0000-000000000000", "--role", "read"),
        ("key", "create", "--org", "00000000-0000-0000-0000-000000000000", "--role", "god"),
        ("key", "revoke", "no-such-key"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(db_url: str, args: tuple[str, ...]) -> None:
    proc = _run(*args, db=db_url, ok=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_prune_and_migrate(db_url: str) -> None:
    assert _run("migrate", db=db_url).stdout.strip() == "store is up to date"
    out = json.loads(_run("prune", "--retention", "P7D", "--json", db=db_url).stdout)
    assert out["pruned"] >= 0


def test_bad_settings_fail_loudly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", "migrate", "--db", f"sqlite:///{tmp_path}/x.db"],
        capture_output=True,
        text=True,
        env={**os.environ, "JOBTRAIL_SECRET": "changeme"},
        timeout=60,
    )
    assert proc.returncode == 2
    assert "JOBTRAIL_SECRET" in proc.stderr


def test_readme_lists_every_command() -> None:
    """Every command the CLI offers (read from the CLI itself) is in the README."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    names = []
    for name in cli.list_commands(None):
        command: Any = cli.get_command(None, name)
        if hasattr(command, "commands"):  # a group such as `org` or `key`
            names += [f"{name} {sub}" for sub in command.commands]
        else:
            names.append(name)
    assert len(names) >= 12
    missing = [n for n in names if f"jobtrail {n}" not in readme]
    assert missing == []


def test_run_starts_without_the_server_or_store_stack(tmp_path: Path) -> None:
    """`jobtrail run` is started by a scheduler for every run: reporting to a server, it must
    not load SQLAlchemy, Alembic, uvicorn or FastAPI (most of a second of start-up), nor httpx
    and Rich (a third of what is left), nor dbt (only the process running a dbt step does)."""
    spec = tmp_path / "job.yaml"
    spec.write_text("job: j\nenvironment: e\nsteps:\n  - {name: a, run: 'true'}\n")
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['jobtrail', 'run', sys.argv[1], '--server', 'http://127.0.0.1:9',"
        " '--spool', sys.argv[2], '--flush-timeout', '0']\n"
        "try:\n"
        "    runpy.run_module('jobtrail.cli', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules}"
        " & {'sqlalchemy', 'alembic', 'uvicorn', 'fastapi', 'starlette', 'pydantic_settings',"
        " 'httpx', 'rich', 'dbt'})\n"
        "print('loaded:', heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(spec), str(tmp_path / "spool")],
        capture_output=True,
        text=True,
        env={**os.environ, "JOBTRAIL_ORG": "o", "JOBTRAIL_API_KEY": "k"},
        timeout=60,
    )
    assert "a: SUCCEEDED" in proc.stderr  # it really ran the job
    assert "loaded: []" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("command", [["org", "list"], ["key", "list", "--org", "x"]])
def test_read_only_commands_do_not_migrate(tmp_path: Path, command: list[str]) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    proc = _run(*command, db=db, ok=False)
    assert proc.returncode == 2
    assert "run `jobtrail migrate` first" in proc.stderr
    engine = make_engine(db)
    assert inspect(engine).get_table_names() == []  # nothing was created
    engine.dispose()
    _run("migrate", db=db)
    assert _run("org", "list", "--json", db=db).stdout.strip() == '{"organizations":[]}'
