"""What a whole run costs beside its model's own work.

Usage: python -m bench.bench_runs [--data movielens 1m] [--models ease als ...]

For each (data, model), in a fresh subprocess with its own SQLite store: the model's work,
``load + fit + evaluate`` (load the stored version, split, fit, full-ranking evaluation at
K = 5, 10, 20), then a whole run of the same spec (``jobs.runs.train``: submitted to done, top-50
stored per test user, reasons for the top 3, bootstrap intervals, segment views, model file,
every result written in one transaction). Target: whole <= 1.5 x (load + fit + evaluate) + 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pandas as pd

from bench._report import peak_rss_mb, write_section
from bench.bench_models import PARAMS, SHAPES

MODELS = ["most_popular", "item_knn", "user_knn", "ease", "als", "bpr"]
DATA = ["movielens", "1m"]


def _import(store: object, data: str) -> None:
    from recsys_core.data.samples import load_movielens_small, synthetic
    from recsys_core.jobs.datasets import import_dataset

    if data == "movielens":
        import_dataset(store, data, load_movielens_small())  # type: ignore[arg-type]
    else:
        users, items, n = SHAPES[data]
        import_dataset(store, data, synthetic(users, items, n, seed=1))  # type: ignore[arg-type]


def one(data: str, model_name: str) -> dict:
    """Both measurements for one model, in this (fresh) process."""
    from db import Store
    from recsys_core.evaluation import evaluate
    from recsys_core.jobs import runs as jobs
    from recsys_core.jobs.datasets import load_interactions

    store = Store()  # in RECSYS_HOME, a temporary folder of the child's own
    _import(store, data)
    spec = jobs.parse_spec(
        {"dataset": data, "model": model_name, "params": PARAMS.get(model_name, {}), "seed": 42}
    )
    c0, t0 = time.process_time(), time.perf_counter()
    inter = load_interactions(store, 1, None)
    parts = jobs.split_for(inter, spec.split, spec.seed)
    t1 = time.perf_counter()
    model = spec.build_model().fit(parts.train)
    t2 = time.perf_counter()
    evaluate({model_name: model}, parts, spec.ks)
    c3, t3 = time.process_time(), time.perf_counter()
    base = t3 - t0
    run = jobs.train(store, spec)
    whole = time.perf_counter() - t3
    cpu_whole = time.process_time() - c3
    if run.status != "done":
        raise SystemExit(f"run failed: {run.error}")
    target = 1.5 * base + 1.0
    return {
        "data": data,
        "model": model_name,
        "load_s": round(t1 - t0, 2),
        "fit_s": round(t2 - t1, 2),
        "evaluate_s": round(t3 - t2, 2),
        "load+fit+eval_s": round(base, 2),
        "whole_run_s": round(whole, 2),
        "ratio": round(whole / base, 2),
        "target_s": round(target, 2),
        "within": whole <= target,
        "cpu_base_s": round(c3 - c0, 2),
        "cpu_whole_s": round(cpu_whole, 2),
        "cpu_within": cpu_whole <= 1.5 * (c3 - c0) + 1.0,
        **{f"run {k}": v for k, v in run.timings.items()},
        "peak_mb": peak_rss_mb(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", nargs="+", default=DATA, choices=DATA)
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--child", nargs=2, metavar=("DATA", "MODEL"))
    args = ap.parse_args()
    if args.child:
        home = os.environ["RECSYS_HOME"] = tempfile.mkdtemp(prefix="bench_runs_")
        try:
            print(json.dumps(one(*args.child)))
        finally:  # each child's store and model files are ~80 MB at 1m: leave none behind
            shutil.rmtree(home, ignore_errors=True)
        return
    load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    rows = []
    for data in args.data:
        for model in args.models:
            out = subprocess.run(
                [sys.executable, "-m", "bench.bench_runs", "--child", data, model],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if out.returncode != 0:
                rows.append({"data": data, "model": model, "note": out.stderr[-200:]})
            else:
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    cmd = "python -m bench.bench_runs --data " + " ".join(args.data)
    if args.models != MODELS:
        cmd += " --models " + " ".join(args.models)
    write_section(
        "runs-" + "-".join(args.data),
        f"Whole run vs the model's own work ({', '.join(args.data)})",
        cmd,
        pd.DataFrame(rows),
        "`load+fit+eval_s`: load the stored version, split (random 80/20, seed 42), fit, and "
        "full-ranking evaluation at K = 5, 10, 20. `whole_run_s`: `recsys train` without the "
        "CLI, from spec submitted to run done: the same work plus top-50 stored per test "
        "user, reasons for the top 3 ranks, bootstrap intervals, segment views, model file and "
        "one transaction of results. `run *` columns are the run's own phase timings "
        "(`evaluate_s` includes computing every list once; `save_s` writes the results, before "
        "the commit). Target: whole <= 1.5 x "
        "(load + fit + evaluate) + 1 s. 1m: 6k users x 4k items x 1M synthetic interactions "
        "(as bench_models); ALS 64 factors, 15 epochs. On a shared machine the two fits of one "
        "model can differ: compare `fit_s` with `run fit_s`. `cpu_*`: the same two spans in "
        "CPU seconds of the process (all its threads), and the target checked on them: on a "
        "busy machine wall time also counts the waits for a core, CPU time does not (threaded "
        "parts, BLAS in EASE and ALS, count once per thread). Load average when the bench "
        f"started: {load:.1f} (1 min), {os.getloadavg()[0]:.1f} when it ended.",
    )


if __name__ == "__main__":
    main()
