"""dbt steps: each model, seed, snapshot and test becomes a step of its own, with dependencies
from dbt's graph, reported live from dbt's JSON log (SPEC §4)."""

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from jobtrail.runner.spec import DbtSpec

RESOURCE_TYPES = ("model", "seed", "snapshot", "test")

# dbt's node_status values → step states.
_STATES = {
    "started": "RUNNING",
    "success": "SUCCEEDED",
    "pass": "SUCCEEDED",
    "warn": "SUCCEEDED",
    "error": "FAILED",
    "fail": "FAILED",
    "runtime error": "FAILED",
    "skipped": "SKIPPED",
}

# Keeps dbt from calling home, which would stall an offline runner.
DBT_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_PARTIAL_PARSE": "false"}


@dataclass(frozen=True)
class DbtNode:
    unique_id: str
    resource_type: str
    depends_on: tuple[str, ...]


def dbt_executable() -> str:
    """The dbt installed beside jobtrail (the `jobtrail[dbt]` extra), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else shutil.which("dbt") or "dbt"


def _common(spec: DbtSpec, workdir: Path) -> list[str]:
    project = workdir / spec.project_dir
    args = ["--project-dir", str(project)]
    args += ["--profiles-dir", str(workdir / spec.profiles_dir if spec.profiles_dir else project)]
    if spec.target:
        args += ["--target", spec.target]
    if spec.select:
        args += ["--select", spec.select]
    return args


def list_command(spec: DbtSpec, workdir: Path) -> list[str]:
    keys = "unique_id resource_type depends_on"
    types = list(
        RESOURCE_TYPES if spec.command in ("build", "test") else ("model", "seed", "snapshot")
    )
    if spec.command == "seed":
        types = ["seed"]
    if spec.command == "test":
        types = ["test"]
    return [
        dbt_executable(), "--quiet", "ls", *_common(spec, workdir),
        "--resource-types", *types, "--output", "json", "--output-keys", keys,
    ]  # fmt: skip


def run_command(spec: DbtSpec, workdir: Path) -> list[str]:
    return [dbt_executable(), "--log-format", "json", spec.command, *_common(spec, workdir)]


def parse_nodes(output: str) -> list[DbtNode]:
    """Nodes from `dbt ls --output json` (one JSON object a line)."""
    nodes = []
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        raw = orjson.loads(line)
        deps = tuple((raw.get("depends_on") or {}).get("nodes") or ())
        nodes.append(DbtNode(raw["unique_id"], raw["resource_type"], deps))
    return nodes


NodeEvent = Callable[[str, str, str | None], None]  # (unique_id, state, message)


@dataclass
class DbtLog:
    """Reads dbt's JSON log line by line: the readable text goes to the step's stdout, node
    starts and finishes become step states, error text goes to the failing node."""

    on_text: Callable[[str], None]
    on_node: NodeEvent
    states: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    _failed_node: str | None = None

    def feed(self, line: str) -> None:
        try:
            event = orjson.loads(line)
            info, data = event["info"], event.get("data") or {}
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.on_text(line + "\n")
            return
        self.on_text(f"{info.get('msg', '')}\n")
        self._node_event(info.get("name", ""), data)

    def _node_event(self, name: str, data: dict[str, Any]) -> None:
        node = data.get("node_info") or {}
        uid, status = node.get("unique_id"), node.get("node_status")
        if name == "RunResultError" and self._failed_node and data.get("msg"):
            self.messages[self._failed_node] = str(data["msg"])
            return
        if not uid or status not in _STATES:
            return
        if name == "RunResultFailure":
            self._failed_node = uid
        state = _STATES[status]
        if self.states.get(uid) != state:
            self.states[uid] = state
            self.on_node(uid, state, None)

    def reconcile(self, results_path: Path) -> list[tuple[str, str, str | None]]:
        """Final (node, state, message) from run_results.json: authoritative once dbt ended."""
        try:
            results = orjson.loads(results_path.read_bytes()).get("results", [])
        except (OSError, orjson.JSONDecodeError):
            return []
        final = []
        for result in results:
            uid, status = result.get("unique_id"), result.get("status")
            if uid and status in _STATES:
                message = self.messages.get(uid) or result.get("message")
                final.append((uid, _STATES[status], message))
        return final
