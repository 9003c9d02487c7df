"""Shared helper of the CLI tests: run one command in-process and parse its JSON output.

The output is parsed strictly (NaN or Infinity fail the test), as jq or JavaScript would.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from recsys_core.cli import main

Runner = Callable[..., tuple[int, dict | str, str]]


def _strict(constant: str) -> None:
    raise AssertionError(f"--json wrote {constant}, which strict JSON parsers reject")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict | str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    try:
        return code, json.loads(out, parse_constant=_strict), err
    except json.JSONDecodeError:
        return code, out, err


@pytest.fixture
def run() -> Runner:
    """``run(capsys, *argv) -> (exit code, parsed JSON or raw stdout, stderr)``."""
    return _run
