"""The OpenLineage → jobtrail mapping, without a server (SPEC §3.8)."""

import uuid
from typing import Any

import pytest

from jobtrail.domain import identity
from jobtrail.domain.errors import InvalidEvents
from jobtrail.domain.openlineage import infer_dependencies, parse_lineage

DAG_RUN = str(uuid.uuid4())
T0 = "2026-11-27T10:00:00.000+00:00"


def ol_event(
    event_type: str | None = "START",
    job: str = "etl",
    run_id: str = DAG_RUN,
    *,
    at: str = T0,
    parent: bool = False,
    facets: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    run_facets = dict(facets or {})
    if parent:
        run_facets["parent"] = {
            "run": {"runId": DAG_RUN},
            "job": {"namespace": "airflow", "name": "etl"},
        }
    body: dict[str, Any] = {
        "eventTime": at,
        "run": {"runId": run_id, "facets": run_facets},
        "job": {"namespace": "airflow", "name": job},
        "producer": "https://example.com/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        **extra,
    }
    if event_type is not None:
        body["eventType"] = event_type
    return body


def test_run_without_parent_is_a_job_run() -> None:
    (ev,) = parse_lineage(ol_event("COMPLETE"), {}).events
    assert (ev.kind, ev.state, ev.job_name, ev.environment) == (
        "run",
        "SUCCEEDED",
        "etl",
        "airflow",
    )
    assert ev.run_key == DAG_RUN
    assert ev.job_id == identity.lineage_job_id("airflow", "etl")


@pytest.mark.parametrize(
    ("ol", "state"),
    [
        ("START", "RUNNING"),
        ("RUNNING", "RUNNING"),
        ("COMPLETE", "SUCCEEDED"),
        ("FAIL", "FAILED"),
        ("ABORT", "CANCELLED"),
    ],
)
def test_event_types_map_to_states(ol: str, state: str) -> None:
    (ev,) = parse_lineage(ol_event(ol, "etl.extract", str(uuid.uuid4()), parent=True), {}).events
    assert (ev.kind, ev.step_name, ev.state) == ("step", "extract", state)


def test_other_and_absent_types_change_no_state() -> None:
    assert parse_lineage([ol_event("OTHER"), ol_event(None)], {}).events == []


def test_child_takes_its_run_identity_from_the_parent_facet_alone() -> None:
    root = parse_lineage(ol_event("START"), {"airflow": "prod"}).events[0]
    child = parse_lineage(ol_event("START", "etl.t", str(uuid.uuid4()), parent=True), {}).events[0]
    assert (child.job_id, child.run_key) == (root.job_id, root.run_key)


def test_environment_from_tags_else_namespace_mapping() -> None:
    tags = {"tags": {"tags": [{"key": "environment", "value": "staging", "source": "USER"}]}}
    assert parse_lineage(ol_event(facets=tags), {}).events[0].environment == "staging"
    assert parse_lineage(ol_event(), {"airflow": "prod"}).events[0].environment == "prod"


def test_error_message_becomes_message_and_stderr_with_stack_trace() -> None:
    error = {
        "errorMessage": {
            "message": "boom",
            "programmingLanguage": "python",
            "stackTrace": "Traceback\n  line 1",
        }
    }
    child = ol_event("FAIL", "etl.t", str(uuid.uuid4()), parent=True, facets=error)
    step, log = parse_lineage(child, {}).events
    assert (step.state, step.message) == ("FAILED", "boom")
    assert (log.kind, log.stream, log.data) == ("log", "stderr", "boom\nTraceback\n  line 1\n")
    assert log.seq == parse_lineage(child, {}).events[1].seq  # deterministic


def test_airflow_upstream_task_ids_list_or_text() -> None:
    for ids in (["b", "a"], "['b', 'a']"):
        facets = {"airflow": {"task": {"upstream_task_ids": ids}}}
        ev = parse_lineage(
            ol_event("START", "etl.c", str(uuid.uuid4()), parent=True, facets=facets), {}
        ).events[0]
        assert ev.dependencies == ["a", "b"]


def test_event_ids_derive_from_content() -> None:
    a, b = ol_event("START"), ol_event("COMPLETE")
    assert parse_lineage(a, {}).events[0].event_id == parse_lineage(dict(a), {}).events[0].event_id
    assert parse_lineage(a, {}).events[0].event_id != parse_lineage(b, {}).events[0].event_id


def test_datasets_are_kept_for_steps() -> None:
    ev = ol_event(
        "COMPLETE",
        "m2",
        str(uuid.uuid4()),
        parent=True,
        inputs=[{"namespace": "duckdb", "name": "db.main.m1", "facets": {"x": 1}}],
        outputs=[{"namespace": "duckdb", "name": "db.main.m2"}],
    )
    datasets = parse_lineage(ev, {}).datasets
    assert [(d.step_name, d.direction, d.name) for d in datasets] == [
        ("m2", "in", "db.main.m1"),
        ("m2", "out", "db.main.m2"),
    ]


def test_dependencies_inferred_from_datasets_where_events_name_none() -> None:
    datasets = [
        ("m1", "out", "ns", "a"),
        ("m2", "in", "ns", "a"),
        ("m2", "out", "ns", "b"),
        ("m3", "in", "ns", "b"),
        ("m3", "in", "ns", "a"),
        ("m4", "in", "ns", "a"),
    ]
    stored = {"m1": [], "m2": [], "m3": [], "m4": ["m9"]}
    assert infer_dependencies(stored, datasets) == {
        "m1": [],
        "m2": ["m1"],
        "m3": ["m1", "m2"],
        "m4": ["m9"],
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"eventTime": "yesterday"}, "eventTime"),
        ({"eventTime": "2026-13-01T00:00:00Z"}, "eventTime"),
        ({"run": {"runId": "not-a-uuid"}}, "run.runId"),
        ({"job": {"namespace": "airflow"}}, "job.name"),
        ({"job": {"namespace": "", "name": "x"}}, "job.namespace"),
        ({"producer": None}, "producer"),
        ({"schemaURL": 3}, "schemaURL"),
        ({"eventType": "FINISHED"}, "eventType"),
    ],
)
def test_bad_events_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidEvents) as info:
        parse_lineage({**ol_event(), **change}, {})
    assert info.value.details
    assert info.value.details[0]["field"] == field
    assert field in info.value.message


def test_a_batch_names_the_bad_event_index() -> None:
    with pytest.raises(InvalidEvents) as info:
        parse_lineage([ol_event(), {**ol_event(), "run": {"runId": "x"}}], {})
    assert info.value.details == [{"index": 1, "field": "run.runId", "message": "must be a UUID"}]


def test_unknown_facets_and_fields_are_no_error() -> None:
    ev = ol_event(facets={"spark_unknown": {"anything": [1, 2]}, "tags": "odd"}, extra_field=1)
    assert len(parse_lineage(ev, {}).events) == 1
