"""A dbt step's nodes as steps of their own (SPEC §4), from the driver's JSON lines: each node
appears when dbt starts or skips it, with dbt's dependencies, dbt's own start and end times, one
terminal state, the error itself as its message, and its own lines of dbt's log as its output.

Only what this invocation reported counts: nothing is read from `target/`, so an older run's
files can never pass for this one. A node that never ran gets no RUNNING event, only its
terminal one, so its start and end are one moment (SPEC §3.4 takes the first event as the start
of a step that never ran): no bar on a timeline, no duration."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from jobtrail.runner.events import EventFactory
from jobtrail.wire.limits import MAX_NAME, MAX_OWNERS

Emit = Callable[[dict[str, Any]], None]

# dbt's result statuses → step states (a freshness `warn` succeeds, with the warning as message).
STATES = {
    "success": "SUCCEEDED",
    "pass": "SUCCEEDED",
    "warn": "SUCCEEDED",
    "no-op": "SUCCEEDED",
    "error": "FAILED",
    "fail": "FAILED",
    "runtime error": "FAILED",
    "skipped": "SKIPPED",
}
# The end-of-run summary repeats node errors: the run's output keeps them, not the node's.
_SUMMARY = {"RunResultFailure", "RunResultError", "RunResultWarning", "SQLCompiledPath"}
_HEADER = re.compile(r"^[\w ]*(Error|Failure|Warning) in \w+ \S+")


class Stream(Protocol):
    def feed_text(self, text: str) -> None: ...

    def flush(self, final: bool = False) -> None: ...


@dataclass
class _Node:
    kind: str
    deps: list[str]
    state: str | None = None  # None until it starts; then RUNNING or terminal
    owners: list[str] | None = None  # its dbt `meta.owner`, alerted too when it fails


@dataclass
class DbtSteps:
    """The node steps of one dbt step's attempt. `stream(node, "stdout"|"stderr")` gives a
    node's output stream, `output` takes the dbt step's own (whole) output."""

    parent: str
    events: EventFactory
    emit: Emit
    stream: Callable[[str, str], Stream]
    output: Callable[[str], None]
    nodes: dict[str, _Node] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    ended: bool = False

    def feed(self, line: str) -> None:
        try:
            record = orjson.loads(line)
            kind = record["t"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.output(line + "\n")  # not the driver's (a library printing): keep it
            return
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(record)

    def _on_log(self, record: dict[str, Any]) -> None:
        text = f"{record['msg']}\n"
        self.output(text)
        uid = record.get("node")
        if uid in self.nodes and record.get("name") not in _SUMMARY:
            where = "stdout" if record.get("level") == "info" else "stderr"
            self.stream(uid, where).feed_text(text)

    def _on_nodes(self, record: dict[str, Any]) -> None:
        listed = record["nodes"]
        known = {n["id"] for n in listed}
        for node in listed:
            deps = [d for d in node["deps"] if d in known] or [self.parent]
            self.nodes[node["id"]] = _Node(node["type"], deps, owners=owners(node.get("owner")))

    def _on_start(self, record: dict[str, Any]) -> None:
        node = self.nodes.get(record["node"])
        if node is not None and node.state is None:
            self._set(record["node"], "RUNNING", at=_time(record.get("at")))

    def _on_end(self, record: dict[str, Any]) -> None:
        self._finish(record["node"], record)

    def _on_results(self, record: dict[str, Any]) -> None:
        self.ended = True
        self.error = record.get("error")
        self.results = {r["node"]: r for r in record["results"] if r.get("node")}

    def _finish(self, uid: str, result: dict[str, Any]) -> None:
        node = self.nodes.get(uid)
        state = STATES.get(str(result.get("status")))
        if node is None or state is None or node.state not in (None, "RUNNING"):
            return  # unknown, or already ended: one terminal state per node
        if state == "SKIPPED":
            self._set(uid, state, self._skip_reason(uid, None))
            return
        if node.state is None:
            self._set(uid, "RUNNING", at=_time(result.get("started_at")))
        message, detail = _message(result)
        if detail:
            self._write(uid, "stderr", detail)
        self._set(uid, state, message, at=_time(result.get("finished_at")))

    def close(self, code: int | None, killed: str | None = None) -> None:
        """After dbt ended: results of this invocation for nodes not yet ended (a source's
        freshness, say), then the nodes dbt never reached SKIPPED, saying why. `killed`: why
        the runner stopped dbt (a timeout, say), if it did."""
        for uid, result in self.results.items():
            self._finish(uid, result)
        ended = killed or f"dbt exited with code {code}"
        for uid, node in self.nodes.items():
            if node.state == "RUNNING":
                self._set(uid, "FAILED", f"{ended} while this node ran")
            elif node.state is None:
                reason = f"{killed} before this node ran" if killed else None
                self._set(uid, "SKIPPED", reason or self._skip_reason(uid, code))
        self._flush()

    def cancel(self) -> None:
        for uid, node in self.nodes.items():
            if node.state in (None, "RUNNING"):
                self._set(uid, "CANCELLED", "cancelled")
        self._flush()

    def _flush(self) -> None:
        """Lines that came after a node ended (each node's streams flush when it ends)."""
        for uid in self.nodes:
            for name in ("stdout", "stderr"):
                self.stream(uid, name).flush(final=True)

    def summary(self, code: int | None) -> str | None:
        """The dbt step's own message: dbt's error, else which nodes failed."""
        if self.error:
            return f"dbt exited with code {code}: {_first_line(self.error)}"
        failed = [uid for uid, n in self.nodes.items() if n.state == "FAILED"]
        if failed:
            return f"{len(failed)} of {len(self.nodes)} dbt nodes failed: {', '.join(failed[:5])}"
        return None

    def _skip_reason(self, uid: str, code: int | None) -> str:
        failed = self._failed_upstream(uid)
        if failed:
            return f"upstream node {', '.join(repr(f) for f in failed)} failed"
        if code is None:
            return "skipped by dbt"
        why = f": {_first_line(self.error)}" if self.error else ""
        return f"dbt exited with code {code} before running this node{why}"

    def _failed_upstream(self, uid: str) -> list[str]:
        """The nearest failed nodes upstream (through skipped ones)."""
        found, seen, todo = [], {uid}, list(self.nodes[uid].deps)
        while todo:
            dep = todo.pop(0)
            node = self.nodes.get(dep)
            if dep in seen or node is None:
                continue
            seen.add(dep)
            if node.state == "FAILED":
                found.append(dep)
            else:
                todo += node.deps
        return sorted(found)

    def _set(
        self, uid: str, state: str, message: str | None = None, at: datetime | None = None
    ) -> None:
        node = self.nodes[uid]
        node.state = state
        self.emit(
            self.events.step(
                uid, state, dependencies=node.deps, message=message, at=at, owners=node.owners
            )
        )
        if state != "RUNNING":
            for name in ("stdout", "stderr"):
                self.stream(uid, name).flush(final=True)

    def _write(self, uid: str, stream: str, text: str) -> None:
        self.stream(uid, stream).feed_text(text if text.endswith("\n") else text + "\n")


def owners(value: Any) -> list[str] | None:
    """A node's `meta.owner` as a list: dbt allows one string or a list; anything else, empty
    strings and repeats are left out, and it is cut to what the server takes."""
    listed = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    names = [v.strip()[:MAX_NAME] for v in listed if isinstance(v, str) and v.strip()]
    return list(dict.fromkeys(names))[:MAX_OWNERS] or None


def _message(result: dict[str, Any]) -> tuple[str | None, str | None]:
    """(one-line message, full text for stderr) of a node's result."""
    text = str(result.get("message") or "").strip()
    if "age" in result:  # source freshness
        return _freshness(result, text), None
    if STATES.get(str(result.get("status"))) != "FAILED":
        return None, None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 and _HEADER.match(lines[0]):
        lines = lines[1:]  # "Runtime Error in model x (path)": the error itself comes next
    return (lines[0] if lines else None), text or None


def _freshness(result: dict[str, Any], text: str) -> str:
    if result.get("status") == "runtime error":
        return _first_line(text) or "freshness could not be checked"
    verdict = {"pass": "fresh", "warn": "warning: stale", "error": "stale"}
    label = verdict.get(str(result.get("status")), str(result.get("status")))
    criteria = f"; {result['criteria']}" if result.get("criteria") else ""
    age = float(result["age"])
    return f"{label}: newest row {_age(age)} old (at {result['max_loaded_at']}){criteria}"


def _age(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' * (count != 1)}"
    return f"{int(seconds)} seconds"


def _first_line(text: str | None) -> str:
    return next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")


def _time(value: Any) -> datetime | None:
    """dbt's times are naive UTC ISO strings."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
