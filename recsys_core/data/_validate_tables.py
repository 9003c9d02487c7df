"""Checks of item and user attribute tables, and of how they cover the behaviour file."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recsys_core.data import _validate_cells as cells
from recsys_core.data._validate_interactions import FORMULA_FIX, FORMULA_WHAT, id_problems
from recsys_core.data._validate_report import Problem, examples, line_list, rows_problem
from recsys_core.data.io import RawTable
from recsys_core.data.side_mapping import TITLE, ItemMapping, UserMapping

_ON = ("1", "1.0", "true", "True", "TRUE", "yes")
_OFF = ("0", "0.0", "false", "False", "FALSE", "no", "")
_DATE_FORMATS = ("ISO8601", "%d-%b-%Y", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y")


@dataclass
class SideTable:
    """A checked attribute table: frame indexed by id, file positions of its rows, problems."""

    frame: pd.DataFrame
    positions: np.ndarray
    problems: list[Problem]


def check_side_table(
    raw: RawTable, mapping: ItemMapping | UserMapping, entity: str, index_name: str
) -> SideTable:
    """Check ids (missing, malformed, duplicated) and convert every mapped attribute column.

    Text becomes str ("" when missing), categorical str (NA when missing), multi-valued a
    list of stripped str, numeric float64 (NaN when missing or bad), dates a year number.
    The title column is stored as ``title`` (what every page reads names from); a block of
    0/1 flag columns becomes one list of the names of its columns holding 1; image columns
    are not stored as attributes. Rows without a usable id are dropped; of duplicated ids
    the first row is kept.
    """
    ids = cells.parse_ids(raw.frame[mapping.id])
    found = id_problems(raw, mapping.id, ids, entity)
    repeated = ids.valid & _mask(ids.values.duplicated(keep="first"))
    found.append(_duplicate_ids(raw, mapping.id, ids.values, repeated, entity))
    keep = ids.valid & ~repeated
    index = pd.Index(ids.values[keep].to_numpy(), dtype="str", name=index_name)
    stored: dict[str, tuple[str, np.ndarray | pd.Series]] = {}  # column -> (stored name, values)
    title = getattr(mapping, "title", None)
    kinds = {c: k for k, cols in mapping.attributes().items() for c in cols}
    kinds |= {title: "text"} if title else {}
    for name, kind in kinds.items():
        values, problems = _attribute(raw, name, kind, mapping.separator)
        stored[name] = (TITLE if name == title else name, values)
        found += problems
    for group, columns in mapping.flags.items():
        values, problem = _flags(raw, columns)
        stored[columns[0]] = (group, values)
        found.append(problem)
    order = [str(c) for c in raw.frame.columns if str(c) in stored]
    order = sorted(order, key=lambda c: c != title)  # the title first, then file order
    frame = pd.DataFrame(
        {stored[c][0]: _on_index(stored[c][1], keep, index) for c in order}, index=index
    )
    return SideTable(frame, np.flatnonzero(keep), [p for p in found if p is not None])


def _flags(raw: RawTable, columns: list[str]) -> tuple[np.ndarray, Problem | None]:
    """0/1 columns as one list per row: the names of the columns holding 1 (vectorised)."""
    cells_ = [cells.as_text(raw.frame[c]).str.strip() for c in columns]
    on = np.column_stack([_mask(c.isin(_ON)) for c in cells_])
    off = np.column_stack([_mask(c.isin(_OFF) | c.isna()) for c in cells_])
    bad = ~(on | off)
    problem = None
    if bad.any():
        col = int(np.flatnonzero(bad.any(axis=0))[0])
        problem = rows_problem(
            "bad_flag", "error", raw, columns[col], bad[:, col], raw.frame[columns[col]],
            "a value that is neither 0 nor 1 in a block of 0/1 flag columns",
            "Correct those values, or map the columns one by one instead of as flags.",
        )  # fmt: skip
    rows, cols = np.nonzero(on)
    offsets = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=len(on)))))
    lists = pa.ListArray.from_arrays(
        pa.array(offsets, type=pa.int32()), pa.array(np.asarray(columns, dtype=object)[cols])
    )
    out = np.empty(len(on), dtype=object)
    out[:] = lists.to_pylist()
    return out, problem


def _mask(values: object) -> np.ndarray:
    return np.asarray(values, dtype=bool)


def _on_index(values: np.ndarray | pd.Series, keep: np.ndarray, index: pd.Index) -> pd.Series:
    if isinstance(values, pd.Series):
        return values[keep].set_axis(index)
    return pd.Series(values[keep], index=index)


def _duplicate_ids(
    raw: RawTable, column: str, values: pd.Series, repeated: np.ndarray, entity: str
) -> Problem | None:
    return rows_problem(
        f"duplicate_{entity}_id", "error", raw, column, repeated, values,
        f"an {entity} id that already appeared on an earlier row" if entity == "item"
        else f"a {entity} id that already appeared on an earlier row",
        f"Each {entity} needs one row; merge or delete the repeated rows (the first is kept).",
    )  # fmt: skip


def _attribute(
    raw: RawTable, name: str, kind: str, separator: str
) -> tuple[np.ndarray | pd.Series, list[Problem | None]]:
    cell = raw.frame[name]
    if kind == "numeric":
        return _numeric_attribute(raw, name, cell)
    if kind == "timestamp":
        return _date_attribute(raw, name, cell)
    stripped = cells.as_text(cell).str.strip()
    missing = _mask(stripped.isna()) | _mask(stripped == "")
    found = [
        _missing_attribute(raw, name, kind, missing, cell),
        rows_problem("formula_cells", "warning", raw, name, cells.formula_cells(cell) & ~missing,
                     cell, FORMULA_WHAT, FORMULA_FIX),
        rows_problem("nul_character", "error", raw, name,
                     _mask(stripped.str.contains("\x00", regex=False).fillna(False)), cell,
                     "a NUL character (\\x00)",
                     "Neither SQLite nor PostgreSQL text can hold it; remove it from those "
                     "values (it usually comes from a binary export) and import again."),
    ]  # fmt: skip
    if kind == "multi_valued":
        return split_multi(stripped, separator), found
    if kind == "text":
        return stripped.fillna(""), found
    return stripped.where(~missing), found


def _numeric_attribute(
    raw: RawTable, name: str, cell: pd.Series
) -> tuple[np.ndarray, list[Problem | None]]:
    nums = cells.parse_numbers(cell)
    fix = "Use '.' as the decimal separator (4.5). " if nums.decimal_comma.any() else ""
    fix += "Correct those values, or map the column as categorical or text instead of numeric."
    found = [
        _missing_attribute(raw, name, "numeric", nums.missing, cell),
        rows_problem("bad_number", "error", raw, name, nums.bad, cell,
                     "a value that is not a number", fix),
        rows_problem("number_overflow", "error", raw, name, nums.overflow, cell,
                     f"a number beyond ±{cells.FLOAT32_MAX:.1e}",
                     "Models compute features as 32-bit floats, where such numbers become "
                     "infinite; correct them, or map the column as categorical or text."),
    ]  # fmt: skip
    return nums.values, found


def _date_attribute(
    raw: RawTable, name: str, cell: pd.Series
) -> tuple[np.ndarray, list[Problem | None]]:
    """Dates as a year number (1995.0 for 1 January 1995): a feature scales it like a number.

    The formats are tried in order, each parsed vectorised: ISO-8601, MovieLens' 01-Jan-1995,
    day/month/year, month/day/year, day.month.year and a bare year.
    """
    stripped = cells.as_text(cell).str.strip()
    missing = _mask(stripped.isna()) | _mask(stripped == "") | cells.null_like(stripped)
    years = np.full(len(stripped), np.nan)
    for fmt in _DATE_FORMATS:
        todo = np.isnan(years) & ~missing
        if not todo.any():
            break
        parsed = pd.to_datetime(stripped[todo], format=fmt, errors="coerce")
        day = (parsed.dt.day_of_year - 1) / 366
        years[todo] = (parsed.dt.year + day).to_numpy(dtype=float, na_value=np.nan)
    bad = np.isnan(years) & ~missing
    found = [
        _missing_attribute(raw, name, "date", missing, cell),
        rows_problem("bad_date", "error", raw, name, bad, cell, "a value that is not a date",
                     "Write dates as 2024-05-31 (or 31-May-2024), or map the column as text "
                     "or ignore it."),
    ]  # fmt: skip
    return years, found


def _missing_attribute(
    raw: RawTable, name: str, kind: str, missing: np.ndarray, cell: pd.Series
) -> Problem | None:
    return rows_problem(
        "missing_attribute", "warning", raw, name, missing, cell,
        f"no {kind.replace('_', '-')} value",
        "Such rows are kept with an empty value; fill them in if you can.",
    )  # fmt: skip


def split_multi(values: pd.Series, separator: str) -> np.ndarray:
    """Split cells on ``separator`` into lists of stripped, non-empty strings (vectorised)."""
    arr = pa.array(values.fillna("").to_numpy(dtype=object), type=pa.string())
    lists = pc.split_pattern(arr, separator)
    flat = pc.utf8_trim_whitespace(lists.flatten())
    keep = pc.not_equal(flat, "").to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(lists).to_numpy()
    sizes = np.bincount(parents[keep], minlength=len(arr))
    offsets = pa.array(np.concatenate(([0], np.cumsum(sizes))), type=pa.int32())
    rebuilt = pa.ListArray.from_arrays(offsets, flat.filter(pa.array(keep)))
    out = np.empty(len(arr), dtype=object)
    out[:] = rebuilt.to_pylist()
    return out


def coverage(
    raw: RawTable,
    table: RawTable,
    side: SideTable,
    used: pd.Series,
    used_positions: np.ndarray,
    columns: tuple[str, str],
    entity: str,
) -> list[Problem]:
    """Behaviour ids missing from the table, and table ids with no behaviour (both warnings).

    Args:
        raw: the behaviour file; ``used`` are its valid ids at file rows ``used_positions``.
        table: the attribute file, checked into ``side``.
        columns: the id column in the behaviour file and in the attribute file.
        entity: "item" or "user", for codes and messages.
    """
    first = ~_mask(used.duplicated(keep="first"))
    distinct, first_pos = used[first], used_positions[first]
    found = [
        _unknown(raw, table, side, used, distinct, first_pos, columns[0], entity),
        _idle(raw, table, side, distinct, columns[1], entity),
    ]
    return [p for p in found if p is not None]


def _unknown(
    raw: RawTable,
    table: RawTable,
    side: SideTable,
    used: pd.Series,
    distinct: pd.Series,
    first_pos: np.ndarray,
    column: str,
    entity: str,
) -> Problem | None:
    unknown = ~_mask(distinct.isin(side.frame.index))
    if not unknown.any():
        return None
    n, rows = int(unknown.sum()), int((~_mask(used.isin(side.frame.index))).sum())
    message = (
        f"{raw.source}: {n:,} {entity}s ({rows:,} rows, first on "
        f"{line_list(raw, first_pos[unknown])}) are not in {table.source}. They are kept "
        f"without attributes; add them to {table.source} if content features should cover them."
    )
    ex = examples(raw, column, first_pos[unknown], distinct[unknown].head(10).tolist())
    return Problem(f"unknown_{entity}", "warning", message, n, ex, column, raw.source)


def _idle(
    raw: RawTable, table: RawTable, side: SideTable, distinct: pd.Series, column: str, entity: str
) -> Problem | None:
    idle = ~_mask(side.frame.index.isin(distinct))
    if not idle.any():
        return None
    n = int(idle.sum())
    message = (
        f"{table.source}: {n:,} {entity}s ({line_list(table, side.positions[idle])}) have "
        f"no interactions in {raw.source}. They stay in the catalogue and can only be "
        "recommended by content-based models."
    )
    ex = examples(table, column, side.positions[idle], side.frame.index[idle][:10].tolist())
    return Problem(
        f"{entity}_without_interactions", "warning", message, n, ex, column, table.source
    )
