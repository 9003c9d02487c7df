"""Import speed: CSV -> read -> validate -> store, then load back and profile.

Usage: python -m bench.bench_import [--sizes 1000000 10000000] [--backends sqlite postgresql]
Each (size, backend) runs in a fresh subprocess so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from bench._report import DATA, peak_rss_mb, timer, write_section

PG_URL = os.environ.get(
    "RECSYS_BENCH_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)


def ensure_csv(n: int) -> Path:
    """Synthetic interactions (6k users x 4k items shape, scaled) written once and reused."""
    from recsys_core.data.synth import generate, write_csv

    folder = DATA / f"synth_{n}"
    if not (folder / "interactions.csv").exists():
        users, items = max(6_000, n // 160), max(4_000, n // 250)
        write_csv(generate(users, items, n, seed=1), folder)
    return folder / "interactions.csv"


def one_run(n: int, backend: str) -> dict:
    from db import Store
    from recsys_core.data.io import read_table
    from recsys_core.data.mapping import infer_mapping
    from recsys_core.data.profile import profile
    from recsys_core.data.validate import validate
    from recsys_core.jobs import datasets as jobs

    path = ensure_csv(n)
    t: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db" if backend == "sqlite" else PG_URL
        store = Store(url)
        name = f"bench_{n}_{os.getpid()}"
        with timer(t, "read_s"):
            raw = read_table(path, max_bytes=1 << 40)
        with timer(t, "validate_s"):
            data = validate(raw, infer_mapping(raw.frame))
        del raw
        with timer(t, "write_s"):
            result = jobs.import_dataset(store, name, data)
        del data
        with timer(t, "load_s"):
            inter = jobs.load_interactions(store, result.dataset.id)
        with timer(t, "profile_s"):
            profile(inter)
        from db.repositories import DatasetRepository

        with store.session() as s:
            DatasetRepository(s).delete(result.dataset.id)
        store.dispose()
    t["import_total_s"] = round(t["read_s"] + t["validate_s"] + t["write_s"], 2)
    return {"interactions": n, "backend": backend, **t, "peak_mb": peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--child", nargs=2, metavar=("N", "BACKEND"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one_run(int(args.child[0]), args.child[1])))
        return
    rows = []
    for n in args.sizes:
        ensure_csv(n)
        for backend in args.backends:
            out = subprocess.run(
                [sys.executable, "-m", "bench.bench_import", "--child", str(n), backend],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    write_section(
        "import",
        "Import, load and profile (issue: foundation)",
        "python -m bench.bench_import --sizes " + " ".join(map(str, args.sizes)),
        pd.DataFrame(rows),
        "Targets: import of 1M within 15 s on each backend; 10M within 3 min under 4 GB peak; "
        "load of a stored 1M dataset within 3 s; its profile within 3 s. "
        "`import_total_s` = read + validate + write (one transaction).",
    )


if __name__ == "__main__":
    main()
