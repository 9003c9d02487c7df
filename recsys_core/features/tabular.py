"""Column kinds of an attribute table, multi-hot categories and scaled numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: Cells of a string column holding this separator make it multi-valued (MovieLens "A|B").
SEPARATOR = "|"
#: Suffix of the flag column added next to a numeric column that has missing values.
MISSING_SUFFIX = "_missing"
#: Only this many leading rows are looked at to guess a column's kind (as the importer does).
_SNIFF_ROWS = 10_000


@dataclass(frozen=True)
class ColumnKinds:
    """Which columns of an attribute table feed which encoder.

    Attributes:
        text: free-text columns (title, description).
        categorical: columns of one value per cell from a small set (brand, language).
        multi_valued: columns listing several values per cell, as lists or "A|B" strings.
        numeric: number columns (price, year).
    """

    text: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    multi_valued: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)


def is_list_cell(value: object) -> bool:
    """A cell of a multi-valued column: a list, tuple or set (of strings), not a vector."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "OUS"
    return isinstance(value, list | tuple | set | frozenset)


def classify_columns(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> ColumnKinds:
    """Guess each column's kind from its values, with the importer's thresholds.

    Numbers are numeric; cells holding lists, or "|" in at least 5% of string cells, are
    multi-valued; long (25+ characters on average) or mostly unique wordy strings are free
    text; strings repeating a lot (at most half distinct, or at most 50 values) are
    categorical; what remains (codes unique per item) is text. Columns of numeric vectors
    (image embeddings) and empty columns are left out.
    """
    kinds = ColumnKinds()
    for col in frame.columns:
        if col in exclude:
            continue
        kind = _classify(frame[col].head(_SNIFF_ROWS))
        if kind is not None:
            getattr(kinds, kind).append(str(col))
    return kinds


def _classify(column: pd.Series) -> str | None:
    if pd.api.types.is_numeric_dtype(column.dtype):
        return "numeric" if column.notna().any() else None
    values = column.dropna()
    if values.empty:
        return None
    first = values.iloc[0]
    if is_list_cell(first):
        return "multi_valued"
    if isinstance(first, np.ndarray | list):
        return None  # a vector column: handled by the image encoder, not here
    text = values.astype(str).str.strip()
    text = text[text != ""]
    if text.empty:
        return None
    if text.str.contains(SEPARATOR, regex=False).mean() >= 0.05:
        return "multi_valued"
    unique_share = text.nunique() / len(text)
    wordy = text.str.count(" ").mean() >= 1
    if text.str.len().mean() >= 25 or (unique_share > 0.5 and wordy):
        return "text"
    if unique_share <= 0.5 or text.nunique() <= 50:
        return "categorical"
    return "text"


def tokens(column: pd.Series) -> pd.Series:
    """One row per (cell, value): lists exploded, "A|B" strings split, blanks dropped.

    The index repeats the row position (0..n-1) of the cell each value came from.
    """
    values = column.reset_index(drop=True).dropna()
    if values.empty:
        return pd.Series([], dtype=str)
    if isinstance(values.dtype, pd.CategoricalDtype) or not values.map(is_list_cell).any():
        values = values.astype(str).str.split(SEPARATOR, regex=False)
    flat = values.explode().dropna().astype(str).str.strip()
    return flat[flat != ""]


def multi_hot(
    frame: pd.DataFrame, columns: Sequence[str], max_values: int = 200
) -> tuple[sp.csr_matrix, list[str]]:
    """0/1 indicator columns named "col=value", the ``max_values`` most frequent per column.

    Frequency ties are broken by the value's text, so the vocabulary never depends on row
    order. A value repeated in one cell counts once.

    Returns:
        CSR float32 ``[len(frame), n_features]`` and the feature names.
    """
    blocks: list[sp.csr_matrix] = []
    names: list[str] = []
    for col in columns:
        tok = tokens(frame[col])
        if tok.empty:
            continue
        counts = tok.value_counts()
        order = np.lexsort((counts.index.to_numpy(dtype=str), -counts.to_numpy()))
        vocab = pd.Index(counts.index.to_numpy(dtype=str)[order[:max_values]])
        codes = vocab.get_indexer(tok.to_numpy(dtype=str))
        keep = codes >= 0
        block = sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.float32), (tok.index[keep], codes[keep])),
            shape=(len(frame), len(vocab)),
        )
        block.sum_duplicates()
        block.data[:] = 1.0
        blocks.append(block)
        names += [f"{col}={value}" for value in vocab]
    if not blocks:
        return sp.csr_matrix((len(frame), 0), dtype=np.float32), []
    return sp.csr_matrix(sp.hstack(blocks, format="csr"), dtype=np.float32), names


def scaled_numeric(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Standard-scaled numbers; a missing (or infinite) value becomes 0 plus a flag column.

    The mean and spread come from the values present; a constant column scales to all 0. A
    flag column "<col>_missing" (1 where the value was missing) is added only for columns
    with gaps, so a complete table gets no constant columns.

    Returns:
        float32 ``[len(frame), n_features]`` and the feature names.
    """
    parts: list[np.ndarray] = []
    names: list[str] = []
    for col in columns:
        x = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64, copy=True)
        x[~np.isfinite(x)] = np.nan
        missing = np.isnan(x)
        if missing.all():
            continue
        mean, std = np.nanmean(x), np.nanstd(x)
        z = np.where(missing, 0.0, (x - mean) / (std if std > 0 else 1.0))
        parts.append(z)
        names.append(str(col))
        if missing.any():
            parts.append(missing.astype(np.float64))
            names.append(f"{col}{MISSING_SUFFIX}")
    if not parts:
        return np.zeros((len(frame), 0), dtype=np.float32), []
    return np.column_stack(parts).astype(np.float32), names


def has_value(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Per row: does any of ``columns`` hold a value (not missing, not blank, not [])?"""
    out = np.zeros(len(frame), dtype=bool)
    for col in columns:
        series = frame[col]
        if pd.api.types.is_numeric_dtype(series.dtype):
            num = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
            out |= np.isfinite(num)
        else:
            positions = tokens(series).index.unique()
            out[np.asarray(positions, dtype=np.int64)] = True
    return out
