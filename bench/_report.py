"""Shared helpers: timing, peak memory, and the section writer for BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "BENCHMARKS.md"
DATA = ROOT / "bench" / "data"


@contextmanager
def timer(results: dict[str, float], key: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    results[key] = round(time.perf_counter() - start, 2)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def write_section(
    name: str, title: str, command: str, table: pd.DataFrame, notes: str = ""
) -> None:
    """Replace (or append) the section ``name`` of BENCHMARKS.md with a fresh table."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    body = "\n".join(
        [
            start,
            f"## {title}",
            "",
            f"Command: `{command}`  ",
            f"Machine: {machine()}; measured {time.strftime('%Y-%m-%d')}",
            "",
            markdown(table),
            "",
            notes,
            end,
        ]
    )
    text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n\nWritten by `bench/`.\n"
    if start in text:
        before, rest = text.split(start, 1)
        text = before + body + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + body + "\n"
    REPORT.write_text(text)
    print(markdown(table))


def markdown(table: pd.DataFrame) -> str:
    """A GitHub table without extra dependencies."""
    cols = [str(c) for c in table.columns]
    rows = [[_cell(v) for v in row] for row in table.itertuples(index=False)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return ""
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def merged(
    section: str, rows: list[dict[str, Any]], keys: list[str], drop: str | None = None
) -> pd.DataFrame:
    """This run's rows in place of the rows with the same ``keys`` in ``section``'s table in
    BENCHMARKS.md; the table's other rows stay (a subset re-measured keeps the rest), new ones
    go last, in the table's columns and then any new ones of this run (empty in old rows).
    ``drop``: a prefix of ``keys[0]`` whose old rows all go (a new auto search replaces every
    earlier auto row)."""
    fresh = pd.DataFrame(rows)
    text = REPORT.read_text() if REPORT.exists() else ""
    start = f"<!-- bench:{section} -->"
    if start not in text:
        return fresh
    body = text.split(start, 1)[1].split(f"<!-- /bench:{section} -->", 1)[0]
    lines = [ln for ln in body.splitlines() if ln.startswith("|")]
    if len(lines) < 3:
        return fresh
    cells = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
    old = pd.DataFrame(cells[2:], columns=cells[0])
    if drop is not None:
        old = old[~old[keys[0]].str.startswith(drop)]
    by_key = {tuple(str(r[k]) for k in keys): r for r in rows}
    kept = [by_key.pop(tuple(str(r[k]) for k in keys), r) for r in old.to_dict("records")]
    columns = [*old.columns, *(c for c in fresh.columns if c not in old.columns)]
    return pd.DataFrame([*kept, *by_key.values()], columns=columns)
