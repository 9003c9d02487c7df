"""Run every benchmark with its default sizes (make bench)."""

from __future__ import annotations

import subprocess
import sys

SCRIPTS = [
    "bench.bench_import",
    "bench.bench_quality",
    "bench.bench_models",
    "bench.bench_runs",
    "bench.bench_content",
    "bench.bench_app",
    "bench.bench_explain",
    "bench.bench_reasons",
    "bench.bench_pages",
    "bench.bench_serve",
]

if __name__ == "__main__":
    for script in SCRIPTS:
        subprocess.run([sys.executable, "-m", script], check=True)
