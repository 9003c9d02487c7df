"""Longest test modules first, so a parallel run does not end on one long module.

`make test` runs the suite on pytest-xdist workers one module at a time (`--dist
loadscope`, so a module's shared app server or trained runs are built once). xdist hands
modules out in collection order, and by default first sorts them by how many tests they
hold: the many cheap parametrized modules went first and the few-test heavy ones (a
browser flow, a deep model on MovieLens, a Spark session) last, so the run ended with one
worker busy on a long module while the other sat idle. Handing out the longest modules
first (the classic longest-processing-time rule) lets the cheap ones fill the gaps.

Each module's seconds come from `module_seconds.json`, refreshed by running the suite with
`--record-module-seconds` (the Makefile's `test-durations`). A module not in the file yet
counts as a median one; a stale file only costs balance, never correctness: the order of
tests inside a module is kept.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

import pytest

SECONDS_FILE = Path(__file__).with_name("module_seconds.json")


def module_of(nodeid: str) -> str:
    """The test file a node id belongs to (`tests/x/test_y.py::Class::test[p]`)."""
    return nodeid.split("::", 1)[0]


def longest_first(nodeids: list[str], seconds: dict[str, float]) -> list[int]:
    """Positions of `nodeids` reordered so whole modules come longest first.

    Modules keep their tests together and in order; ties keep collection order.
    """
    modules = list(dict.fromkeys(module_of(nodeid) for nodeid in nodeids))
    known = [seconds[m] for m in modules if m in seconds]
    default = statistics.median(known) if known else 0.0
    rank = {m: (-seconds.get(m, default), i) for i, m in enumerate(modules)}
    return sorted(range(len(nodeids)), key=lambda i: rank[module_of(nodeids[i])])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-module-seconds",
        action="store_true",
        help=f"write each test module's total seconds to {SECONDS_FILE.name}",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not SECONDS_FILE.exists():
        return
    seconds = json.loads(SECONDS_FILE.read_text())
    order = longest_first([item.nodeid for item in items], seconds)
    items[:] = [items[i] for i in order]


class _Recorder:
    """Adds up setup, call and teardown seconds per module (on the controller only)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[module_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self) -> None:
        table = {m: round(s, 1) for m, s in sorted(self.seconds.items())}
        SECONDS_FILE.write_text(json.dumps(table, indent=1) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    is_worker = hasattr(config, "workerinput")
    if config.getoption("--record-module-seconds") and not is_worker:
        config.pluginmanager.register(_Recorder(), "record-module-seconds")
