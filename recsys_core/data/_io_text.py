"""Fast text-table reading with pyarrow, with file line numbers for every row and bad row."""

from __future__ import annotations

import csv
import io
import re
import sys
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from recsys_core.data import _io_sniff as _sniff
from recsys_core.data._io_format import READABLE, FileFormat
from recsys_core.errors import InputError

#: Stand-in for multi-character delimiters ("::"), which pyarrow's parser cannot take.
_UNIT_SEP = "\x1f"
_MAX_SHOWN = 5
_PY_CODECS = {"utf-8-sig": "utf-8"}  # the BOM is already cut off the body


class _RaggedRows:
    """pyarrow invalid-row handler: counts rows with the wrong field count, keeps the first."""

    def __init__(self) -> None:
        self.count = 0
        self.rows: list[Any] = []

    def __call__(self, row: Any) -> str:
        self.count += 1
        if len(self.rows) < _MAX_SHOWN:
            self.rows.append(row)
        return "skip"


def read_text(
    raw: bytes, source: str, fmt: FileFormat, names: list[str]
) -> tuple[pd.DataFrame, int, np.ndarray | None]:
    """Parse delimited text into a frame of strings.

    Returns:
        The frame, the file line of row 0, and per-row file lines when rows are not on
        consecutive lines (None otherwise).
    """
    encoding = fmt.encoding
    if encoding == "utf-16":  # pyarrow reads UTF-8; convert once, line structure is kept
        raw, encoding = _sniff.utf16_to_utf8(raw, source), "utf-8"
    elif encoding in ("utf-8", "utf-8-sig") and not raw.isascii():
        # pyarrow decodes a ragged row's text before our handler sees it: invalid bytes there
        # print an "Exception ignored" traceback, so they are refused first, with their line.
        bad = _sniff.first_undecodable(raw, "utf-8")
        if bad is not None:
            raise _not_utf8(source, raw, bad)
    delim = fmt.delimiter or ","
    start = _content_start(raw)
    before = _sniff.line_of(raw, start) - 1
    body, delim = _normalise(raw, start, delim, _PY_CODECS.get(encoding, encoding))
    _refuse_wrong_delimiter(body, source, delim, names, encoding)
    ragged = _RaggedRows()
    table = _parse(body, source, fmt, names, delim, encoding, ragged)
    header = int(fmt.header)
    layout = (delim, encoding)
    if ragged.count:
        starts = record_lines(body, table.num_rows + header + ragged.count, *layout)
        _raise_ragged(starts, source, fmt, ragged, before, len(names))
    if table.num_rows == 0:
        raise InputError(f"{source} has a header row but no data rows. Upload the full file.")
    lines = _row_lines(body, table.num_rows, header, *layout)
    first = before + header + 1
    _refuse_unclosed_quote(body, table, source, first if lines is None else lines[-1] + before)
    frame = table.to_pandas()
    return frame, first, None if lines is None else lines + before


def _content_start(raw: bytes) -> int:
    """Offset after a UTF-8 BOM and leading blank lines (pyarrow's skip_rows counts those)."""
    start = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    match = re.compile(rb"[\r\n]*").match(raw, start)
    return match.end() if match else start


def _normalise(raw: bytes, start: int, delim: str, encoding: str) -> tuple[bytes, str]:
    """Bytes and delimiter pyarrow can parse: '::' becomes one character, space runs one space."""
    if len(delim) > 1 or not delim.isascii():  # "::", or a non-ASCII character ("¦")
        return raw[start:].replace(delim.encode(encoding), _UNIT_SEP.encode()), _UNIT_SEP
    if delim == " " and b"  " in raw:
        # Runs first, then the single spaces at line ends: each pattern is linear in the input
        # (one pattern for both would retry every space of a long run: quadratic time).
        body = re.sub(rb" {2,}", b" ", raw[start:])
        return re.sub(rb"(?m)^ | (?=\r?$)", b"", body), delim
    return (raw if start == 0 else raw[start:]), delim


def _parse(
    body: bytes,
    source: str,
    fmt: FileFormat,
    names: list[str],
    delim: str,
    encoding: str,
    ragged: _RaggedRows,
) -> pa.Table:
    read = pa_csv.ReadOptions(
        use_threads=False,  # single-threaded keeps row numbers for bad rows; it is fast enough
        column_names=names,
        skip_rows=int(fmt.header),
        encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
    )
    parse = pa_csv.ParseOptions(
        delimiter=delim,
        newlines_in_values=b'"' in body,
        ignore_empty_lines=True,
        invalid_row_handler=ragged,
    )
    convert = pa_csv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    try:
        return pa_csv.read_csv(pa.py_buffer(body), read, parse, convert)
    except pa.ArrowInvalid as exc:
        raise _parse_error(body, source, fmt, exc) from exc


def _not_utf8(source: str, body: bytes, bad: int | None) -> InputError:
    where = f"line {_sniff.line_of(body, bad)}" if bad is not None else "a line"
    return InputError(
        f"{source}: {where} has bytes that are not valid UTF-8, so the file is in another "
        "encoding (often Windows-1252 or Latin-1). Save it as 'CSV UTF-8', or let the "
        "importer detect the encoding."
    )


def _parse_error(body: bytes, source: str, fmt: FileFormat, exc: Exception) -> InputError:
    if "UTF8" in str(exc) or "UTF-8" in str(exc):
        return _not_utf8(source, body, _sniff.first_undecodable(body, "utf-8"))
    return InputError(
        f'{source} could not be read as {fmt.describe()}: {exc}. Check that quotes (") are '
        f"balanced and that the delimiter is right. {READABLE}"
    )


def _refuse_wrong_delimiter(
    body: bytes, source: str, delim: str, names: list[str], encoding: str
) -> None:
    """One column while the lines split cleanly on another delimiter: the choice is wrong."""
    if len(names) != 1:
        return
    records = _sniff.sample_records(_sniff.sample_text(body, encoding))
    found = _sniff.pick_delimiter(records, source)
    if found != delim and records and len(_sniff.split(records[0][1], found)) > 1:
        used, other = _sniff.delimiter_label(delim), _sniff.delimiter_label(found)
        raise InputError(
            f"{source}: with the delimiter {used} every line is a single field, but the lines "
            f"are separated by {other}. Choose {other} as the delimiter (or let it be detected)."
        )


def _raise_ragged(
    starts: np.ndarray,
    source: str,
    fmt: FileFormat,
    ragged: _RaggedRows,
    before: int,
    expected: int,
) -> None:
    shown = []
    for row in ragged.rows:
        number = row.number if row.number is not None else 0
        line = int(starts[number - 1]) + before if 0 < number <= len(starts) else "?"
        shown.append(f"line {line} has {row.actual_columns} fields")
    what = "the header" if fmt.header else "the first line"
    label = _sniff.delimiter_label(fmt.delimiter or ",")
    texts = [row.text.replace(_UNIT_SEP, "::") for row in ragged.rows]
    other = _sniff.hint_delimiter(texts, fmt.delimiter or ",", expected)
    hint = (
        f" Those lines are separated by {_sniff.delimiter_label(other)}, not {label}: the file "
        "mixes delimiters. Save it again with one delimiter on every line."
        if other
        else f" A value probably contains the delimiter {label}: put such values in double "
        'quotes ("Toy Story, The"), or remove the extra or missing fields.'
    )
    raise InputError(
        f"{source}: {ragged.count:,} rows do not have the {expected} fields of {what} "
        f"(delimiter {label}): {'; '.join(shown)}.{hint}"
    )


def _refuse_unclosed_quote(body: bytes, table: pa.Table, source: str, last_line: int) -> None:
    """An opening quote never closed swallows the rest of the file into one value."""
    end = len(body)
    while end and body[end - 1] in b" \t\r\n":  # no rstrip(): it would copy the whole file
        end -= 1
    if table.num_rows == 0 or body[end - 1 : end] == b'"':
        return
    tail = body[max(0, end - 4096) : end].decode("utf-8", errors="replace")
    for column in table.columns:
        value = column[-1].as_py()
        if isinstance(value, str) and "\n" in value and tail.endswith(value.rstrip()[-4096:]):
            raise InputError(
                f'{source}: line {last_line} opens a quote (") that is never closed, so '
                "everything after it would be read as one value. Close the quote, or remove it."
            )


def _row_lines(
    body: bytes, n_rows: int, header: int, delim: str, encoding: str
) -> np.ndarray | None:
    """File lines of data rows (relative to ``body``) when they are not simply consecutive."""
    nl = b"\n" if b"\n" in body else b"\r"
    physical = body.count(nl) + (0 if body.endswith(nl) else 1)
    if physical == n_rows + header:
        return None
    lines = record_lines(body, n_rows + header, delim, encoding)[header:]
    # Quoting that neither pyarrow's count nor csv can follow: number rows consecutively
    # rather than point messages at wrong rows' neighbours.
    return lines if len(lines) == n_rows else None


def record_lines(body: bytes, expected: int, delim: str, encoding: str) -> np.ndarray:
    """1-based line where each non-empty record starts.

    Vectorised: a line break ends a record only outside quotes, which with CSV's doubled-quote
    escaping is when an even number of quotes precede it. Literal quotes inside unquoted
    values (24" screen) break that count; then, and only then, Python's csv module (same
    quoting rules as pyarrow) walks the file, so the lines stay exact.
    """
    arr = np.frombuffer(body, dtype=np.uint8)
    nl_byte = 10 if b"\n" in body else 13
    nl = np.flatnonzero(arr == nl_byte)
    ends = nl
    if b'"' in body:
        quotes = np.flatnonzero(arr == ord('"'))
        ends = nl[np.searchsorted(quotes, nl) % 2 == 0]
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(arr)]))
    length = stops - starts
    first = arr[np.minimum(starts, max(len(arr) - 1, 0))] if len(arr) else np.zeros(0, np.uint8)
    empty = (length <= 0) | ((length == 1) & (first == 13))
    lines = np.searchsorted(nl, starts[~empty], side="left") + 1
    return lines if len(lines) == expected else _csv_record_lines(body, delim, encoding)


def _csv_record_lines(body: bytes, delim: str, encoding: str) -> np.ndarray:
    text = io.TextIOWrapper(io.BytesIO(body), encoding=_PY_CODECS.get(encoding, encoding),
                            errors="replace", newline="")  # fmt: skip
    reader = csv.reader(text, delimiter=delim)
    starts: list[int] = []
    previous = 0
    limit = csv.field_size_limit(sys.maxsize)  # pyarrow takes values of any length; so must we
    try:
        for row in reader:  # a loop over rows, but only for files with irregular quoting
            if row:
                starts.append(previous + 1)
            previous = reader.line_num
    except csv.Error:  # quoting csv cannot follow: the lines found so far are still right
        pass
    finally:
        csv.field_size_limit(limit)
    return np.asarray(starts, dtype=np.int64)
