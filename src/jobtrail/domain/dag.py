"""Job DAGs: order, cycles and what lies downstream of a step (pure; the runner and the console
both rely on these rules)."""

from collections.abc import Mapping, Sequence


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One cycle as a path of step names (first name repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in deps.get(node, ()):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep in deps and dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for name in deps:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


def layers(deps: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Steps by depth: each step sits one layer after its deepest dependency (for layouts and a
    stable execution order). Assumes no cycle."""
    depth: dict[str, int] = {}

    def level(node: str) -> int:
        if node not in depth:
            depth[node] = 1 + max((level(d) for d in deps.get(node, ())), default=-1)
        return depth[node]

    for name in deps:
        level(name)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in deps:
        out[depth[name]].append(name)
    return out


def downstream(deps: Mapping[str, Sequence[str]], step: str) -> set[str]:
    """Every step that depends on `step`, directly or not."""
    children: dict[str, list[str]] = {name: [] for name in deps}
    for name, ds in deps.items():
        for d in ds:
            children.setdefault(d, []).append(name)
    seen: set[str] = set()
    stack = list(children.get(step, []))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(children.get(node, []))
    return seen
