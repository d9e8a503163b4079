"""How a dbt step is started: the driver script under the Python that dbt is installed in, with
the spec's command and pass-through options as dbt's own arguments."""

import shutil
import sys
from pathlib import Path

import orjson

from jobtrail.runner.spec import DbtSpec

DRIVER = Path(__file__).with_name("driver.py")

# Keeps dbt from calling home, which would stall an offline runner.
DBT_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_PARTIAL_PARSE": "false"}


class DbtMissing(Exception):
    """dbt (a Python dbt-core) is not installed where the runner can start it."""


def dbt_executable() -> str:
    """The dbt installed beside jobtrail (the `jobtrail[dbt]` extra), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else shutil.which("dbt") or "dbt"


def dbt_python(executable: str) -> str:
    """The interpreter dbt-core runs in: the one named by its `dbt` script's first line (a
    pipx-installed dbt has its own), or this one when dbt is installed beside jobtrail."""
    path = Path(executable)
    if not path.is_file():
        raise DbtMissing("dbt is not installed (jobtrail[dbt])")
    if path.parent == Path(sys.executable).parent:
        return sys.executable
    with path.open("rb") as script:
        first = script.readline(512)
    if not first.startswith(b"#!") or b"python" not in first:
        raise DbtMissing(f"{executable} is not dbt-core's Python script")
    return first[2:].decode("utf-8", "replace").split()[0]


def dbt_arguments(spec: DbtSpec, workdir: Path) -> list[str]:
    """dbt's command line (after `dbt`) for the spec; colours off and the console log silenced,
    since the driver reports every line itself."""
    project = workdir / spec.project_dir
    profiles = workdir / spec.profiles_dir if spec.profiles_dir else project
    args = ["--no-use-colors", "--log-level", "none", *spec.command.split()]
    if spec.macro is not None:
        args.append(spec.macro)
        if spec.args is not None:
            args += ["--args", orjson.dumps(spec.args).decode()]
    args += ["--project-dir", str(project), "--profiles-dir", str(profiles)]
    options = {"--target": spec.target, "--select": spec.select, "--exclude": spec.exclude}
    for flag, value in options.items():
        if value:
            args += [flag, value]
    if spec.vars is not None:
        args += ["--vars", orjson.dumps(spec.vars).decode()]
    if spec.threads is not None:
        args += ["--threads", str(spec.threads)]
    if spec.full_refresh:
        args.append("--full-refresh")
    return args


def driver_command(spec: DbtSpec, workdir: Path) -> list[str]:
    """The whole command line; raises DbtMissing when dbt cannot be found."""
    return [dbt_python(dbt_executable()), str(DRIVER), *dbt_arguments(spec, workdir)]
