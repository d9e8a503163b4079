"""Job spec validation: each mistake refused with the file, the step and the field named."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from jobtrail.runner.dbt import dbt_arguments
from jobtrail.runner.spec import JobSpec, SpecError, load_spec, parse_spec, retry_wait

GOOD = """
job: webmodel
environment: com.acme-prod1
schedule: "0 * * * *"
owners: [data-team@acme.example]
steps:
  - name: git-clone-cache
    run: echo clone
  - name: run-dbt
    needs: [git-clone-cache]
    run: echo dbt
    timeout: 30m
    retries: 1
    env: {DBT_TARGET: prod}
"""


def _load(tmp_path: Path, text: str) -> SpecError:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    return err.value


def test_good_spec_loads(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(GOOD)
    spec = load_spec(path)
    assert spec.dependencies == {"git-clone-cache": [], "run-dbt": ["git-clone-cache"]}
    assert spec.steps[1].timeout is not None
    assert spec.steps[1].timeout.total_seconds() == 1800


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("    retries: 1", "    retries: 1\n    retires: 2"),
            "step 'run-dbt': retires: unknown key",
        ),
        (("job: webmodel", "job: webmodel\ncolour: blue"), "colour: unknown key"),
        (("name: run-dbt", "name: git-clone-cache"), "step 'git-clone-cache': name: used by more"),
        (("needs: [git-clone-cache]", "needs: [git-clone]"), "needs: no step is named 'git-clone'"),
        (("timeout: 30m", "timeout: soon"), "step 'run-dbt': timeout: "),
        (('schedule: "0 * * * *"', 'schedule: "every hour"'), "schedule: "),
        (("    run: echo dbt", "    env2: {}"), "env2: unknown key"),
        (("    run: echo dbt", "    dbt: {command: run}"), ""),
        (("    run: echo clone", "    retries: 0"), "step 'git-clone-cache': needs exactly one of"),
        (("    run: echo dbt", "    run: echo dbt\n    dbt: {command: run}"), "needs exactly one"),
    ],
)
def test_each_mistake_is_named(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    text = GOOD.replace(*change)
    if not expected:
        path = tmp_path / "job.yaml"
        path.write_text(text)
        assert load_spec(path).steps[1].dbt is not None
        return
    error = _load(tmp_path, text)
    assert any(expected in p for p in error.problems), error.problems
    assert all(p.startswith(str(tmp_path / "job.yaml")) for p in error.problems)


def test_cycle_names_the_steps(tmp_path: Path) -> None:
    text = """
job: loop
steps:
  - {name: a, run: "true", needs: [c]}
  - {name: b, run: "true", needs: [a]}
  - {name: c, run: "true", needs: [b]}
  - {name: d, run: "true"}
"""
    error = _load(tmp_path, text)
    assert any("cycle" in p and "a" in p and "b" in p and "c" in p for p in error.problems)
    assert not any("'d'" in p for p in error.problems)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    assert "not valid YAML" in _load(tmp_path, "job: [unclosed").problems[0]
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "nope.yaml")
    assert "cannot be read" in err.value.problems[0]
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("job: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(SpecError) as err:
        load_spec(latin)
    assert "is not UTF-8 text" in err.value.problems[0]


def test_cli_exits_2_on_an_invalid_spec(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(GOOD.replace("timeout: 30m", "timeout: soon"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobtrail.cli",
            "run",
            str(path),
            "--db",
            f"sqlite:///{tmp_path}/x.db",
            "--org",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "step 'run-dbt': timeout" in proc.stderr


def _dbt_step(dbt: dict[str, object]) -> JobSpec:
    return parse_spec({"job": "j", "steps": [{"name": "models", "dbt": dbt}]}, "job.yaml")


def test_dbt_options_are_passed_through_to_dbt(tmp_path: Path) -> None:
    spec = _dbt_step(
        {
            "command": "build",
            "project_dir": "shop",
            "target": "prod",
            "select": "tag:nightly",
            "exclude": "orders+",
            "vars": {"day": "2026-11-29"},
            "full_refresh": True,
            "threads": 8,
        }
    )
    dbt = spec.steps[0].dbt
    assert dbt is not None
    args = dbt_arguments(dbt, tmp_path)
    assert args[args.index("build") :] == [
        "build", "--project-dir", str(tmp_path / "shop"), "--profiles-dir", str(tmp_path / "shop"),
        "--target", "prod", "--select", "tag:nightly", "--exclude", "orders+",
        "--vars", '{"day":"2026-11-29"}', "--threads", "8", "--full-refresh",
    ]  # fmt: skip
    freshness = _dbt_step({"command": "source freshness", "select": "source:raw"}).steps[0].dbt
    assert freshness is not None
    assert dbt_arguments(freshness, tmp_path)[3:6] == ["source", "freshness", "--project-dir"]
    operation = _dbt_step({"command": "run-operation", "macro": "grant", "args": {"to": "bi"}})
    assert operation.steps[0].dbt is not None
    args = dbt_arguments(operation.steps[0].dbt, tmp_path)
    assert args[3:7] == ["run-operation", "grant", "--args", '{"to":"bi"}']


@pytest.mark.parametrize(
    ("dbt", "expected"),
    [
        ({"command": "compile"}, "dbt.command: Input should be 'run', 'build'"),
        ({"command": "run-operation"}, "`macro` is needed by command run-operation"),
        ({"command": "run", "macro": "grant"}, "`macro` is needed by command run-operation"),
        ({"command": "run-operation", "macro": "g", "select": "x"}, "takes no `select`"),
        ({"command": "test", "full_refresh": True}, "command test takes no `full_refresh`"),
        ({"command": "run", "args": {}}, "`args` is only for command run-operation"),
        ({"command": "run", "threads": 0}, "dbt.threads: Input should be greater than"),
        ({"command": "run", "vars": "day=1"}, "dbt.vars: Input should be a valid dictionary"),
        ({"command": "run-operation", "macro": "drop; rm"}, "dbt.macro: String should match"),
    ],
)
def test_dbt_mistakes_are_named(dbt: dict[str, object], expected: str) -> None:
    with pytest.raises(SpecError) as err:
        _dbt_step(dbt)
    assert any(p.startswith("job.yaml: step 'models': ") for p in err.value.problems)
    assert any(expected in p for p in err.value.problems), err.value.problems


def test_retries_wait_ten_seconds_doubling_unless_the_step_says() -> None:
    assert [retry_wait(None, n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert retry_wait(None, 30) == 600  # capped at ten minutes
    assert retry_wait(timedelta(seconds=3), 1) == retry_wait(timedelta(seconds=3), 5) == 3
    text = GOOD.replace("retries: 1", "retries: 1\n    retry_delay: 2m")
    spec = parse_spec(yaml.safe_load(text), "job.yaml")
    assert spec.steps[1].retry_delay == timedelta(minutes=2)
