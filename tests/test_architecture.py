"""House rules that code review alone would let slip."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(folder: str) -> dict[str, set[str]]:
    out = {}
    for path in (ROOT / folder).rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(ROOT))] = names
    return out


@pytest.mark.parametrize("folder", ["recsys_core", "db"])
def test_library_and_store_never_import_streamlit(folder: str) -> None:
    offenders = [f for f, names in _imports(folder).items() if "streamlit" in names]
    assert offenders == []


def test_store_imports_nothing_of_ours() -> None:
    offenders = [f for f, n in _imports("db").items() if n & {"recsys_core", "pages"}]
    assert offenders == []


def test_pages_and_cli_load_without_tensorflow() -> None:
    """TensorFlow takes seconds to import: only the models that need it may import it."""
    code = (
        "import sys, runpy; sys.path.insert(0, '.');"
        "import recsys_core.cli, recsys_core.jobs.runs, recsys_core.jobs.worker, pages._ui;"
        "import recsys_core.models.registry, recsys_core.evaluation, recsys_core.export;"
        "print('tensorflow' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
