"""Job specs (SPEC §4): YAML files that describe a job's DAG of steps, validated up front so a
broken spec never starts running. Every error names the file, the step and the field."""

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from jobtrail.domain.alert_settings import AlertSettings, AlertSettingsError, parse_alert_settings
from jobtrail.domain.catalog import check_schedule, check_timezone
from jobtrail.domain.dag import find_cycle
from jobtrail.domain.durations import parse_duration
from jobtrail.domain.names import check_step_name


class SpecError(Exception):
    """A job spec that cannot run; `problems` are complete sentences, one per mistake."""

    def __init__(self, path: str, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.path = path
        self.problems = problems


def _env_strings(value: Any) -> Any:
    """YAML reads `PORT: 5432` as a number; environment values are strings."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return value


EnvMap = Annotated[dict[str, str], BeforeValidator(_env_strings)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DbtCommand = Literal[
    "run", "build", "test", "seed", "snapshot", "source freshness", "run-operation"
]
# Commands that take a node selection, and those that rebuild incremental models and seeds.
SELECTING = ("run", "build", "test", "seed", "snapshot", "source freshness")
FULL_REFRESH = ("run", "build", "seed")


class DbtSpec(_Strict):
    """A dbt step: the command and what is passed through to dbt (SPEC §4)."""

    command: DbtCommand = "run"
    project_dir: str = "."
    profiles_dir: str | None = None
    target: str | None = None
    select: str | None = None
    exclude: str | None = None
    vars: dict[str, Any] | None = None
    full_refresh: bool = False
    threads: int | None = Field(default=None, ge=1, le=256)
    macro: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    args: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _fits_command(self) -> "DbtSpec":
        operation = self.command == "run-operation"
        if operation != (self.macro is not None):
            raise ValueError("`macro` is needed by command run-operation, and only by it")
        if self.args is not None and not operation:
            raise ValueError("`args` is only for command run-operation")
        if self.command not in SELECTING and (self.select or self.exclude):
            raise ValueError(f"command {self.command} takes no `select` or `exclude`")
        if self.full_refresh and self.command not in FULL_REFRESH:
            raise ValueError(f"command {self.command} takes no `full_refresh`")
        return self


class StepSpec(_Strict):
    name: str = Field(min_length=1, max_length=200)
    run: str | None = None
    dbt: DbtSpec | None = None
    needs: list[str] = Field(default_factory=list)
    timeout: timedelta | None = None
    retries: int = Field(default=0, ge=0, le=100)
    retry_delay: timedelta | None = None  # None: the growing default of `retry_wait`
    env: EnvMap = Field(default_factory=dict)
    workdir: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_step_name(value)

    @field_validator("timeout", "retry_delay", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> timedelta | None:
        return None if value is None else parse_duration(value)


FIRST_RETRY_WAIT = 10.0
MAX_RETRY_WAIT = 600.0


def retry_wait(retry_delay: timedelta | None, failed_attempt: int) -> float:
    """Seconds to wait after attempt `failed_attempt` failed: the step's `retry_delay` when it
    sets one, else 10 s doubling per attempt up to 10 minutes, as schedulers do, so a flaky
    dependency gets time to come back instead of three failures within a second."""
    if retry_delay is not None:
        return retry_delay.total_seconds()
    return min(FIRST_RETRY_WAIT * 2.0 ** (failed_attempt - 1), MAX_RETRY_WAIT)


class JobSpec(_Strict):
    job: str = Field(min_length=1, max_length=200)
    environment: str = Field(default="default", max_length=200)
    schedule: str | None = None
    timezone: str = "UTC"
    owners: list[str] = Field(default_factory=list)
    labels: EnvMap = Field(default_factory=dict)
    alerts: Annotated[AlertSettings, BeforeValidator(parse_alert_settings)] = AlertSettings()
    env: EnvMap = Field(default_factory=dict)
    workdir: str | None = None
    steps: list[StepSpec] = Field(min_length=1)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else check_schedule(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @property
    def dependencies(self) -> dict[str, list[str]]:
        return {s.name: list(s.needs) for s in self.steps}


def load_spec(path: str | Path) -> JobSpec:
    """Read and validate a spec file; raise SpecError listing every problem found."""
    where = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(where, [f"{where}: cannot be read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise SpecError(where, [f"{where}: is not UTF-8 text (byte {exc.start})"]) from None
    except yaml.YAMLError as exc:
        raise SpecError(where, [f"{where}: is not valid YAML: {exc}"]) from None
    return parse_spec(raw, where)


def parse_spec(raw: Any, where: str) -> JobSpec:
    if not isinstance(raw, dict):
        raise SpecError(where, [f"{where}: must be a mapping with `job` and `steps`"])
    try:
        spec = JobSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(where, [_describe(where, raw, e) for e in exc.errors()]) from None
    problems = _graph_problems(where, spec)
    if problems:
        raise SpecError(where, problems)
    return spec


def _step_label(raw: dict[str, Any], index: int) -> str:
    steps = raw.get("steps")
    if isinstance(steps, list) and index < len(steps) and isinstance(steps[index], dict):
        name = steps[index].get("name")
        if isinstance(name, str) and name:
            return f"step {name!r}"
    return f"step #{index + 1}"


def _describe(where: str, raw: dict[str, Any], err: Any) -> str:
    loc = list(err["loc"])
    message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, AlertSettingsError):
        field = "alerts" if cause.field == "alerts" else f"alerts.{cause.field}"
        return f"{where}: {field}: {cause.reason}"
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        field = ".".join(str(p) for p in loc[2:]) or "step"
        return f"{where}: {_step_label(raw, loc[1])}: {field}: {message}"
    return f"{where}: {'.'.join(str(p) for p in loc) or 'spec'}: {message}"


def _graph_problems(where: str, spec: JobSpec) -> list[str]:
    problems: list[str] = []
    names = [s.name for s in spec.steps]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{where}: step {name!r}: name: used by more than one step")
    for step in spec.steps:
        if (step.run is None) == (step.dbt is None):
            problems.append(f"{where}: step {step.name!r}: needs exactly one of `run` or `dbt`")
        for dep in step.needs:
            if dep not in names:
                problems.append(f"{where}: step {step.name!r}: needs: no step is named {dep!r}")
            elif dep == step.name:
                problems.append(f"{where}: step {step.name!r}: needs: a step cannot need itself")
    if not problems:
        cycle = find_cycle(spec.dependencies)
        if cycle:
            problems.append(
                f"{where}: step {cycle[0]!r}: needs: the steps form a cycle: {' -> '.join(cycle)}"
            )
    return problems
