"""Imports point one way: wire ← domain ← store ← api/cli, with runner, console, client and demo
at the edges. The domain does no I/O; the wire contract and the client import no server
module."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "jobtrail"

SERVER = {"jobtrail.api", "jobtrail.store", "jobtrail.cli", "jobtrail.runner"}
FORBIDDEN = {
    "wire": {
        "jobtrail.domain",
        "jobtrail.store",
        "jobtrail.api",
        "jobtrail.cli",
        "jobtrail.runner",
        "jobtrail.client",
        "jobtrail.console",
        "jobtrail.demo",
        "jobtrail.settings",
        "pydantic",
        "httpx",
        "httpcore",
    },
    "domain": {
        "jobtrail.store",
        "jobtrail.api",
        "jobtrail.cli",
        "jobtrail.demo",
        "jobtrail.runner",
        "jobtrail.client",
        "jobtrail.console",
        "jobtrail.settings",
        "sqlalchemy",
        "fastapi",
        "httpx",
        "httpcore",
    },
    "store": {
        "jobtrail.api",
        "jobtrail.cli",
        "jobtrail.runner",
        "jobtrail.client",
        "fastapi",
        "httpx",
    },
    "api": {"jobtrail.cli", "jobtrail.runner", "jobtrail.client"},
    "runner": {"jobtrail.api", "jobtrail.cli", "fastapi", "httpx"},
    "client": SERVER | {"jobtrail.domain", "jobtrail.console", "jobtrail.settings", "fastapi"},
    "worker": {"jobtrail.api", "jobtrail.cli", "jobtrail.runner", "jobtrail.client", "fastapi"},
    "console": {"jobtrail.store", "jobtrail.cli", "jobtrail.runner", "sqlalchemy"},
    "demo": {"jobtrail.store", "jobtrail.api", "jobtrail.cli", "sqlalchemy", "fastapi"},
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_inwards(layer: str) -> None:
    bad = [
        f"{path.relative_to(SRC)} imports {name}"
        for path in (SRC / layer).rglob("*.py")
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer])
    ]
    assert bad == []


def test_wire_imports_only_itself_of_jobtrail() -> None:
    bad = [
        f"{path.relative_to(SRC)} imports {name}"
        for path in (SRC / "wire").rglob("*.py")
        for name in _imports(path)
        if name.startswith("jobtrail") and not name.startswith("jobtrail.wire")
    ]
    assert bad == []
