"""The layout of a text or Parquet file (:class:`FileFormat`) and the reading limits."""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Final, Literal

from recsys_core.data import _io_sniff as _sniff
from recsys_core.errors import InputError

MB: Final = 1024 * 1024
ENCODING_LABELS: Final = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
    "latin-1": "Latin-1",
}
_PRESET_LABELS: Final = {
    "movielens-udata": "MovieLens u.data",
    "movielens-dat": "MovieLens ratings.dat",
    "movielens-csv": "MovieLens ratings.csv",
}
#: What the reader takes, said whenever a file cannot be read.
READABLE: Final = (
    "The importer reads delimited text with any one-character delimiter (comma, semicolon, "
    "tab, pipe, '^'...) or MovieLens 1M's '::', with or without a header row, in UTF-8, "
    "Latin-1, Windows-1252 or UTF-16; and Parquet files. The file name and extension do not "
    "matter (.item, .dat, .data or none)."
)
#: Settings of the reading limits and their defaults (README, "Settings").
UPLOAD_MB_VAR: Final = "RECSYS_MAX_UPLOAD_MB"
ROWS_VAR: Final = "RECSYS_MAX_ROWS"
TABLE_MB_VAR: Final = "RECSYS_MAX_TABLE_MB"
DEFAULTS: Final = {UPLOAD_MB_VAR: 200, ROWS_VAR: 50_000_000, TABLE_MB_VAR: 2_000}
_SHOWN_NAMES: Final = 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class FileFormat:
    """How a file is laid out; ``io.sniff`` detects it and the import page shows it."""

    kind: Literal["csv", "parquet"]
    delimiter: str | None
    header: bool
    encoding: str
    preset: str | None = None

    def describe(self) -> str:
        """One line for the analyst, e.g. "CSV, delimiter ',', header row, UTF-8"."""
        if self.kind == "parquet":
            return "Parquet"
        delim = self.delimiter or ","
        parts = [
            "TSV" if delim == "\t" else "CSV",
            f"delimiter {_sniff.delimiter_label(delim)}",
            "header row" if self.header else "no header row",
            ENCODING_LABELS.get(self.encoding, self.encoding),
        ]
        text = ", ".join(parts)
        return f"{text} ({_PRESET_LABELS[self.preset]})" if self.preset in _PRESET_LABELS else text


def env_limit(name: str = UPLOAD_MB_VAR) -> int:
    """A positive whole-number limit from the environment, else its default.

    A typo in the setting must not stop importing, but must not pass silently either.
    """
    default = DEFAULTS[name]
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        message = f"{name}={raw!r} is not a positive whole number; using {default}."
        warnings.warn(message, stacklevel=2)
        return default
    return value


def size_text(n: int) -> str:
    """Bytes for messages: "1.5 MB" from a tenth of a MB up, else "1,234 bytes"."""
    return f"{n / MB:.1f} MB" if n >= MB // 10 else f"{n:,} bytes"


def check_column_names(names: list[str], source: str) -> list[str]:
    """Strip names, name empty ones ``column_N``; refuse duplicates (they break mapping) and
    control characters (a NUL cannot be stored; escape codes would reach the terminal)."""
    out = [n.strip() or f"column_{j + 1}" for j, n in enumerate(names)]
    odd = next((j for j, n in enumerate(out) if _CONTROL.search(n)), None)
    if odd is not None:
        raise InputError(
            f"{source}: column {odd + 1} has the name {out[odd][:80]!r}, which holds control "
            "characters (NUL, escape codes, line breaks...). Rename the column to plain text."
        )
    dupes = [n for n, c in Counter(out).items() if c > 1]
    if dupes:
        where = [j + 1 for j, n in enumerate(out) if n == dupes[0]]
        more = ", ..." if len(where) > _SHOWN_NAMES else ""
        raise InputError(
            f"{source}: the column name {dupes[0][:80]!r} appears more than once in the header "
            f"(columns {', '.join(map(str, where[:_SHOWN_NAMES]))}{more}). Rename the columns "
            "so every name is unique."
        )
    return out
