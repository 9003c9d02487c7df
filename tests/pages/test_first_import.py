"""Every page imports the ``pages`` package before anything heavy (issue 10, 'Arrival').

A fresh server runs a deep link's page file in Streamlit's legacy pages mode; the package's
import is what leaves that mode and reruns through app.py's frame. Imports above it (pandas,
plotly, the store) ran first and held the navigation back: bench_app measured the deep
link's frame at 2.08 s with them there.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PAGES = sorted(p for p in (Path(__file__).parents[2] / "pages").glob("*.py") if p.name[0] != "_")


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.stem)
def test_page_imports_the_package_first(path: Path) -> None:
    imports = [
        n for n in ast.parse(path.read_text()).body if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    first = next(
        n for n in imports if not (isinstance(n, ast.ImportFrom) and n.module == "__future__")
    )
    assert isinstance(first, ast.Import) and first.names[0].name == "pages", ast.unparse(first)
