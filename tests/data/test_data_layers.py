"""No import circles inside recsys_core.data (issue 9): io and _io_text once imported each other."""

from __future__ import annotations

import ast
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "recsys_core" / "data"


def _edges() -> dict[str, set[str]]:
    """Module -> data modules it imports anywhere: top level, in functions, under TYPE_CHECKING."""
    modules = {p.stem for p in DATA.glob("*.py")}
    out: dict[str, set[str]] = {}
    for path in DATA.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "recsys_core.data":
                    found |= {a.name for a in node.names}
                elif node.module.startswith("recsys_core.data."):
                    found.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[2] for a in node.names
                          if a.name.startswith("recsys_core.data.")}  # fmt: skip
        out[path.stem] = (found & modules) - {path.stem}
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a path of module names, or [] (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_no_module_of_data_imports_one_that_imports_it_back() -> None:
    assert _cycle(_edges()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"io": {"_io_text"}, "_io_text": {"io"}}) == ["_io_text", "io", "_io_text"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []
