"""CSV exports stay inert in a spreadsheet, whatever separator its locale splits on."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from recsys_core.export import FORMULA_START, to_csv_bytes

HOSTILE = ["x;=1+1", "=cmd|' /C calc'!A0", "a\t+b", "ok,@SUM(A1)", "p|-2", "plain", "-3"]


def _cells(text: str, separator: str) -> list[str]:
    """Cells as a spreadsheet that ignores quoting would cut them (the worst case)."""
    return [c.strip('"') for line in text.splitlines() for c in line.split(separator)]


@pytest.mark.parametrize("separator", [",", ";", "\t", "|"])
def test_no_cell_starts_a_formula_whatever_the_separator(separator: str) -> None:
    frame = pd.DataFrame({"user_id": HOSTILE, "item_id": HOSTILE[::-1], "score": range(7)})
    text = to_csv_bytes(frame).decode("utf-8")
    risky = [c for c in _cells(text, separator) if c.startswith(FORMULA_START)]
    assert risky == []


def test_quoted_csv_reads_back_with_only_the_quote_marks_added() -> None:
    frame = pd.DataFrame({"user_id": HOSTILE, "score": [0.5] * 7})
    back = pd.read_csv(io.BytesIO(to_csv_bytes(frame)), dtype={"user_id": str})
    assert back["user_id"].tolist() == [
        "x;'=1+1",
        "'=cmd|' /C calc'!A0",
        "a\t'+b",
        "ok,'@SUM(A1)",
        "p|'-2",
        "plain",
        "'-3",
    ]
    assert back["score"].tolist() == [0.5] * 7  # numbers stay numbers
