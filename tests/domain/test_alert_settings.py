"""The one parser of alert settings, shared by job specs and the catalog API."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobtrail.domain.alert_settings import (
    CONDITIONS,
    AlertSettings,
    AlertSettingsError,
    check_channels,
    parse_alert_settings,
)
from jobtrail.domain.catalog import next_run, parse_definitions
from jobtrail.domain.errors import InvalidDefinitions


def test_defaults_fill_only_what_was_not_given() -> None:
    job = parse_alert_settings({"on": ["failed"], "stuck_after": "auto"})
    org = AlertSettings(on=CONDITIONS, late_after=timedelta(minutes=5), channels=("hook",))
    merged = job.merged_over(org)
    assert merged.on == ("failed",)
    assert merged.stuck_after == "auto"
    assert merged.late_after == timedelta(minutes=5)
    assert merged.channels == ("hook",)


@given(
    on=st.none() | st.lists(st.sampled_from(CONDITIONS), max_size=4),
    stuck=st.none() | st.just("auto") | st.integers(1, 10**6),
    minimum=st.none() | st.integers(1, 10**6),
    factor=st.none() | st.floats(1.01, 1000),
)
def test_json_round_trip(
    on: list[str] | None, stuck: str | int | None, minimum: int | None, factor: float | None
) -> None:
    raw = {"on": on, "stuck_after": stuck, "min_duration": minimum, "slow_factor": factor}
    parsed = parse_alert_settings(raw)
    assert parse_alert_settings(parsed.to_json()) == parsed


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"stuck_after": "later"}, "stuck_after"),
        ({"on": "failed,late"}, "on"),
        ({"on": [1]}, "on"),
        ({"late_after": True}, "late_after"),
        ({"slow_factor": 1}, "slow_factor"),
        ({"channels": [""]}, "channels"),
        ({"when": "always"}, "when"),
    ],
)
def test_each_mistake_names_its_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(AlertSettingsError) as err:
        parse_alert_settings(raw)
    assert err.value.field == field


def test_definitions_name_index_and_field() -> None:
    good = {"jobName": "a", "environment": "prod", "schedule": "*/5 * * * *"}
    bad = {"jobName": "b", "environment": "prod", "alerts": {"min_duration": "x"}}
    with pytest.raises(InvalidDefinitions) as err:
        parse_definitions({"definitions": [good, bad, {"environment": "e"}]})
    details = err.value.details or []
    assert [(d["index"], d["field"]) for d in details] == [
        (1, "alerts.min_duration"),
        (2, "jobName"),
    ]
    assert "definitions[1].alerts.min_duration" in err.value.message


def test_next_run_reads_the_schedule_in_its_timezone() -> None:
    winter = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert next_run("0 9 * * *", "Europe/Paris", winter) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert next_run("0 9 * * *", "Europe/Paris", summer) == datetime(2026, 7, 2, 7, 0, tzinfo=UTC)


def test_channels_must_be_configured() -> None:
    check_channels(parse_alert_settings({"channels": ["hook"]}), {"hook", "mail"})
    check_channels(parse_alert_settings({}), set())  # the defaults' channels apply
    with pytest.raises(AlertSettingsError) as refused:
        check_channels(parse_alert_settings({"channels": ["hook", "mial"]}), {"hook", "mail"})
    assert refused.value.field == "channels"
    assert refused.value.reason == "'mial' is not a channel configured on the server (hook, mail)"
    with pytest.raises(InvalidDefinitions, match=r"definitions\[0\]\.alerts\.channels: 'x'"):
        parse_definitions(
            {"definitions": [{"jobName": "j", "environment": "e", "alerts": {"channels": "x"}}]},
            frozenset(),
        )
