"""Vectorised cell parsers: ids, numbers, timestamps and spreadsheet-formula cells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Cell texts meaning "no value" in pandas, Excel, R and SQL exports (compared lower-case).
NULL_TOKENS: Final = ("", "nan", "na", "n/a", "null", "none", "nat", "#n/a", "-nan", "<na>")
# [0-9] and no \s: pandas then runs the patterns in pyarrow (RE2), ~10x faster than re.
NUMBER: Final = r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?"
DECIMAL_COMMA: Final = r"[-+]?[0-9]+,[0-9]+"
ISO_8601: Final = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?)?"
    r" ?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
)
# Kinds of timestamp cells; epoch units are told apart by magnitude (seconds stay below 1e11
# until the year 5138, milliseconds below 1e14, microseconds below 1e17).
MISSING, BAD = 0, -1
SECONDS, MILLIS, MICROS, NANOS, ISO = 1, 2, 3, 4, 5
FORMAT_NAMES: Final = {
    SECONDS: "Unix seconds",
    MILLIS: "Unix milliseconds",
    MICROS: "Unix microseconds",
    NANOS: "Unix nanoseconds",
    ISO: "ISO-8601 dates",
}
_UNITS: Final = ((SECONDS, 1e11, 1), (MILLIS, 1e14, 10**3), (MICROS, 1e17, 10**6))
#: Largest magnitude a number may have: values are stored and computed as 32-bit floats
#: (ratings, weights, feature blocks), where anything larger becomes infinite.
FLOAT32_MAX: Final = float(np.finfo(np.float32).max)
#: Times outside [1900-01-01, 2200-01-01) are refused: they come from a wrong unit or a typo
#: (-99999999999 would be the year -1199) and would skew time splits and recency.
TS_MIN: Final = -2_208_988_800
TS_MAX: Final = 7_258_118_400
TS_RANGE_TEXT: Final = "before 1900-01-01 or from 2200-01-01 on"


def _mask(values: pd.Series) -> np.ndarray:
    """A writable numpy bool array (pandas may hand out read-only views)."""
    return np.require(values.to_numpy(dtype=bool, na_value=False), requirements="W")


def as_text(column: pd.Series) -> pd.Series:
    """The column as pandas strings (a no-op for frames from :func:`read_table`)."""
    return column if column.dtype == "str" else column.astype("str")


def cast(values: pd.Series, kind: type[int] | type[float]) -> np.ndarray:
    """Number strings (already checked) to int64/float64; pyarrow's cast is ~15x pandas'."""
    target = pa.int64() if kind is int else pa.float64()
    try:
        return pc.cast(pa.array(values), target).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return values.astype("int64" if kind is int else "float64").to_numpy()  # "+4" and such


def null_like(stripped: pd.Series) -> np.ndarray:
    """Cells written as a null marker ("NaN", "NULL", "n/a"...)."""
    return _mask(stripped.str.lower().isin(NULL_TOKENS[1:]))


@dataclass(frozen=True, eq=False)
class Ids:
    """Id cells stripped of surrounding spaces, and which cells are unusable."""

    values: pd.Series
    missing: np.ndarray
    malformed: np.ndarray
    padded: np.ndarray
    numeric: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return ~(self.missing | self.malformed)


def parse_ids(column: pd.Series) -> Ids:
    """Strip ids; empty and null-like cells are missing, blank or control-character cells bad.

    Number-like ids (the common case) pass one regex; the other checks run only on the rest.
    """
    raw = as_text(column)
    stripped = raw.str.strip()
    numeric = _mask(stripped.str.fullmatch(NUMBER))
    missing = _mask(raw.isna())
    malformed = np.zeros(len(raw), dtype=bool)
    rest = np.flatnonzero(~numeric & ~missing)
    if len(rest):
        sub = stripped.iloc[rest]
        empty = _mask(raw.iloc[rest] == "") | null_like(sub)
        missing[rest] = empty
        bad = _mask(sub == "") | _mask(sub.str.contains(r"[\x00-\x1f\x7f]", regex=True))
        malformed[rest] = bad & ~empty
    padded = _mask(stripped != raw) & ~missing & ~malformed
    return Ids(stripped, missing, malformed, padded, numeric)


@dataclass(frozen=True, eq=False)
class Numbers:
    """Parsed number cells: values (NaN where missing or bad) and the kinds of failure.

    ``overflow`` marks well-formed numbers beyond ±FLOAT32_MAX (1e400 parses as infinity,
    1e39 becomes infinite as a 32-bit float); they are not ``bad``, so messages can say why.
    """

    values: np.ndarray
    missing: np.ndarray
    bad: np.ndarray
    decimal_comma: np.ndarray
    overflow: np.ndarray


def parse_numbers(column: pd.Series) -> Numbers:
    """Parse decimal numbers; "4,5" is bad but flagged as a decimal comma for the message."""
    stripped = as_text(column).str.strip()
    ok = _mask(stripped.str.fullmatch(NUMBER))
    values = np.full(len(stripped), np.nan)
    if ok.all():
        values = cast(stripped, float)
    elif ok.any():
        values[ok] = cast(stripped[ok], float)
    missing = _mask(stripped.isna())
    bad = np.zeros(len(stripped), dtype=bool)
    comma = np.zeros(len(stripped), dtype=bool)
    rest = np.flatnonzero(~ok & ~missing)
    if len(rest):
        sub = stripped.iloc[rest]
        empty = _mask(sub == "") | null_like(sub)
        missing[rest], bad[rest] = empty, ~empty
        comma[rest] = ~empty & _mask(sub.str.fullmatch(DECIMAL_COMMA))
    overflow = ok & ~(np.abs(values) <= FLOAT32_MAX)
    if overflow.any():
        values = np.where(overflow, np.nan, values)  # pyarrow may hand out read-only arrays
    return Numbers(values, missing, bad, comma, overflow)


@dataclass(frozen=True, eq=False)
class Timestamps:
    """Parsed timestamps: Unix seconds (0 where not parsed) and the format of every cell."""

    seconds: np.ndarray
    kind: np.ndarray


def parse_timestamps(column: pd.Series) -> Timestamps:
    """Parse Unix seconds/ms/us/ns (by magnitude) and ISO-8601 (naive times count as UTC).

    Integers (the common case) take one regex pass; other formats are tried on the rest.
    """
    stripped = as_text(column).str.strip()
    n = len(stripped)
    seconds = np.zeros(n, dtype=np.int64)
    kind = np.full(n, BAD, dtype=np.int8)
    integer = _mask(stripped.str.fullmatch(r"[-+]?[0-9]{1,18}"))
    if integer.any():
        _epoch(cast(stripped[integer], int), integer, seconds, kind)
    rest = np.flatnonzero(~integer)
    if not len(rest):
        return Timestamps(seconds, kind)
    sub = stripped.iloc[rest]
    kind[rest[_mask(sub.isna()) | _mask(sub == "") | null_like(sub)]] = MISSING
    decimal = _mask(sub.str.fullmatch(r"[-+]?[0-9]{1,18}\.[0-9]*"))
    if decimal.any():
        _epoch(cast(sub[decimal], float), _spread(rest[decimal], n), seconds, kind)
    iso = _mask(sub.str.fullmatch(ISO_8601))
    if iso.any():
        _iso(sub[iso], _spread(rest[iso], n), seconds, kind)
    return Timestamps(seconds, kind)


def _spread(positions: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[positions] = True
    return out


def _epoch(values: np.ndarray, where: np.ndarray, seconds: np.ndarray, kind: np.ndarray) -> None:
    magnitude = np.abs(values)
    unit = np.full(len(values), NANOS, dtype=np.int8)
    divisor = np.full(len(values), 10**9, dtype=np.int64)
    for code, limit, div in reversed(_UNITS):
        small = magnitude < limit
        unit[small], divisor[small] = code, div
    if values.dtype.kind == "f":
        out = np.floor(values / divisor).astype(np.int64)
    else:
        out = values // divisor
    seconds[where], kind[where] = out, unit


def _iso(texts: pd.Series, where: np.ndarray, seconds: np.ndarray, kind: np.ndarray) -> None:
    parsed = pd.to_datetime(texts, format="ISO8601", utc=True, errors="coerce")
    ok = parsed.notna().to_numpy()
    delta = parsed[ok].dt.tz_convert(None) - pd.Timestamp("1970-01-01")
    positions = np.flatnonzero(where)[ok]
    seconds[positions] = (delta // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)
    kind[positions] = ISO


def formula_cells(column: pd.Series, skip: np.ndarray | None = None) -> np.ndarray:
    """Cells a spreadsheet would run as a formula (=, +, -, @ first); numbers are not formulas.

    Args:
        skip: cells known not to be formulas (e.g. number-like ids), left unchecked for speed.
    """
    stripped = as_text(column).str.lstrip()
    out = np.zeros(len(stripped), dtype=bool)
    rest = np.arange(len(stripped)) if skip is None else np.flatnonzero(~skip)
    if len(rest):
        sub = stripped.iloc[rest]
        starts = _mask(sub.str.startswith(("=", "+", "-", "@")))
        if starts.any():
            out[rest[starts]] = ~_mask(sub[starts].str.fullmatch(NUMBER))
    return out
