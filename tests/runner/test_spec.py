"""Job spec validation: each mistake refused with the file, the step and the field named."""

import subprocess
import sys
from pathlib import Path

import pytest

from jobtrail.runner.spec import SpecError, load_spec

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
