"""Runs one dbt command inside dbt's own Python and reports it as JSON lines on stdout.

Started by the runner as `PYTHON driver.py DBT-ARGS...` with the interpreter dbt is installed
in, so this file imports only the standard library and dbt (never jobtrail). One invocation
parses the project once: the selected nodes are reported the moment dbt has selected them
(`{"t": "nodes"}`), node starts and ends as dbt fires them, every readable log line, and at the
end the results of this invocation, taken from memory rather than from `target/` (which may
hold an older run's files).
"""

import json
import sys
import threading
from typing import Any

_lock = threading.Lock()
# Events about a node that do not mean it is running (a skipped node also gets NodeStart).
_NOT_RUNNING = {"NodeStart", "NodeFinished", "SkippingDetails", "LogSkipBecauseError"}
_LEVELS = {"info", "warn", "error"}


def _out(record: dict[str, Any]) -> None:
    line = json.dumps(record, default=str)
    with _lock:  # dbt's worker threads call back concurrently: one whole line at a time
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class _Events:
    """dbt's event callback: log lines, node starts and node ends."""

    def __init__(self) -> None:
        self._started: set[str] = set()

    def __call__(self, msg: Any) -> None:
        info, data = msg.info, msg.data
        node = data.node_info if _has(data, "node_info") else None
        uid = node.unique_id if node is not None and node.unique_id else None
        if info.level in _LEVELS and info.msg:
            _out({"t": "log", "name": info.name, "level": info.level, "msg": info.msg, "node": uid})
        if uid is None or node is None:
            return
        if info.name == "NodeFinished":
            self._finished(uid, node, data.run_result)
        elif info.name not in _NOT_RUNNING and uid not in self._started:
            self._started.add(uid)
            _out({"t": "start", "node": uid, "at": node.node_started_at})

    def _finished(self, uid: str, node: Any, result: Any) -> None:
        if uid.startswith("source."):  # freshness: reported with its age from the results
            return
        _out(
            {
                "t": "end",
                "node": uid,
                "status": result.status,
                "started_at": node.node_started_at,
                "finished_at": node.node_finished_at,
                "message": result.message,
            }
        )


def _has(data: Any, field: str) -> bool:
    try:
        return bool(data.HasField(field))
    except ValueError:  # this event type has no such field
        return False


def _report_selection() -> None:
    """Report the nodes dbt selected, right after it selected them, with their dependencies.
    dbt has no event carrying the selection, so the task's initialisation is wrapped; if a dbt
    version lacks it, nodes are still reported as they start, only not in advance."""
    try:
        from dbt.task.runnable import GraphRunnableTask
    except ImportError:
        return
    original = getattr(GraphRunnableTask, "_runtime_initialize", None)
    if original is None:
        return

    def initialise(task: Any) -> None:
        original(task)
        nodes = []
        for node in task._flattened_nodes or ():
            depends = getattr(getattr(node, "depends_on", None), "nodes", None) or []
            kind = getattr(node.resource_type, "value", node.resource_type)
            record = {"id": node.unique_id, "type": str(kind), "deps": list(depends)}
            owner = _owner(node)
            if owner is not None:
                record["owner"] = owner
            nodes.append(record)
        _out({"t": "nodes", "nodes": nodes})

    GraphRunnableTask._runtime_initialize = initialise  # type: ignore[method-assign]


def _owner(node: Any) -> Any:
    """The node's `meta.owner` (a string or a list, as dbt allows), from `meta` or from
    `config.meta` (dbt 1.10 moved `meta` under `config`); None when it has none."""
    for meta in (getattr(node, "meta", None), getattr(getattr(node, "config", None), "meta", None)):
        if isinstance(meta, dict) and meta.get("owner"):
            return meta["owner"]
    return None


def _result(result: Any) -> dict[str, Any]:
    node = getattr(result, "node", None)
    record: dict[str, Any] = {
        "node": getattr(node, "unique_id", None),
        "status": str(getattr(result.status, "value", result.status)),
        "message": getattr(result, "message", None),
        "execution_time": getattr(result, "execution_time", None),
    }
    timing = [t for t in getattr(result, "timing", None) or () if t.started_at]
    if timing:
        record["started_at"] = timing[0].started_at.isoformat()
        record["finished_at"] = (timing[-1].completed_at or timing[-1].started_at).isoformat()
    if hasattr(result, "age"):  # source freshness
        record["age"] = result.age
        record["max_loaded_at"] = result.max_loaded_at.isoformat()
        record["criteria"] = _criteria(getattr(node, "freshness", None))
    return record


def _criteria(freshness: Any) -> str | None:
    parts = []
    for label in ("warn_after", "error_after"):
        rule = getattr(freshness, label, None)
        if rule is not None and rule.count and rule.period:
            unit = str(getattr(rule.period, "value", rule.period))
            parts.append(f"{label.replace('_', ' ')} {rule.count} {unit}{'s' * (rule.count != 1)}")
    return ", ".join(parts) or None


def main(argv: list[str]) -> int:
    from dbt.cli.main import dbtRunner

    _report_selection()
    outcome = dbtRunner(callbacks=[_Events()]).invoke(argv)
    results = getattr(outcome.result, "results", None) or []
    error = outcome.exception
    _out(
        {
            "t": "results",
            "success": outcome.success,
            "error": None if error is None else str(error) or type(error).__name__,
            "results": [_result(r) for r in results],
        }
    )
    if outcome.success:
        return 0
    return 2 if error is not None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
