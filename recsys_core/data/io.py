"""Read analysts' behaviour and metadata files (CSV/TSV/Parquet) into all-string tables."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from recsys_core.columns import Columns
from recsys_core.data import _io_sniff as _sniff
from recsys_core.data import _io_text
from recsys_core.data._io_format import (
    ENCODING_LABELS,
    MB,
    READABLE,
    ROWS_VAR,
    TABLE_MB_VAR,
    UPLOAD_MB_VAR,
    FileFormat,
    check_column_names,
    env_limit,
    size_text,
)
from recsys_core.data._io_parquet import read_parquet
from recsys_core.errors import InputError

_MB: Final = MB
__all__ = [
    "MAX_UPLOAD_MB",
    "READABLE",
    "FileFormat",
    "RawTable",
    "check_column_names",
    "check_encoding",
    "parse_delimiter",
    "read_table",
    "renamed",
    "sniff",
]


def _env_limit() -> int:
    return env_limit(UPLOAD_MB_VAR)


#: Largest accepted file in MB; set RECSYS_MAX_UPLOAD_MB to change it (read once at import).
MAX_UPLOAD_MB: int = _env_limit()

_PRESET_NAMES: Final = (Columns.user, Columns.item, Columns.rating, Columns.timestamp)
_ML_CSV_HEADER: Final = ["userId", "movieId", "rating", "timestamp"]
_ML_UDATA = re.compile(r"\d+\t\d+\t\d+(\.\d+)?\t\d+")
_ML_DAT = re.compile(r"\d+::\d+::\d+(\.\d+)?::\d+")


@dataclass(frozen=True, eq=False)
class RawTable:
    """A file's cells as strings, with what is needed to name file lines in messages.

    Attributes:
        frame: every column as strings (missing cells as NA), original column names.
        fmt: the detected or given layout.
        source: file name used in messages.
        first_line: file line number of frame row 0.
        line_numbers: file line of every row when rows are not on consecutive lines
            (blank lines, values spanning lines); None when they are.
    """

    frame: pd.DataFrame
    fmt: FileFormat
    source: str
    first_line: int
    line_numbers: np.ndarray | None = field(default=None, repr=False)

    def line(self, row_positions: np.ndarray) -> np.ndarray:
        """File line numbers (1-based; Parquet: row numbers) of the given frame rows."""
        pos = np.asarray(row_positions, dtype=np.int64)
        if self.line_numbers is not None:
            return self.line_numbers[pos]
        return pos + self.first_line


# ---------------------------------------------------------------------------------- sniffing
def sniff(
    data: bytes,
    name: str,
    *,
    delimiter: str | None = None,
    header: bool | None = None,
    encoding: str | None = None,
) -> FileFormat:
    """Detect kind, encoding, delimiter, header row and MovieLens presets from the bytes.

    The content decides, never the file name: ``u.item``, ``ratings.dat`` or a file without
    an extension read alike. ``delimiter``, ``header`` and ``encoding`` replace what would
    be detected (the analyst's corrections).

    Raises:
        InputError: empty, binary, spreadsheet or mixed-delimiter files.
    """
    if not data or data.isspace():
        raise InputError(f"{name} is empty. Upload a file with a header row and data rows.")
    _sniff.check_magic(data, name)
    if data.startswith(b"PAR1"):
        return FileFormat("parquet", None, True, "utf-8")
    encoding = check_encoding(encoding) if encoding else _sniff.detect_encoding(data, name)
    records = _sniff.sample_records(_sniff.sample_text(data, encoding))
    if not records:
        raise InputError(f"{name} has no text lines. Upload a CSV, TSV or Parquet file.")
    lines = [text for _, text in records]
    if delimiter is None and header is not True:
        if all(_ML_DAT.fullmatch(x) for x in lines):
            return FileFormat("csv", "::", False, encoding, "movielens-dat")
        if all(_ML_UDATA.fullmatch(x) for x in lines):
            return FileFormat("csv", "\t", False, encoding, "movielens-udata")
    delimiter = delimiter or _sniff.pick_delimiter(records, name)
    rows = [_sniff.split(x, delimiter) for x in lines]
    header = _sniff.has_header(rows) if header is None else header
    preset = "movielens-csv" if header and rows[0] == _ML_CSV_HEADER else None
    return FileFormat("csv", delimiter, header, encoding, preset)


def parse_delimiter(text: str) -> str:
    """The analyst's delimiter: one character, "::", or a name (tab, space, comma...)."""
    named = {"tab": "\t", "\\t": "\t", "space": " ", "comma": ",", "semicolon": ";",
             "pipe": "|", "colon": ":"}  # fmt: skip
    value = named.get(text.strip().lower(), text) if text.strip() else text
    if value == "::" or (len(value) == 1 and value not in ('"', "\n", "\r")):
        return value
    raise InputError(
        f"The delimiter {text!r} is not one character: give one character (e.g. ';' or '^'), "
        "'::' (MovieLens 1M), or tab, space, comma, semicolon, pipe."
    )


def check_encoding(encoding: str) -> str:
    """One of the encodings the reader takes (UTF-8, UTF-8 with BOM, UTF-16, Windows-1252,
    Latin-1), by code or label."""
    labels = {k.lower(): k for k in ENCODING_LABELS} | {
        v.lower(): k for k, v in ENCODING_LABELS.items()
    }
    labels |= {"latin1": "latin-1", "iso-8859-1": "latin-1", "utf8": "utf-8", "cp-1252": "cp1252"}
    found = labels.get(encoding.strip().lower())
    if found is None:
        raise InputError(
            f"The encoding {encoding!r} is not one the reader takes; choose one of "
            f"{', '.join(ENCODING_LABELS.values())}."
        )
    return found


# ---------------------------------------------------------------------------------- reading
def read_table(
    data: bytes | str | Path,
    name: str | None = None,
    *,
    fmt: FileFormat | None = None,
    max_bytes: int | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    encoding: str | None = None,
) -> RawTable:
    """Read a behaviour or metadata file into a :class:`RawTable` of strings.

    Args:
        data: the file's bytes (an upload) or a path (``str`` is a path).
        name: file name for messages; defaults to the path's name or "upload".
        fmt: a layout to use instead of sniffing it.
        max_bytes: size limit; defaults to ``MAX_UPLOAD_MB``.
        delimiter, header, encoding: corrections of what :func:`sniff` would detect.

    Raises:
        InputError: naming the file, for every way the file cannot be read as a table.
    """
    limit = max_bytes if max_bytes is not None else MAX_UPLOAD_MB * _MB
    if isinstance(data, str | Path):
        raw, source = _load_path(Path(data), name, limit)
    else:
        raw, source = bytes(data), name or "upload"
        _check_size(len(raw), limit, source)
    try:
        fmt = fmt or sniff(raw, source, delimiter=delimiter, header=header, encoding=encoding)
    except InputError as exc:
        raise InputError(f"{exc} {READABLE}") from exc
    if fmt.kind == "parquet":
        return _read_parquet(raw, source, fmt)
    _check_lines(raw, source)
    names = _column_names(raw, source, fmt)
    frame, first_line, lines = _io_text.read_text(raw, source, fmt, names)
    return RawTable(frame, fmt, source, first_line, lines)


def _load_path(path: Path, name: str | None, limit: int) -> tuple[bytes, str]:
    source = name or path.name
    if not path.is_file():
        raise InputError(f"{path}: no such file. Check the path and try again.")
    _check_size(path.stat().st_size, limit, source)
    return path.read_bytes(), source


def _check_size(size: int, limit: int, source: str) -> None:
    if size > limit:
        raise InputError(
            f"{source} is {_size(size)}, over the upload limit of {_size(limit)}. "
            "Upload a smaller file, or raise the limit with the environment variable "
            "RECSYS_MAX_UPLOAD_MB (in the app also streamlit's server.maxUploadSize in "
            ".streamlit/config.toml)."
        )


_size = size_text


def _check_lines(raw: bytes, source: str) -> None:
    """Refuse text with more lines than RECSYS_MAX_ROWS before parsing (a cheap byte count)."""
    limit = env_limit(ROWS_VAR)
    if len(raw) <= limit:  # fewer bytes than the limit: fewer lines too
        return
    lines = raw.count(b"\n") or raw.count(b"\r")
    if lines > limit + 1:  # the header row does not count
        raise InputError(
            f"{source} has {lines:,} lines, over the limit of {limit:,} rows ({ROWS_VAR}). "
            f"Import a smaller file (e.g. a sample of the rows), or raise the limit with the "
            f"environment variable {ROWS_VAR} if the machine has the memory for it."
        )


def _read_parquet(raw: bytes, source: str, fmt: FileFormat) -> RawTable:
    frame = read_parquet(raw, source, env_limit(ROWS_VAR), env_limit(TABLE_MB_VAR))
    return RawTable(frame, fmt, source, 1)


def _column_names(raw: bytes, source: str, fmt: FileFormat) -> list[str]:
    """Header names, the MovieLens preset names, or ``column_N`` for headerless files."""
    records = _sniff.sample_records(_sniff.sample_text(raw, fmt.encoding))
    if not records:
        raise InputError(f"{source} is empty. Upload a file with a header row and data rows.")
    first = _sniff.split(records[0][1], fmt.delimiter or ",")
    if fmt.header:
        return check_column_names(first, source)
    if fmt.preset in ("movielens-udata", "movielens-dat") and len(first) == len(_PRESET_NAMES):
        return list(_PRESET_NAMES)
    return [f"column_{j + 1}" for j in range(len(first))]


def renamed(raw: RawTable, names: list[str]) -> RawTable:
    """The same table under new column names (the analyst's, or a known layout's).

    Raises:
        InputError: a different number of names than columns, duplicates, control codes.
    """
    if len(names) != raw.frame.shape[1]:
        raise InputError(
            f"{raw.source} has {raw.frame.shape[1]} columns but {len(names)} names were given "
            f"({', '.join(map(str, names[:20]))}); give one name per column."
        )
    checked = check_column_names([str(n) for n in names], raw.source)
    return replace(raw, frame=raw.frame.set_axis(checked, axis=1))
