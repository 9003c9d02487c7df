"""Parquet files as all-string tables, with size limits checked before the data is decoded."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys_core.data._io_format import MB, ROWS_VAR, TABLE_MB_VAR, size_text
from recsys_core.errors import InputError

# A number cast to text takes at most this many characters ("-1.2345678901234567e-308").
_NUMBER_CHARS = 24


def open_parquet(raw: bytes, source: str, max_rows: int, max_mb: int) -> pa.Table:
    """Read a Parquet file after checking its metadata against the limits.

    The row count and the uncompressed size come from the footer, so a small file that
    expands to billions of rows or gigabytes (compression, run-length or dictionary
    encoding) is refused before anything is decoded. Text columns are read dictionary-encoded
    and their size as plain text is computed from the dictionary before it is expanded.

    Raises:
        InputError: an unreadable file, or one over ``max_rows`` rows or ``max_mb`` MB.
    """
    try:
        meta = pq.ParquetFile(pa.BufferReader(raw)).metadata
        text = _text_columns(meta)
        if meta.num_rows > max_rows:
            raise _over(source, f"{meta.num_rows:,} rows", f"{max_rows:,} rows", ROWS_VAR)
        _check_bytes(source, _uncompressed(meta), max_mb)
        table = pq.ParquetFile(pa.BufferReader(raw), read_dictionary=text).read()
    except (pa.ArrowException, OSError) as exc:
        raise InputError(
            f"{source} is not a readable Parquet file ({exc}). Export it again, or save it as CSV."
        ) from exc
    _check_bytes(source, sum(_text_bytes(c) for c in table.columns), max_mb, as_text=True)
    return table


def _text_columns(meta: pq.FileMetaData) -> list[str]:
    """Top-level byte-array columns, which are read dictionary-encoded."""
    if not meta.num_row_groups:
        return []
    group = meta.row_group(0)
    paths = (group.column(j) for j in range(group.num_columns))
    return [c.path_in_schema for c in paths if c.physical_type == "BYTE_ARRAY"
            and "." not in c.path_in_schema]  # fmt: skip


def _uncompressed(meta: pq.FileMetaData) -> int:
    total = 0
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        total += sum(group.column(j).total_uncompressed_size for j in range(group.num_columns))
    return total


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
        return int(column.nbytes) + len(column) * 4  # the "|" separators, with room
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
