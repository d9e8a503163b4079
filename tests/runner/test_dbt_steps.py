"""DbtSteps, the runner's side of a dbt invocation, fed the driver's JSON lines directly: whatever
dbt reports and in whatever order, each node ends exactly once, and a node that never ran gets
no RUNNING (so no start time of its own)."""

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from jobtrail.runner.dbt import DbtSteps
from jobtrail.runner.dbt.steps import owners
from jobtrail.runner.events import EventFactory
from jobtrail.wire.limits import MAX_NAME, MAX_OWNERS

NODES = [f"model.p.m{i}" for i in range(6)]
STATUSES = ["success", "error", "skipped", "pass", "fail", "warn", "runtime error"]


class _Stream:
    """Text counts once flushed (a chunker sends nothing before)."""

    def __init__(self) -> None:
        self.text = self._pending = ""

    def feed_text(self, text: str) -> None:
        self._pending += text

    def flush(self, final: bool = False) -> None:
        self.text, self._pending = self.text + self._pending, ""


class _Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.streams: dict[tuple[str, str], _Stream] = {}
        self.output = ""

    def steps(self) -> DbtSteps:
        return DbtSteps(
            "build", EventFactory("j", "e", "k"), self.events.append, self.stream, self.out
        )

    def stream(self, name: str, kind: str) -> _Stream:
        return self.streams.setdefault((name, kind), _Stream())

    def out(self, text: str) -> None:
        self.output += text

    def history(self, name: str) -> list[str]:
        return [e["state"] for e in self.events if e["step"]["name"] == name]


def _feed(steps: DbtSteps, *records: dict[str, Any]) -> None:
    for record in records:
        steps.feed(orjson.dumps(record).decode())


def _listing() -> dict[str, Any]:
    nodes = [{"id": n, "type": "model", "deps": NODES[i - 1 : i]} for i, n in enumerate(NODES)]
    return {"t": "nodes", "nodes": nodes}


AT, END = "2026-11-29T05:00:00.1", "2026-11-29T05:00:01.2"
ERROR = "Runtime Error in model m (m.sql)\n  boom"
record = st.one_of(
    st.builds(lambda n: {"t": "start", "node": n, "at": AT}, st.sampled_from(NODES)),
    st.builds(
        lambda n, s: {
            "t": "end", "node": n, "status": s, "message": ERROR,
            "started_at": AT, "finished_at": END,
        },
        st.sampled_from(NODES),
        st.sampled_from(STATUSES),
    ),
)  # fmt: skip


@given(st.lists(record, max_size=25), st.sampled_from([0, 1, 2, None]))
def test_every_node_ends_once_and_never_run_nodes_have_no_running(
    records: list[dict[str, Any]], code: int | None
) -> None:
    rec = _Recorder()
    steps = rec.steps()
    _feed(steps, _listing(), *records)
    if code is None:
        steps.cancel()
    else:
        steps.close(code)
    for node in NODES:
        states = rec.history(node)
        assert states in (["RUNNING", states[-1]], [states[-1]]), states
        assert states[-1] in ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED")
        if states == ["SKIPPED"] or states == ["CANCELLED"]:
            (event,) = [e for e in rec.events if e["step"]["name"] == node]
            assert event["message"]


def test_a_failure_carries_the_error_itself_and_dbts_times() -> None:
    rec = _Recorder()
    steps = rec.steps()
    error = 'Binder Error: Referenced column "x" not found'
    message = f"Runtime Error in model m1 (models/m1.sql)\n  {error}"
    _feed(
        steps,
        _listing(),
        {"t": "start", "node": NODES[1], "at": "2026-11-29T05:00:00.100000"},
        {"t": "log", "name": "LogStartLine", "level": "info", "msg": "START m1", "node": NODES[1]},
        {
            "t": "end", "node": NODES[1], "status": "error", "message": message,
            "started_at": "2026-11-29T05:00:00.100000", "finished_at": "2026-11-29T05:00:00.186000",
        },
        {
            "t": "results", "success": False, "error": None,
            "results": [{"node": NODES[1], "status": "error"}],
        },
        {"t": "log", "name": "Late", "level": "info", "msg": "after m1", "node": NODES[1]},
    )  # fmt: skip
    steps.close(1)
    running, failed = [e for e in rec.events if e["step"]["name"] == NODES[1]]
    assert (running["timestamp"], failed["timestamp"]) == (
        "2026-11-29T05:00:00.100000Z",
        "2026-11-29T05:00:00.186000Z",
    )
    assert failed["message"] == error
    assert rec.streams[(NODES[1], "stderr")].text == message + "\n"
    assert rec.streams[(NODES[1], "stdout")].text == "START m1\nafter m1\n"
    assert rec.output == "START m1\nafter m1\n"
    assert rec.history(NODES[2]) == ["SKIPPED"]
    assert [e["message"] for e in rec.events if e["step"]["name"] == NODES[5]] == [
        f"upstream node {NODES[1]!r} failed"
    ]
    assert rec.history(NODES[0]) == ["SKIPPED"]  # listed, but dbt never reported it
    assert steps.summary(1) == f"1 of 6 dbt nodes failed: {NODES[1]}"


def test_a_source_reports_its_freshness_from_the_results() -> None:
    rec = _Recorder()
    steps = rec.steps()
    source = "source.p.raw.events"
    _feed(
        steps,
        {"t": "nodes", "nodes": [{"id": source, "type": "source", "deps": []}]},
        {"t": "start", "node": source, "at": "2026-11-29T05:00:00"},
        {
            "t": "results", "success": True, "error": None,
            "results": [{
                "node": source, "status": "warn", "age": 50_000.0,
                "max_loaded_at": "2026-11-28T15:00:00+00:00",
                "criteria": "warn after 12 hours, error after 1 day",
                "started_at": "2026-11-29T05:00:00", "finished_at": "2026-11-29T05:00:01",
            }],
        },
    )  # fmt: skip
    steps.close(0)
    (_, done) = [e for e in rec.events if e["step"]["name"] == source]
    assert done["state"] == "SUCCEEDED"
    assert done["message"] == (
        "warning: stale: newest row 13 hours old (at 2026-11-28T15:00:00+00:00); "
        "warn after 12 hours, error after 1 day"
    )
    assert done["step"]["dependencies"] == ["build"]


def test_a_timeout_says_so_on_the_nodes_it_stopped() -> None:
    rec = _Recorder()
    steps = rec.steps()
    _feed(steps, _listing(), {"t": "start", "node": NODES[0], "at": AT})
    steps.close(-15, "timed out after 0:10:00; its processes were killed")
    assert [e["message"] for e in rec.events if e["state"] == "FAILED"] == [
        "timed out after 0:10:00; its processes were killed while this node ran"
    ]
    skipped = {e["message"] for e in rec.events if e["state"] == "SKIPPED"}
    assert skipped == {"timed out after 0:10:00; its processes were killed before this node ran"}


def test_a_nodes_meta_owner_is_on_each_of_its_events_as_a_list() -> None:
    rec = _Recorder()
    steps = rec.steps()
    listing = _listing()
    listing["nodes"][0]["owner"] = " ana@shop.test "  # dbt allows one string
    listing["nodes"][1]["owner"] = ["fin@shop.test", "", "fin@shop.test", 7, "bo"]  # or a list
    _feed(steps, listing, {"t": "start", "node": NODES[0], "at": AT})
    steps.close(1)
    owners = {e["step"]["name"]: e["step"].get("owners") for e in rec.events}
    assert [e["step"]["owners"] for e in rec.events if e["step"]["name"] == NODES[0]] == [
        ["ana@shop.test"],
        ["ana@shop.test"],
    ]
    assert owners[NODES[1]] == ["fin@shop.test", "bo"]
    assert "owners" not in next(e["step"] for e in rec.events if e["step"]["name"] == NODES[2])


def test_owners_take_what_the_server_accepts() -> None:
    for nothing in (None, "", " ", [], {"a": 1}):
        assert owners(nothing) is None
    assert owners([f"o{i}" for i in range(30)]) == [f"o{i}" for i in range(MAX_OWNERS)]
    assert owners("x" * 300) == ["x" * MAX_NAME]
