"""Shared helpers: timing, peak memory, and the section writer for BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
