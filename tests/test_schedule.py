"""The suite's own scheduling: longest modules first, tests inside a module untouched."""

from __future__ import annotations

import json

from tests._schedule import SECONDS_FILE, longest_first


def test_longest_modules_go_first_and_keep_their_tests_in_order() -> None:
    ids = [
        "tests/a.py::t1",
        "tests/a.py::t2",
        "tests/b.py::t1",
        "tests/c.py::t[x]",
        "tests/c.py::t[y]",
        "tests/d.py::t1",
    ]
    seconds = {"tests/a.py": 1.0, "tests/b.py": 50.0, "tests/c.py": 20.0}
    # d.py is unknown: it counts as the median of the known modules (20 s) and, tied
    # with c.py, keeps its place after it.
    order = [ids[i] for i in longest_first(ids, seconds)]
    assert order == [
        "tests/b.py::t1",
        "tests/c.py::t[x]",
        "tests/c.py::t[y]",
        "tests/d.py::t1",
        "tests/a.py::t1",
        "tests/a.py::t2",
    ]


def test_without_any_seconds_collection_order_is_kept() -> None:
    ids = ["tests/z.py::t", "tests/a.py::t", "tests/z.py::u"]
    assert longest_first(ids, {}) == [0, 2, 1]


def test_the_committed_table_names_modules_that_exist() -> None:
    """A renamed or deleted module left in the table would silently skew the order."""
    root = SECONDS_FILE.parents[1]
    table = json.loads(SECONDS_FILE.read_text())
    assert table, "tests/module_seconds.json is empty"
    missing = [module for module in table if not (root / module).exists()]
    assert not missing, f"refresh with `make test-durations`: {missing}"
