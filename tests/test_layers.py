"""The house's floors: each package imports only from floors below it, and nothing loops.

Floors, ground first (docs/ARCHITECTURE.md draws the same picture). A module imports
from its own floor or lower, never higher; no two modules import each other, directly or
round a longer loop, and neither do two packages. Imports inside functions count: a lazy
import that dodges a cycle is still a cycle. Only ``if TYPE_CHECKING:`` imports, which never
run, are left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Longest matching prefix wins. A new top-level module must be given a floor here.
FLOORS: dict[str, int] = {
    "recsys_core": 1,
    "db": 1,
    "recsys_core.columns": 1,
    "recsys_core.errors": 1,
    "recsys_core.progress": 1,
    "recsys_core.arrays": 1,
    "recsys_core.json_values": 1,
    "recsys_core.data": 2,
    "recsys_core.features": 3,
    "recsys_core.splitting": 3,
    "recsys_core.evaluation": 4,
    "recsys_core.models": 5,
    "recsys_core.ranking": 6,
    "recsys_core.explain": 6,
    "recsys_core.rerank": 6,
    "recsys_core._rerank_ops": 6,
    "recsys_core.tuning_space": 6,
    "recsys_core.tuning_storage": 6,
    "recsys_core.jobs": 7,
    "recsys_core.tuning": 8,
    "recsys_core.tuning_auto": 8,
    "recsys_core.export": 8,
    "recsys_core.engines": 8,
    "recsys_core.experiments": 8,
    "recsys_core.serving": 8,
    "recsys_core.cli": 9,
    "pages": 9,
    "app": 10,
}
SOURCES = ("recsys_core", "db", "pages", "app.py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for source in SOURCES:
        base = ROOT / source
        for path in [base] if base.is_file() else sorted(base.rglob("*.py")):
            if "migrations" not in path.parts:
                out[_module_name(path)] = path
    return out


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def _imported(module: str, path: Path, known: set[str]) -> Iterator[str]:
    """First-party modules ``module`` imports (submodules named in ``from x import y`` too)."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            names = names or [base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                yield name


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {m: set(_imported(m, p, known)) for m, p in modules.items()}


def _floor(module: str) -> int:
    matches = [p for p in FLOORS if module == p or module.startswith(p + ".")]
    assert matches, f"{module} has no floor: add it to FLOORS in {__file__}"
    return FLOORS[max(matches, key=len)]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def _package(module: str) -> str:
    """The unit of the package-level check: the floor entry the module belongs to."""
    return max((p for p in FLOORS if module == p or module.startswith(p + ".")), key=len)


def test_every_module_has_a_floor() -> None:
    for module in _graph():
        _floor(module)


def test_no_import_runs_up_a_floor() -> None:
    graph = _graph()
    upward = sorted(
        f"{m} (floor {_floor(m)}) imports {t} (floor {_floor(t)})"
        for m, targets in graph.items()
        for t in targets
        if _floor(t) > _floor(m)
    )
    assert upward == []


def test_no_module_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_no_package_import_cycle() -> None:
    packages: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        own = _package(module)
        packages.setdefault(own, set()).update(_package(t) for t in targets if _package(t) != own)
    assert _cycles(packages) == []


def test_the_checks_catch_a_cycle_and_an_upward_import() -> None:
    """The checker itself: a planted loop and a planted upward arrow are found."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _floor("recsys_core.models.ease") > _floor("recsys_core.evaluation.ranking")
