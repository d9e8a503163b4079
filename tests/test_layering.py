"""Imports point one way: domain ← store ← api/cli. The domain does no I/O."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "jobtrail"

FORBIDDEN = {
    "domain": {
        "jobtrail.store",
        "jobtrail.api",
        "jobtrail.cli",
        "jobtrail.demo",
        "sqlalchemy",
        "fastapi",
        "httpx",
    },
    "store": {"jobtrail.api", "jobtrail.cli", "fastapi", "httpx"},
    "api": {"jobtrail.cli", "jobtrail.runner"},
    "runner": {"jobtrail.api", "jobtrail.cli", "fastapi"},
    "worker": {"jobtrail.api", "jobtrail.cli", "jobtrail.runner", "fastapi"},
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
