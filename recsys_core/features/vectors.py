"""Per-item vectors uploaded as a file (CSV, Parquet, NPY, NPZ), checked row by row."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys_core.columns import Columns
from recsys_core.errors import InputError
from recsys_core.features._limits import MB, VECTOR_MB
from recsys_core.features._npy import npy_array, npz_array, npz_headers

#: Names tried, in order, for the id column (CSV, Parquet) or id array (NPZ, NPY fields).
ID_NAMES = (Columns.item, "item", "id", "item_ids", "ids", "items")
#: Names tried for the matrix of an NPZ file when it holds more than one 2-D array.
MATRIX_NAMES = ("vectors", "embeddings", "matrix", "x", "features")
_SHOWN = 5  # offending rows named per problem
_F32_MAX = float(np.finfo(np.float32).max)
#: What counts as a number inside a text vector (as pandas reads numbers; ASCII digits only).
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$"


@dataclass(frozen=True)
class _Raw:
    """Ids and vector values as read, before any check (lengths give each row's size)."""

    ids: np.ndarray  # object: str, or None where the id is missing
    values: np.ndarray  # float64, all rows' values one after the other
    lengths: np.ndarray  # int64, values per row


def read_item_vectors(data: bytes, name: str) -> pd.Series:
    """Read one vector per item from an uploaded file.

    Accepted layouts: CSV/TSV with an id column (item_id, id or the first column) and either
    number columns v0..vN or one column of numbers in a string ("0.1 0.2 ..."); Parquet
    with the same, or a list column; NPZ with an ids array and a matrix; NPY as a structured
    array (id field + vector field) or a number matrix whose first column is the item id.

    Returns:
        float32 arrays indexed by item id (str, named ``Columns.item``), in file order.

    Raises:
        InputError: naming the file and the first offending rows (1 = first data row) for
            missing ids, duplicate ids, rows of another size than the rest, and missing,
            non-numeric or infinite values; or an unreadable file or unknown format.
    """
    suffix = Path(name).suffix.lower()
    readers = {".csv": _csv, ".tsv": _csv, ".txt": _csv, ".parquet": _parquet, ".pq": _parquet}
    readers |= {".npy": _npy, ".npz": _npz}
    if suffix not in readers:
        raise InputError(
            f"{name}: unknown vector file type {suffix or '(none)'}; upload CSV, TSV, Parquet, "
            "NPY or NPZ."
        )
    try:
        raw = readers[suffix](data, name)
    except (ValueError, OSError, pa.ArrowException, zipfile.BadZipFile) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{name}: cannot be read as {suffix[1:].upper()} ({exc}).") from None
    matrix = _checked(raw, name)
    index = pd.Index(raw.ids.astype(str), name=Columns.item, dtype=str)
    return pd.Series(list(matrix), index=index, name="vector", dtype=object)


def attach_item_vectors(
    items: pd.DataFrame | None, vectors: pd.Series, column: str = "image"
) -> pd.DataFrame:
    """The item table with ``vectors`` as ``column`` (missing where an item has none).

    Items only in ``vectors`` are added as rows, so their vectors are kept for the catalogue.
    """
    base = pd.DataFrame(index=pd.Index([], dtype=str)) if items is None else items.copy()
    base.index = base.index.astype(str)
    index = base.index.union(vectors.index.astype(str), sort=False)
    out = base.reindex(index)
    out[column] = vectors.set_axis(vectors.index.astype(str)).reindex(index).astype(object)
    out.index.name = Columns.item
    return out


# ---------------------------------------------------------------------------- readers
def _id_column(columns: list[str]) -> str:
    lower = {c.lower(): c for c in reversed(columns)}
    return next((lower[n] for n in ID_NAMES if n in lower), columns[0])


def _csv(data: bytes, name: str) -> _Raw:
    sep = "\t" if Path(name).suffix.lower() == ".tsv" else ","
    header = pd.read_csv(io.BytesIO(data), sep=sep, nrows=0).columns.astype(str).tolist()
    if len(header) < 2:
        raise InputError(f"{name}: needs an item id column and vector values; found {header}.")
    id_col = _id_column(header)
    frame = pd.read_csv(io.BytesIO(data), sep=sep, dtype={id_col: str}, keep_default_na=False)
    return _from_frame(frame, id_col)


def _from_frame(frame: pd.DataFrame, id_col: str) -> _Raw:
    ids = _clean_ids(frame[id_col].to_numpy(dtype=object))
    rest = [c for c in frame.columns if c != id_col]
    if len(rest) == 1 and not pd.api.types.is_numeric_dtype(frame[rest[0]].dtype):
        values, lengths = _numbers_in_text(frame[rest[0]])
        return _Raw(ids, values, lengths)
    matrix = frame[rest].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    return _Raw(ids, matrix.ravel(), np.full(len(frame), len(rest), dtype=np.int64))


def _numbers_in_text(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values (NaN where not a number) and per-row counts of a column like "0.1 0.2" or
    "[1, 2]". Arrow splits and parses: a few bytes per value, not a Python object each."""
    cells = column.astype(object).fillna("").astype(str)  # astype(str) alone keeps NaN
    text = pa.array(cells.to_numpy(dtype=object), type=pa.large_string())
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"[\[\]]", ""))
    filled = pc.not_equal(text, "")
    parts = pc.split_pattern_regex(pc.filter(text, filled), r"[\s,;]+")
    lengths = np.zeros(len(text), dtype=np.int64)
    lengths[filled.to_numpy(zero_copy_only=False)] = pc.list_value_length(parts).to_numpy()
    tokens = pc.list_flatten(parts)
    try:
        values = pc.cast(tokens, pa.float64())  # the common case: every token a number
    except pa.ArrowInvalid:  # others become NaN, which the checks report by row
        number = pc.match_substring_regex(tokens, _NUMBER, ignore_case=True)
        values = pc.cast(pc.if_else(number, tokens, pa.scalar(None, tokens.type)), pa.float64())
    return values.to_numpy(zero_copy_only=False), lengths


def _parquet(data: bytes, name: str) -> _Raw:
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if size > VECTOR_MB.value() * MB:
        raise InputError(
            f"{name}: holds {size / MB:,.0f} MB of values once decompressed, over the limit of "
            f"{VECTOR_MB.describe()}."
        )
    table = pq.read_table(io.BytesIO(data))
    if table.num_columns < 2:
        raise InputError(f"{name}: needs an item id column and vector values.")
    id_col = _id_column(table.column_names)
    position = table.column_names.index(id_col)
    table = table.set_column(position, id_col, pc.cast(table.column(id_col), pa.string()))
    rest = [c for c in table.column_names if c != id_col]
    column = table.column(rest[0]).combine_chunks() if len(rest) == 1 else None
    if column is not None and pa.types.is_list(column.type) | pa.types.is_large_list(column.type):
        lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy()
        values = pc.list_flatten(column).cast(pa.float64()).to_numpy(zero_copy_only=False)
        ids = _clean_ids(table.column(id_col).to_numpy(zero_copy_only=False).astype(object))
        return _Raw(ids, values, lengths.astype(np.int64))
    return _from_frame(table.to_pandas(), id_col)


def _npy(data: bytes, name: str) -> _Raw:
    arr = npy_array(data, name)  # header checked: flat numbers/text, size bounded and present
    if arr.dtype.names:
        fields = list(arr.dtype.names)
        id_field = _id_column(fields)
        rest = [f for f in fields if f != id_field]
        kinds = {arr.dtype.fields[f][0].base.kind for f in rest}  # type: ignore[index]
        if arr.ndim != 1 or not rest or not kinds <= set("iuf"):
            raise InputError(
                f"{name}: a structured NPY file needs one row per item, an id field and number "
                f"fields; found shape {arr.shape} and fields {arr.dtype}."
            )
        parts = [arr[f].reshape(len(arr), -1).astype(np.float64) for f in rest]
        return _matrix_raw(arr[id_field], np.hstack(parts), name)
    if arr.ndim != 2 or arr.shape[1] < 2 or arr.dtype.kind not in "iuf":
        raise InputError(
            f"{name}: an NPY file needs item ids: save a structured array (id + vector fields) "
            "or a number matrix whose first column is the item id; or use NPZ (ids + matrix)."
        )
    return _matrix_raw(arr[:, 0], arr[:, 1:].astype(np.float64), name)


def _npz(data: bytes, name: str) -> _Raw:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        headers = npz_headers(archive, name)  # sizes and dtypes checked, nothing inflated yet
        shapes = {key: header.shape for key, (_, header) in headers.items()}
        one_d = [k for k, shape in shapes.items() if len(shape) == 1]
        two_d = [k for k, shape in shapes.items() if len(shape) == 2]
        id_key = next((k for k in ID_NAMES if k in one_d), one_d[0] if len(one_d) == 1 else None)
        mat_key = next(
            (k for k in MATRIX_NAMES if k in two_d), two_d[0] if len(two_d) == 1 else None
        )
        if id_key is None or mat_key is None:
            raise InputError(
                f"{name}: an NPZ file needs one 1-D array of item ids (e.g. 'ids') and one 2-D "
                f"matrix (e.g. 'vectors'); found {sorted(shapes)}."
            )
        n_ids, n_rows = shapes[id_key][0], shapes[mat_key][0]
        if n_ids != n_rows:
            raise InputError(
                f"{name}: '{id_key}' has {n_ids} ids but '{mat_key}' has {n_rows} rows."
            )
        matrix_dtype = headers[mat_key][1].dtype
        if matrix_dtype.kind not in "iuf" or matrix_dtype.names:
            raise InputError(f"{name}: '{mat_key}' holds {matrix_dtype} values, not numbers.")
        ids = npz_array(archive, *headers[id_key], f"{name}: array {id_key!r}")
        matrix = npz_array(archive, *headers[mat_key], f"{name}: array {mat_key!r}")
    if ids.dtype.names:
        raise InputError(f"{name}: '{id_key}' holds records, not item ids.")
    return _matrix_raw(ids, matrix.astype(np.float64), name)


def _matrix_raw(ids: np.ndarray, matrix: np.ndarray, name: str) -> _Raw:
    if ids.dtype.kind == "f":
        whole = np.isfinite(ids) & (ids == np.round(ids))
        if not whole.all():
            bad = (np.flatnonzero(~whole)[:_SHOWN] + 1).tolist()
            raise InputError(f"{name}: item ids must be whole numbers or text; see rows {bad}.")
        ids = ids.astype(np.int64)
    lengths = np.full(len(matrix), matrix.shape[1], dtype=np.int64)
    return _Raw(_clean_ids(ids.astype(str).astype(object)), matrix.ravel(), lengths)


def _clean_ids(ids: np.ndarray) -> np.ndarray:
    """Ids as stripped strings; missing or blank ids become None."""
    series = pd.Series(ids, dtype=object)
    text = series.astype(str).str.strip()
    blank = series.isna().to_numpy() | (text == "").to_numpy() | (text == "nan").to_numpy()
    out = text.to_numpy(dtype=object)
    out[blank] = None
    return out


# ---------------------------------------------------------------------------- checks
def _rows(mask: np.ndarray) -> str:
    """The first offending rows, 1-based, as text."""
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(r + 1) for r in rows[:_SHOWN])
    return shown + (f" (and {len(rows) - _SHOWN} more)" if len(rows) > _SHOWN else "")


def _checked(raw: _Raw, name: str) -> np.ndarray:
    """The ``[n, d]`` float32 matrix, or an InputError listing every kind of problem."""
    n = len(raw.ids)
    if n == 0:
        raise InputError(f"{name}: holds no rows; upload a file with one vector per item.")
    problems = []
    missing = pd.isna(raw.ids)
    if missing.any():
        problems.append(f"no item id in row(s) {_rows(missing)}")
    dup = pd.Series(raw.ids).duplicated(keep=False).to_numpy() & ~missing
    if dup.any():
        first = raw.ids[np.flatnonzero(dup)[0]]
        problems.append(f"duplicate item ids in row(s) {_rows(dup)} (e.g. {first!r})")
    sizes, counts = np.unique(raw.lengths, return_counts=True)
    dim = int(sizes[np.argmax(counts)])
    odd = raw.lengths != dim
    if odd.any() or dim == 0:
        problems.append(
            f"vectors of {dim} values in most rows, but rows {_rows(odd | (raw.lengths == 0))} "
            f"have {sorted(set(raw.lengths[odd].tolist()) or {0})} values"
        )
    else:
        problems += _value_problems(raw.values.reshape(n, dim))
    if problems:
        raise InputError(f"{name}: " + "; ".join(problems) + ". Fix the file and upload it again.")
    return raw.values.reshape(n, dim).astype(np.float32)


def _value_problems(matrix: np.ndarray) -> list[str]:
    """Rows with non-finite values, and rows whose values overflow float32 (1e39 -> inf)."""
    problems = []
    finite = np.isfinite(matrix)
    bad = np.asarray(~finite.all(axis=1))
    if bad.any():
        problems.append(f"missing, non-numeric or infinite values in row(s) {_rows(bad)}")
    huge = np.asarray((np.abs(np.where(finite, matrix, 0.0)) > _F32_MAX).any(axis=1))
    if huge.any():
        problems.append(
            f"values beyond +/-{_F32_MAX:.4g} (too large for the 32-bit floats vectors are "
            f"kept in) in row(s) {_rows(huge)}"
        )
    return problems
