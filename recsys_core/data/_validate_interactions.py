"""Row-level checks of the behaviour file and its conversion to canonical columns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from recsys_core.columns import Columns
from recsys_core.data import _validate_cells as cells
from recsys_core.data._validate_report import Problem, examples, rows_problem
from recsys_core.data.io import RawTable
from recsys_core.data.mapping import ColumnMapping

#: The cleaning recipe that removes repeated (user, item) pairs (recsys_core.data.clean.Dedup).
DEDUP_HINT = (
    "apply the 'dedup' cleaning recipe after import (Data page: 'Deduplicate pairs'; "
    'CLI: recsys clean NAME --plan \'{"steps": [{"kind": "dedup"}]}\')'
)
FORMULA_WHAT = "a value starting with =, +, - or @, which a spreadsheet runs as a formula"
FORMULA_FIX = (
    "The workbench's exports neutralise such cells (they are written as text), so they are "
    "kept; check that they are really ids or text and not spreadsheet formulas."
)


@dataclass
class Checked:
    """Valid rows in canonical columns, their positions in the file, and the problems found."""

    frame: pd.DataFrame
    positions: np.ndarray
    problems: list[Problem]


def check_interactions(
    raw: RawTable, mapping: ColumnMapping, feedback: str, now: datetime
) -> Checked:
    """Check every mapped column, drop rows with errors, convert the rest to canonical columns."""
    found: list[Problem | None] = []
    bad = np.zeros(len(raw.frame), dtype=bool)
    columns: dict[str, object] = {}
    for role, name in ((mapping.user, Columns.user), (mapping.item, Columns.item)):
        ids = cells.parse_ids(raw.frame[role])
        found += id_problems(raw, role, ids, "user" if name == Columns.user else "item")
        bad |= ~ids.valid
        columns[name] = ids.values
    weights = np.ones(len(raw.frame))
    if mapping.rating:
        values, problems, rejected = _values(raw, mapping.rating, mapping.rating_range)
        found += problems
        bad |= rejected
        weights = values
    if mapping.timestamp:
        seconds, problems, rejected = _timestamps(raw, mapping.timestamp, now)
        found += problems
        bad |= rejected
        columns[Columns.timestamp] = seconds
    if mapping.event:
        events, problems, rejected, factor = _events(raw, mapping.event, mapping.event_weights)
        found += problems
        bad |= rejected
        columns[Columns.event] = events
        weights = weights * (factor if feedback == "implicit" else 1.0)
    if mapping.split:
        is_test, problem = _split_flags(raw, mapping.split)
        found.append(problem)
        bad |= is_test.isna().to_numpy()
        columns[Columns.split] = is_test.fillna(False).to_numpy(dtype=bool)
    found.append(_weight_overflow(raw, mapping, weights, bad))
    bad |= ~(np.abs(weights) <= cells.FLOAT32_MAX)
    columns[Columns.rating if feedback == "explicit" else Columns.weight] = weights
    keep = ~bad
    frame = pd.DataFrame({k: _take(v, keep) for k, v in columns.items()})
    order = [c for c in (*Columns.interaction_roles, Columns.weight) if c in frame.columns]
    return Checked(frame[order], np.flatnonzero(keep), [p for p in found if p is not None])


def _weight_overflow(
    raw: RawTable, mapping: ColumnMapping, weights: np.ndarray, bad: np.ndarray
) -> Problem | None:
    """Rating x event weight beyond the 32-bit float range the store keeps."""
    column = mapping.event or mapping.rating or ""
    with np.errstate(invalid="ignore"):
        over = ~bad & ~(np.abs(weights) <= cells.FLOAT32_MAX)
    return rows_problem(
        "weight_overflow", "error", raw, column, over, raw.frame[column] if column else
        pd.Series([""] * len(weights)),
        f"a weight beyond ±{cells.FLOAT32_MAX:.1e} (rating times event weight)",
        "Use smaller event weights or ratings; weights are stored as 32-bit floats.",
    )  # fmt: skip


def _take(values: object, keep: np.ndarray) -> object:
    if isinstance(values, pd.Series):
        return values[keep].reset_index(drop=True)
    return np.asarray(values)[keep]


def id_problems(raw: RawTable, column: str, ids: cells.Ids, role: str) -> list[Problem | None]:
    """Missing, malformed, padded, mixed-type and formula-like ids of one column."""
    cell = raw.frame[column]
    return [
        rows_problem("missing_id", "error", raw, column, ids.missing, cell,
                     f"an empty or missing {role} id", "Fill in the ids or delete those rows."),
        rows_problem("malformed_id", "error", raw, column, ids.malformed, cell,
                     f"a {role} id that is blank or holds control characters",
                     "Correct those ids or delete the rows."),
        rows_problem("id_whitespace", "warning", raw, column, ids.padded, cell,
                     f"spaces around the {role} id",
                     "The spaces were removed (' 42 ' is read as '42')."),
        _mixed_types(raw, column, ids, role),
        rows_problem("formula_cells", "warning", raw, column,
                     cells.formula_cells(cell, ids.numeric) & ids.valid, cell,
                     FORMULA_WHAT, FORMULA_FIX),
    ]  # fmt: skip


def _mixed_types(raw: RawTable, column: str, ids: cells.Ids, role: str) -> Problem | None:
    numeric = ids.numeric & ids.valid
    text = ids.valid & ~numeric
    if not numeric.any() or not text.any():
        return None
    minority, kind = (text, "text") if text.sum() <= numeric.sum() else (numeric, "number")
    other = "numbers" if kind == "text" else "text"
    return rows_problem(
        "mixed_id_types", "warning", raw, column, minority, ids.values,
        f"a {kind} {role} id while most ids are {other}",
        "Ids are compared as text, so check these belong in this column "
        "(not a name or a header row pasted into the data).",
    )  # fmt: skip


def _values(
    raw: RawTable, column: str, bounds: tuple[float, float] | None
) -> tuple[np.ndarray, list[Problem | None], np.ndarray]:
    cell = raw.frame[column]
    nums = cells.parse_numbers(cell)
    if nums.decimal_comma.any():
        fix = (
            "They use a decimal comma ('4,5'): save the file with '.' as the decimal separator "
            "(4.5), e.g. by choosing English number formats before exporting."
        )
    else:
        fix = "Ratings must be numbers such as 4 or 3.5; correct or delete those rows."
    out = np.zeros(len(cell), dtype=bool)
    if bounds is not None:
        with np.errstate(invalid="ignore"):
            out = (nums.values < bounds[0]) | (nums.values > bounds[1])
    out &= ~nums.overflow
    problems = [
        rows_problem("missing_rating", "error", raw, column, nums.missing, cell,
                     "an empty rating", "Fill in the ratings or delete those rows."),
        rows_problem("bad_rating", "error", raw, column, nums.bad, cell,
                     "a rating that is not a number", fix),
        rows_problem("out_of_range", "error", raw, column, out, cell,
                     f"a rating outside {bounds[0]:g} to {bounds[1]:g}" if bounds else "",
                     "Correct those ratings, or widen rating_range if the scale is larger."),
        rows_problem("rating_overflow", "error", raw, column, nums.overflow, cell,
                     f"a rating beyond ±{cells.FLOAT32_MAX:.1e}",
                     "Ratings are stored as 32-bit floats, where such numbers become infinite; "
                     "correct those ratings or delete the rows."),
    ]  # fmt: skip
    return nums.values, problems, nums.missing | nums.bad | out | nums.overflow


def _timestamps(
    raw: RawTable, column: str, now: datetime
) -> tuple[np.ndarray, list[Problem | None], np.ndarray]:
    cell = raw.frame[column]
    ts = cells.parse_timestamps(cell)
    missing, unparsable = ts.kind == cells.MISSING, ts.kind == cells.BAD
    parsed = ~(missing | unparsable)
    outside = parsed & ((ts.seconds < cells.TS_MIN) | (ts.seconds >= cells.TS_MAX))
    valid = parsed & ~outside
    limit = int(now.timestamp())
    problems = [
        rows_problem("missing_timestamp", "error", raw, column, missing, cell,
                     "an empty timestamp",
                     "Fill in the times or delete those rows (or leave the timestamp unmapped)."),
        rows_problem("bad_timestamp", "error", raw, column, unparsable, cell,
                     "a time that is not Unix seconds, Unix milliseconds or ISO-8601",
                     "Write times as Unix seconds (964982703) or ISO-8601 "
                     "(2000-07-30 or 2000-07-30T18:45:03Z)."),
        rows_problem("timestamp_out_of_range", "error", raw, column, outside, cell,
                     f"a time {cells.TS_RANGE_TEXT}",
                     "Such times come from a wrong unit or a typo; correct them (Unix seconds "
                     "such as 964982703, or ISO-8601 such as 2000-07-30) or delete the rows."),
        _mixed_formats(raw, column, ts.kind, cell),
        rows_problem("future_timestamp", "warning", raw, column, valid & (ts.seconds > limit),
                     cell, f"a time after {now:%Y-%m-%d %H:%M} UTC",
                     "The rows are kept; check the exporting system's clock and time zone."),
    ]  # fmt: skip
    return ts.seconds, problems, missing | unparsable | outside


def _mixed_formats(raw: RawTable, column: str, kind: np.ndarray, cell: pd.Series) -> Problem | None:
    """One column holding several time formats is ambiguous, so it is an error."""
    counts = np.bincount(kind[kind > 0], minlength=len(cells.FORMAT_NAMES) + 1)
    present = np.flatnonzero(counts)
    if len(present) < 2:
        return None
    firsts = np.array([np.flatnonzero(kind == k)[0] for k in present])
    lines = raw.line(firsts)
    parts = [
        f"{cells.FORMAT_NAMES[int(k)]} ({counts[k]:,} rows, first on line {line})"
        for k, line in zip(present, lines, strict=True)
    ]
    message = (
        f"{raw.source}, column {column!r} mixes timestamp formats: {', '.join(parts)}. "
        "Convert the column to one format (all Unix seconds, or all ISO-8601) and import again."
    )
    count = int(counts.sum() - counts.max())
    return Problem("mixed_timestamp_formats", "error", message, count,
                   examples(raw, column, firsts, cell), column, raw.source)  # fmt: skip


def _events(
    raw: RawTable, column: str, weights: dict[str, float]
) -> tuple[pd.Series, list[Problem | None], np.ndarray, np.ndarray]:
    cell = raw.frame[column]
    ids = cells.parse_ids(cell)
    rejected = ~ids.valid
    codes, kinds = pd.factorize(ids.values)
    table = np.array([weights.get(str(k), 1.0) for k in kinds] + [1.0])
    problems: list[Problem | None] = [
        rows_problem("missing_event", "error", raw, column, rejected, cell,
                     "an empty event type (or one holding control characters)",
                     "Fill in the event types or delete those rows."),
        rows_problem("formula_cells", "warning", raw, column,
                     cells.formula_cells(cell) & ids.valid, cell, FORMULA_WHAT, FORMULA_FIX),
    ]  # fmt: skip
    if weights:
        problems += _weight_problems(raw, column, weights, ids.values, codes, kinds)
    return ids.values, problems, rejected, table[codes]


def _weight_problems(
    raw: RawTable,
    column: str,
    weights: dict[str, float],
    values: pd.Series,
    codes: np.ndarray,
    kinds: pd.Index,
) -> list[Problem | None]:
    names = [str(k) for k in kinds]
    missing = [k for k in names if k not in weights]
    unused = [k for k in weights if k not in set(names)]
    unweighted = np.isin(codes, [names.index(k) for k in missing])
    problems = [
        rows_problem("unweighted_event", "warning", raw, column, unweighted, values,
                     f"an event type without a weight ({', '.join(missing[:10])})",
                     "They weigh 1.0; add them to event_weights to weigh them otherwise."),
    ]  # fmt: skip
    if unused:
        message = (
            f"{raw.source}, column {column!r}: event_weights names {unused}, which never occur "
            f"(the event types are {names[:20]}). Check the spelling; types are case-sensitive."
        )
        none = examples(raw, column, np.zeros(0), values)
        problems.append(
            Problem("unknown_event_type", "warning", message, len(unused), none, column, raw.source)
        )
    return problems


def duplicate_pairs(
    raw: RawTable,
    mapping: ColumnMapping,
    checked: Checked,
    codes: tuple[np.ndarray, np.ndarray],
    feedback: str,
) -> Problem | None:
    """Repeated (user, item) pairs: a warning with the count of extra rows (hash-based, O(n))."""
    users, items = codes
    key = users.astype(np.int64) * (int(items.max(initial=0)) + 1) + items
    repeated = pd.Series(key).duplicated(keep="first").to_numpy()
    n = int(repeated.sum())
    if n == 0:
        return None
    shown = np.flatnonzero(repeated)[:10]
    firsts = [int(np.flatnonzero(key == key[p])[0]) for p in shown]
    first_lines = raw.line(checked.positions[firsts])
    frame = checked.frame
    values = [
        f"{frame[Columns.user].iloc[p]} / {frame[Columns.item].iloc[p]} (first on line {line})"
        for p, line in zip(shown, first_lines, strict=True)
    ]
    pairs = len(np.unique(key[repeated]))
    effect = (
        "Ratings of a repeated pair would be added up"
        if feedback == "explicit"
        else "Repeated events add up into one weight per pair"
    )
    column = f"{mapping.user}, {mapping.item}"
    message = (
        f"{raw.source}, columns {column}: {n:,} extra rows repeat a (user, item) pair seen "
        f"before ({pairs:,} pairs; e.g. line {raw.line(checked.positions[shown[:1]])[0]}). "
        f"{effect}; to keep one row per pair, {DEDUP_HINT}."
    )
    ex = examples(raw, column, checked.positions[shown], values)
    return Problem("duplicate_pair", "warning", message, n, ex, column, raw.source)


_TEST_WORDS = {"test", "1", "true", "t", "yes", "y"}
_TRAIN_WORDS = {"train", "0", "false", "f", "no", "n"}


def _split_flags(raw: RawTable, column: str) -> tuple[pd.Series, Problem | None]:
    """The is-test flag of each row (NA where the cell says neither train nor test)."""
    cell = raw.frame[column]
    words = cell.astype("string").str.strip().str.lower()
    flags = pd.Series(pd.NA, index=cell.index, dtype="boolean")
    flags[words.isin(_TEST_WORDS).fillna(False).to_numpy()] = True
    flags[words.isin(_TRAIN_WORDS).fillna(False).to_numpy()] = False
    problem = rows_problem(
        "bad_split", "error", raw, column, flags.isna().to_numpy(), cell,
        "a split value that is neither train nor test",
        "Use train/test, 0/1 or true/false in the split column, or unmap it.",
    )  # fmt: skip
    return flags, problem
