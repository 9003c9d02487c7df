"""Sniffing helpers: magic bytes, encoding, delimiter and header detection on a sample."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from itertools import combinations
from typing import Final

import numpy as np

from recsys_core.errors import InputError

SAMPLE_BYTES: Final = 1 << 16
SAMPLE_LINES: Final = 200
DELIM_LABELS: Final = {"\t": "tab", " ": "space"}
#: Delimiters detected only when none of tab , ; | occurs (any other one can be chosen).
OTHER_DELIMITERS: Final = ("^", "~", ":", "#", "!", "\x01", "\x1e", "\x1f", "¦", "§", "*", "=")
# Quotes open a value only at its start (as in pyarrow and the csv module); a quote inside a
# value (24" screen) is a literal character.
# Possessive loops (*+): a failed match gives nothing back, so no input costs quadratic time.
_QUOTED = re.compile(r'(?:^|(?<=[,;\t|: \n]))"(?:[^"]++|"")*+"(?=[,;\t|: \n]|$)')
_NEXT_BREAK_OR_QUOTE = re.compile(r'\n|(?:^|(?<=[,;\t|: \n]))"')
_CLOSE_QUOTE = re.compile(r'[^"]*+(?:""[^"]*+)*+"')
_SPACES = re.compile(" +")
_TYPED: Final = {
    "number": re.compile(r"[-+]?(?:\d++(?:\.\d*+)?|\.\d++)(?:[eE][-+]?\d++)?"),
    "date": re.compile(r"\d{4}-\d\d-\d\d.*"),
}
_MAGIC: Final = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls)"),
)


def line_of(data: bytes, offset: int) -> int:
    """1-based line number of a byte offset."""
    return data.count(b"\n", 0, offset) + 1


def delimiter_label(delimiter: str) -> str:
    """How messages name a delimiter: tab, space or the quoted character."""
    return DELIM_LABELS.get(delimiter, repr(delimiter))


def check_magic(data: bytes, name: str) -> None:
    """Refuse spreadsheets and archives renamed to .csv, which would read as garbage."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise InputError(
                f"{name} looks like {what}, not a text file. Open it in Excel and save it as "
                "CSV (File > Save As > 'CSV UTF-8'), then upload the .csv file."
            )
    if data.startswith(b"\x1f\x8b"):
        raise InputError(f"{name} is gzip-compressed. Decompress it (gunzip) and upload the CSV.")


def detect_encoding(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252 or Latin-1.

    Latin-1 decodes any byte, so it is the last resort that keeps an import from failing.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        _check_utf16(data, name)
        return "utf-16"
    nul = data.find(b"\x00")
    # Many NULs: a binary file or UTF-16 without a BOM (every other byte of ASCII text). A few
    # are stray characters in a text file: validation refuses them naming column and line.
    if nul >= 0 and data.count(b"\x00") * 100 > len(data):
        raise InputError(
            f"{name} contains NUL bytes (first on line {line_of(data, nul)}): it is a "
            "binary file or UTF-16 text without a byte-order mark. Save it as CSV UTF-8."
        )
    if data.isascii() or first_undecodable(data, "utf-8") is None:
        return "utf-8"
    # Windows exports put quotes and dashes in 0x80-0x9F, which Latin-1 reads as control codes.
    if re.search(rb"[\x80-\x9f]", data) and first_undecodable(data, "cp1252") is None:
        return "cp1252"
    return "latin-1"


def _check_utf16(data: bytes, name: str) -> None:
    bad = first_undecodable(data, "utf-16")
    if bad is None:
        return
    line = data[:bad].decode("utf-16", errors="replace").count("\n") + 1
    raise InputError(
        f"{name} starts with a UTF-16 byte-order mark, but line {line} (byte {bad:,}) is not "
        "valid UTF-16: the file is damaged or not UTF-16 text. Save it again as 'CSV UTF-8'."
    )


def utf16_to_utf8(data: bytes, name: str) -> bytes:
    """UTF-16 text (with its byte-order mark) as UTF-8 bytes, the encoding pyarrow reads."""
    _check_utf16(data, name)
    return data.decode("utf-16").encode("utf-8")


def first_undecodable(data: bytes, encoding: str) -> int | None:
    """Byte offset of the first byte that ``encoding`` cannot decode, or None.

    Decodes in 16 MB chunks so that a large file is never held twice as text.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(data)
    step = 1 << 24
    for start in range(0, len(data), step):
        try:
            decoder.decode(view[start : start + step], final=start + step >= len(data))
        except UnicodeDecodeError as exc:
            return start + exc.start
    return None


def sample_text(data: bytes, encoding: str) -> str:
    """The first ~64 KB as text, cut at a line end so no record is split."""
    if encoding == "utf-16":
        return data[: 2 * SAMPLE_BYTES].decode("utf-16", errors="replace")
    chunk = data[:SAMPLE_BYTES]
    cut = chunk.rfind(b"\n")
    if len(data) > SAMPLE_BYTES and cut > 0:
        chunk = chunk[:cut]
    return chunk.decode(encoding, errors="replace")


def sample_records(text: str) -> list[tuple[int, str]]:
    """Non-blank records of a text sample with their first line numbers.

    A record continues over line breaks while a quoted value is open, as in CSV: a quote
    opens a value only at its start, ``""`` inside it is a literal quote, and the next lone
    quote closes it (pyarrow's rules). One pass over the text, jumping from one line break
    or quote to the next, so any sample costs time linear in its size.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[tuple[int, str]] = []
    pos = start = 0
    line = first = 1
    while len(out) < SAMPLE_LINES:
        found = _NEXT_BREAK_OR_QUOTE.search(text, pos)
        if found is None:
            break
        if found.group() == "\n":
            _keep(out, first, text[start : found.start()])
            pos = start = found.end()
            line = first = line + 1
            continue
        close = _CLOSE_QUOTE.match(text, found.end())
        if close is None:  # an unclosed quote: the rest of the sample is one record
            pos = len(text)
            break
        line += text.count("\n", found.end(), close.end())
        pos = close.end()
    if len(out) < SAMPLE_LINES:
        _keep(out, first, text[start:])
    return out


def _keep(out: list[tuple[int, str]], line: int, record: str) -> None:
    if record.strip():
        out.append((line, record))


def pick_delimiter(records: list[tuple[int, str]], name: str) -> str:
    """The delimiter with the same count on every line; raise when lines disagree."""
    bare = [_QUOTED.sub("Q", text) for _, text in records]
    counts = {d: np.array([x.count(d) for x in bare]) for d in ("\t", ",", ";", "|")}
    counts[" "] = np.array([len(_SPACES.findall(x.strip())) for x in bare])  # runs align columns
    if all("::" in x for x in bare):
        return "::"
    steady = [d for d, c in counts.items() if c.min() > 0 and (c == c[0]).all()]
    if "\t" in steady:
        return "\t"
    for group in ((",", ";", "|"), (" ",)):
        best = [d for d in group if d in steady]
        if best:
            return max(best, key=lambda d: counts[d][0])
    if not any(counts[d].any() for d in ("\t", ",", ";", "|")):
        other = _other_delimiter(bare)
        if other is not None:
            return other
    _raise_if_mixed(records, counts, name)
    # Ragged rows: the most common non-zero count wins and the reader names the odd lines.
    scores = {d: Counter(c[c > 0].tolist()).most_common(1) for d, c in counts.items()}
    ranked = [(s[0][1], d) for d, s in scores.items() if s and d != " "]
    return max(ranked, key=lambda t: t[0])[1] if ranked else ","


def _other_delimiter(bare: list[str]) -> str | None:
    """A less common delimiter ('^', ':', '~'...) found the same number of times on every
    line, tried only when no common one occurs at all."""
    for d in OTHER_DELIMITERS:
        counts = [x.count(d) for x in bare]
        if counts[0] > 0 and counts.count(counts[0]) == len(counts):
            return d
    return None


def _raise_if_mixed(
    records: list[tuple[int, str]], counts: dict[str, np.ndarray], name: str
) -> None:
    for a, b in combinations(("\t", ",", ";", "|"), 2):
        only_a = np.flatnonzero((counts[a] > 0) & (counts[b] == 0))
        only_b = np.flatnonzero((counts[b] > 0) & (counts[a] == 0))
        if len(only_a) and len(only_b) and len(only_a) + len(only_b) >= 0.8 * len(records):
            lines_a = ", ".join(str(records[i][0]) for i in only_a[:3])
            lines_b = ", ".join(str(records[i][0]) for i in only_b[:3])
            label_a, label_b = (delimiter_label(d) for d in (a, b))
            raise InputError(
                f"{name} mixes delimiters: lines {lines_a} use {label_a} but lines {lines_b} "
                f"use {label_b}. Save the file again with one delimiter on every line."
            )


def split(text: str, delimiter: str) -> list[str]:
    """Fields of one record, honouring quotes for one-character delimiters."""
    if delimiter == " ":
        return text.split()
    if len(delimiter) != 1:
        return [x.strip() for x in text.split(delimiter)]
    try:
        fields = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except csv.Error:  # a stray quote: fall back to a plain split
        fields = text.split(delimiter)
    return [x.strip() for x in fields]


def _kind(value: str) -> str:
    return next((k for k, rx in _TYPED.items() if rx.fullmatch(value)), "text")


def has_header(rows: list[list[str]]) -> bool:
    """A first row whose cells differ in kind from the columns below it is a header.

    Without typed columns (all text), a first row repeating a value found below it is data:
    column names are not repeated as values.
    """
    first, rest = rows[0], rows[1:]
    if not rest:
        return not all(_kind(v) == "number" for v in first)
    typed = False
    for j, head in enumerate(first):
        kinds = Counter(_kind(r[j]) for r in rest if j < len(r) and r[j])
        top = kinds.most_common(1)
        if top and top[0][0] != "text" and top[0][1] >= 0.9 * sum(kinds.values()):
            typed = True
            if _kind(head) != top[0][0]:
                return True
    if typed:
        return False
    return not any(j < len(r) and r[j] == v for j, v in enumerate(first) for r in rest)


def hint_delimiter(lines: list[str], chosen: str, expected: int) -> str | None:
    """Another delimiter that splits every given line into ``expected`` fields, if any."""
    for d in ("::", "\t", ",", ";", "|", " "):
        if d != chosen and lines and all(len(split(x, d)) == expected for x in lines):
            return d
    return None
