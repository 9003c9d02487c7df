"""Problems found by validation, the report that holds them, and helpers that build them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from recsys_core.data.io import RawTable
from recsys_core.errors import InputError

Severity = Literal["error", "warning"]
EXAMPLE_COLUMNS = ("file", "line", "column", "value")
N_EXAMPLES = 10


@dataclass(frozen=True, eq=False)
class Problem:
    """One kind of problem in one column, with how many rows have it and the first of them.

    Attributes:
        code: stable snake_case id (``missing_id``, ``bad_rating``...) for tests and docs.
        severity: "error" blocks the import; "warning" is shown and the import may go on.
        message: what is wrong and how to fix it, naming the file and column.
        count: how many rows (or ids, as the message says) have the problem.
        examples: the first ten, with columns file, line, column, value.
        column: the column concerned ("" when the problem is about the whole table).
        file: the file concerned.
    """

    code: str
    severity: Severity
    message: str
    count: int
    examples: pd.DataFrame = field(repr=False)
    column: str = ""
    file: str = ""


@dataclass(frozen=True)
class ValidationReport:
    """Everything validation found; the import may go on when there are no errors."""

    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing blocks the import (warnings may remain)."""
        return not self.errors

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    def to_frame(self) -> pd.DataFrame:
        """One row per problem: severity, code, column, count, message (errors first)."""
        rows = [(p.severity, p.code, p.column, p.count, p.message) for p in self.problems]
        frame = pd.DataFrame(rows, columns=["severity", "code", "column", "count", "message"])
        order = frame["severity"].map({"error": 0, "warning": 1}).to_numpy()
        return frame.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)

    def raise_if_errors(self) -> None:
        """Raise InputError listing every error (each message names its first lines)."""
        errors = self.errors
        if errors:
            lines = "\n".join(f"- [{p.code}] {p.message}" for p in errors)
            raise InputError(f"The import has {len(errors)} error(s) to fix first:\n{lines}")


def examples(
    table: RawTable, column: str, positions: np.ndarray, values: pd.Series | Sequence[object]
) -> pd.DataFrame:
    """The example frame for the file rows at ``positions`` (at most ten).

    Args:
        values: the whole column (a Series, read at ``positions``) or a list of the values
            to show, already aligned with ``positions``.
    """
    pos = np.asarray(positions, dtype=np.int64)[:N_EXAMPLES]
    shown = values.iloc[pos].tolist() if isinstance(values, pd.Series) else values[: len(pos)]
    cells = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in shown]
    return pd.DataFrame(
        {
            "file": [table.source] * len(pos),
            "line": table.line(pos).astype(np.int64),
            "column": [column] * len(pos),
            "value": cells,
        }
    )


def no_examples() -> pd.DataFrame:
    """An empty example frame, for problems about a whole table."""
    return pd.DataFrame(
        {c: pd.Series(dtype="int64" if c == "line" else object) for c in EXAMPLE_COLUMNS}
    )


def line_list(table: RawTable, positions: np.ndarray, limit: int = 5) -> str:
    """ "line 4" or "lines 4, 9, 12" for the first positions, for messages."""
    lines = table.line(np.asarray(positions, dtype=np.int64)[:limit]).tolist()
    word = "line" if len(lines) == 1 else "lines"
    more = ", ..." if len(positions) > limit else ""
    return f"{word} {', '.join(map(str, lines))}{more}"


def rows_problem(
    code: str,
    severity: Severity,
    table: RawTable,
    column: str,
    mask: np.ndarray,
    values: pd.Series,
    what: str,
    fix: str,
) -> Problem | None:
    """A problem for the rows where ``mask`` holds, or None when it holds nowhere.

    The message reads "<file>, column '<col>': 3 rows with <what> (lines 4, 9, 12). <fix>".
    """
    positions = np.flatnonzero(mask)
    if not len(positions):
        return None
    n = len(positions)
    message = (
        f"{table.source}, column {column!r}: {n:,} {'row' if n == 1 else 'rows'} with {what} "
        f"({line_list(table, positions)}). {fix}"
    )
    return Problem(
        code, severity, message, n, examples(table, column, positions, values), column, table.source
    )


def table_problem(
    code: str, severity: Severity, table: RawTable, count: int, message: str, column: str = ""
) -> Problem:
    """A problem about a whole table (too few rows...), without example rows."""
    return Problem(code, severity, message, count, no_examples(), column, table.source)
