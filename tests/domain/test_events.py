"""The ingestion shape has one home: the server's checked TypedDicts follow the wire contract."""

from jobtrail.domain import events as checked
from jobtrail.wire import shapes
from jobtrail.wire.events import build_event


def test_the_validated_shape_is_the_wire_shape() -> None:
    assert checked.EventIn.__annotations__.keys() == shapes.Event.__annotations__.keys()
    assert checked.JobIn.__annotations__.keys() == shapes.JobRef.__annotations__.keys()
    assert checked.StepIn.__annotations__.keys() == shapes.StepRef.__annotations__.keys()


def test_built_events_pass_the_servers_checks() -> None:
    event = build_event(
        "step", "2026-11-28T10:00:00Z", job="j", environment="e", run_key="r",
        step={"name": "s", "dependencies": []}, state="FAILED", attempt=1, exitCode=2,
        message="x" * 5000,
    )  # fmt: skip
    batch = checked.BATCH_ADAPTER.validate_python({"events": [event]})
    parsed = checked.to_event(batch["events"][0])
    assert checked.kind_problems(parsed) == []
    assert parsed.message == "x" * 4096
