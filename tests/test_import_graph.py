"""The import graph of harness/ stays acyclic (module-level and lazy imports alike), and
the task-facing modules, whose bytes are part of every committed cell's id, import no
other harness module: a change elsewhere in the engine must never move a reference."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASK_FACING = {"harness", "harness.task_api", "harness.artifacts", "harness.determinism",
               "harness.errors"}


def modules() -> dict[str, Path]:
    out = {}
    for path in (REPO / "harness").rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] \
                if node.level else []
            stem = ".".join(base + ([node.module] if node.module else []))
            if node.module:  # "from . import x" needs x, not the package's __init__
                found.add(stem)
            found |= {f"{stem}.{a.name}" for a in node.names}
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def test_the_import_graph_is_acyclic():
    g, state, cycles = graph(), {}, []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(g[node]):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt):] + [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [node])
        state[node] = "done"

    for node in sorted(g):
        if node not in state:
            visit(node, [])
    assert not cycles, f"import cycles: {cycles[:3]}"


def test_task_facing_modules_import_only_each_other():
    g = graph()
    for name in TASK_FACING:
        assert g[name] <= TASK_FACING, (name, sorted(g[name] - TASK_FACING))
