"""Parquet files as all-string tables, with size limits checked before the data is decoded."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys_core.data._io_format import MB, ROWS_VAR, TABLE_MB_VAR, check_column_names, size_text
from recsys_core.errors import InputError

# A number cast to text takes at most this many characters ("-1.2345678901234567e-308").
_NUMBER_CHARS = 24


def read_parquet(raw: bytes, source: str, max_rows: int, max_mb: int) -> pd.DataFrame:
    """A Parquet file's cells as strings (see :func:`open_parquet` for the limits).

    Damaged files fail in many places (names that are not UTF-8, dictionary indices out of
    range, string columns holding invalid UTF-8): every such failure is an InputError.
    """
    try:
        table = open_parquet(raw, source, max_rows, max_mb)
        names = check_column_names([str(c) for c in table.column_names], source)
        if table.num_rows == 0:
            raise InputError(f"{source} has columns but no rows. Upload a file with data rows.")
        columns = [_strings(table.column(i), n, source) for i, n in enumerate(names)]
        return pa.table(columns, names=names).to_pandas()
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise _unreadable(source, exc) from exc


def _unreadable(source: str, exc: Exception) -> InputError:
    return InputError(
        f"{source} is not a readable Parquet file ({exc}). Export it again, or save it as CSV."
    )


def _strings(col: pa.ChunkedArray, name: str, source: str) -> pa.ChunkedArray:
    """The column as valid UTF-8 strings; list cells (genres) become "A|B"."""
    kind = col.type
    if pa.types.is_dictionary(kind):
        return _strings(col.cast(kind.value_type), name, source)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        # list cells (e.g. genres) become "A|B", the multi-valued form the item mapping splits
        out = pc.binary_join(col.cast(pa.list_(pa.string())), "|")
    else:
        try:
            out = col.cast(pa.string())
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as exc:
            raise InputError(
                f"{source}: column {name!r} holds {kind} values that cannot be read as text. "
                "Flatten it into plain columns (numbers, text, dates) and export again."
            ) from exc
    out.validate(full=True)  # Parquet does not check that strings are UTF-8; later steps need it
    return out


def open_parquet(raw: bytes, source: str, max_rows: int, max_mb: int) -> pa.Table:
    """Read a Parquet file after checking its metadata against the limits.

    The row count and the uncompressed size come from the footer, so a small file that
    expands to billions of rows or gigabytes (compression, run-length or dictionary
    encoding) is refused before anything is decoded. Text columns are read dictionary-encoded
    and their size as plain text is computed from the dictionary before it is expanded.

    Raises:
        InputError: an unreadable file, or one over ``max_rows`` rows or ``max_mb`` MB.
    """
    meta = pq.ParquetFile(pa.BufferReader(raw)).metadata
    if meta.num_rows > max_rows:
        raise _over(source, f"{meta.num_rows:,} rows", f"{max_rows:,} rows", ROWS_VAR)
    _check_bytes(source, _uncompressed(meta), max_mb)
    table = pq.ParquetFile(pa.BufferReader(raw), read_dictionary=_text_columns(meta)).read()
    _check_bytes(source, sum(_text_bytes(c) for c in table.columns), max_mb, as_text=True)
    return table


def _text_columns(meta: pq.FileMetaData) -> list[str]:
    """Paths of the byte-array columns (list elements too), which are read dictionary-encoded.

    From the schema, not the column chunks: building a chunk's metadata from a damaged
    footer can abort the process inside Arrow (an uncatchable C++ exception).
    """
    schema = meta.schema
    columns = (schema.column(j) for j in range(len(schema)))
    return [c.path for c in columns if c.physical_type == "BYTE_ARRAY"]


def _uncompressed(meta: pq.FileMetaData) -> int:
    """Uncompressed bytes of every row group, as the footer records them."""
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))


def _text_bytes(column: pa.ChunkedArray) -> int:
    """Bytes the column takes once every cell is plain text (dictionaries expanded)."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        total = 0
        for chunk in column.chunks:
            lengths = _lengths(chunk.dictionary)
            if lengths is None:
                total += len(chunk) * _NUMBER_CHARS
            else:
                picked = pc.take(lengths, chunk.indices)
                total += int(pc.sum(picked, min_count=0).as_py() or 0)
        return total
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        return int(column.nbytes)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        values = pc.list_flatten(column)  # elements may be dictionary-encoded too
        return _text_bytes(values) + len(values)  # and a "|" between elements
    return len(column) * _NUMBER_CHARS


def _lengths(values: pa.Array) -> pa.Array | None:
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        return pc.cast(pc.binary_length(values), pa.int64())
    return None


def _check_bytes(source: str, size: int, max_mb: int, *, as_text: bool = False) -> None:
    if size > max_mb * MB:
        what = f"{size_text(size)} as text" if as_text else f"{size_text(size)} uncompressed"
        raise _over(source, what, f"{max_mb:,} MB", TABLE_MB_VAR)


def _over(source: str, what: str, limit: str, variable: str) -> InputError:
    return InputError(
        f"{source} holds {what}, over the limit of {limit} ({variable}). Import a smaller "
        f"file (e.g. a sample of the rows), or raise the limit with the environment variable "
        f"{variable} if the machine has the memory for it."
    )
