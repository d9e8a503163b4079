"""A job spec's `alerts:` and `timezone`: good settings load, each bad one is refused by
`jobtrail run` with exit 2 naming the field."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from jobtrail.runner.catalog import definition_payload
from jobtrail.runner.spec import SpecError, load_spec

SPEC = """
job: webmodel
environment: prod
schedule: "0 9 * * *"
timezone: Europe/Paris
owners: [data@acme.example]
labels: {team: data}
alerts:
  on: [failed, stuck, late]
  stuck_after: 2h
  min_duration: 30s
  late_after: 10m
  channels: [team-hook]
steps:
  - {name: s, run: "true"}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


def test_alert_settings_load_and_become_the_definition(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, SPEC))
    assert spec.alerts.on == ("failed", "stuck", "late")  # YAML's bare `on:` key is not `true`
    assert spec.alerts.stuck_after == timedelta(hours=2)
    payload = definition_payload(spec)
    assert payload == {
        "jobName": "webmodel",
        "environment": "prod",
        "schedule": "0 9 * * *",
        "timezone": "Europe/Paris",
        "owners": ["data@acme.example"],
        "labels": {"team": "data"},
        "alerts": {
            "on": ["failed", "stuck", "late"],
            "stuck_after": 7200.0,
            "min_duration": 30.0,
            "late_after": 600.0,
            "channels": ["team-hook"],
        },
        "scheduled": True,
    }
    assert definition_payload(spec, scheduled=False)["scheduled"] is False


def test_stuck_after_auto(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, SPEC.replace("stuck_after: 2h", "stuck_after: auto")))
    assert spec.alerts.stuck_after == "auto"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("stuck_after: 2h", "stuck_after: soon"), "alerts.stuck_after: 'soon' is not a duration"),
        (("min_duration: 30s", "min_duration: -5"), "alerts.min_duration: "),
        (("late_after: 10m", "late_after: [1]"), "alerts.late_after: expected a duration"),
        (("on: [failed, stuck, late]", "on: [failed, exploded]"), "alerts.on: 'exploded' is not"),
        (("channels: [team-hook]", "chanels: [x]"), "alerts.chanels: unknown setting"),
        (("channels: [team-hook]", "slow_factor: 0.5"), "alerts.slow_factor: must be a number"),
        (("alerts:\n", "alerts: loud\nx:\n"), "alerts: must be a mapping"),
        (("timezone: Europe/Paris", "timezone: Mars/Olympus"), "timezone: "),
    ],
)
def test_run_refuses_bad_alert_settings_naming_the_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = _write(tmp_path, SPEC.replace(*change))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert any(expected in p for p in err.value.problems), err.value.problems
    proc = subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", "run", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert expected in proc.stderr
