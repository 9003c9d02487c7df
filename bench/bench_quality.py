"""Quality on MovieLens latest-small through the real run pipeline (store, split, fit, evaluate).

Protocol: per-user random 80/20 holdout, seed 42, every held-out rating relevant, K = 10,
full ranking over all items the user did not rate in training.
Usage: python -m bench.bench_quality [--data ml-latest-small|ml-100k-like] [--models ...]
[--auto-minutes M]

``--models`` with a subset re-measures those rows and keeps the table's other rows as they
were measured (``--models`` alone: none, only the auto rows); ``--auto-minutes`` adds the rows
of "Find the best model" (``recsys tune --auto --budget M``: every cheap family searched on
validation carved from train, the best three, their blend and a ranker over the best six run
on test, the one to use picked on validation, where the blend's weights and the ranker's second
stage are cross-fitted over the validation users); 0 leaves them out. ``--data ml-100k-like``
measures the same on the synthetic set the issue's second goal is stated on (943 x 1,682 x 100k,
seed 1, as bench_peers makes it), in a table of its own.
"""

from __future__ import annotations

import argparse
import tempfile
from typing import Any

import pandas as pd

from bench._report import merged as merged_rows
from bench._report import write_section

SECTION = "quality-movielens"
#: --data -> (BENCHMARKS.md section, title); the synthetic set has its own table.
DATASETS = {
    "ml-latest-small": (SECTION, "Quality on MovieLens latest-small (every model family)"),
    "ml-100k-like": ("quality-ml100k-like", "Quality on ml-100k-like synthetic data"),
}

#: label -> (registry name, params); deep models are skipped when not registered.
MODELS: dict[str, tuple[str, dict]] = {
    "most_popular": ("most_popular", {}),
    "random": ("random", {}),
    "item_knn": ("item_knn", {}),
    "user_knn": ("user_knn", {}),
    "rp3beta": ("rp3beta", {}),
    "slim": ("slim", {}),
    "ease": ("ease", {}),
    "als": ("als", {}),
    "ials": ("ials", {}),
    "bpr": ("bpr", {}),
    "bias": ("bias", {}),
    "content": ("content", {}),
    "hybrid (default: item_knn 0.8 + most_popular 0.2)": ("hybrid", {}),
    "hybrid ease+content": ("hybrid", {"components": ["ease:0.9", "content:0.1"]}),
    "neumf": ("neumf", {}),
    "two_tower": ("two_tower", {}),
    "multvae": ("multvae", {}),
    "fusion": ("fusion", {}),
    "ranker over ease+als+content": ("ranker", {"generators": ["ease", "als", "content"]}),
    "ranker over ease+slim+als+item_knn+user_knn+rp3beta+content": (
        "ranker",
        {"generators": ["ease", "slim", "als", "item_knn", "user_knn", "rp3beta", "content"]},
    ),
}
COLUMNS = ["NDCG@10", "Recall@10", "Precision@10", "MAP@10", "MRR@10", "HitRate@10",
           "Coverage@10", "Novelty@10", "ARP@10"]  # fmt: skip


def main() -> None:
    from db import Store
    from recsys_core.data.samples import load_movielens_small, synthetic
    from recsys_core.jobs import runs
    from recsys_core.jobs.datasets import import_dataset

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", choices=list(DATASETS), default="ml-latest-small")
    ap.add_argument("--models", nargs="*", default=list(MODELS), help="none: only the auto rows")
    ap.add_argument("--auto-minutes", type=float, default=10.0)
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/quality.db")
        small = args.data == "ml-latest-small"
        data = load_movielens_small() if small else synthetic(943, 1682, 100_000, seed=1)
        import_dataset(store, "ml", data)
        from recsys_core.models.registry import REGISTRY

        for name in args.models:
            model, params = MODELS[name]
            if model not in REGISTRY:
                continue
            spec = runs.parse_spec(
                {"dataset": "ml", "model": model, "params": params, "seed": 42, "ks": [10],
                 "split": {"kind": "random", "test_fraction": 0.2}, "label": name}
            )  # fmt: skip
            run = runs.train(store, spec)
            metrics = run.summary.get("metrics", {})
            row = {"model": name, **{c: round(metrics[c], 4) for c in COLUMNS if c in metrics}}
            row["fit_s"] = round(run.timings.get("fit_s", float("nan")), 2)
            row["status"] = run.status if run.status == "done" else f"{run.status}: {run.error}"
            rows.append(row)
            print(row, flush=True)
        if args.auto_minutes > 0:
            rows += auto_rows(store, args.auto_minutes)
    section, title = DATASETS[args.data]
    write_section(
        section,
        title,
        "python -m bench.bench_quality" + ("" if small else " --data ml-100k-like"),
        merged(rows, section),
        "Protocol: per-user random 80/20 holdout (seed 42), all held-out ratings relevant, "
        "K = 10, full ranking; default parameters of each model. Users with no relevant test "
        "item are excluded; a user with no recommendations scores 0. Rows 'auto M min': "
        "`recsys tune --auto --budget M` (the Tune page's Find the best model) on the same "
        "split: the cheap families searched on validation carved from train (never test; a tuned "
        "config kept only when it beats the defaults beyond noise), the top three, their blend "
        "and a ranker over the best six + content run on test; the status gives each one's "
        "validation NDCG@10 (blend weights and the ranker's second stage cross-fitted over five "
        "folds of validation users, with the generators the families were judged with) and "
        "marks the one chosen on validation (the auto result); "
        "fit_s is the run's fit, and the first auto row's status gives the whole search's wall "
        "time against its budget. "
        "Rows not named by --models keep their earlier measurement. Fit times depend on the "
        "machine's load (2 cores shared).",
    )


def auto_rows(store: Any, minutes: float) -> list[dict[str, Any]]:
    """The final runs of an automatic search as rows, in the order it ran them."""
    from db.runs import RunRepository
    from recsys_core.tuning_auto import find_best, parse_auto_spec

    spec = parse_auto_spec({"dataset": "ml", "budget_minutes": minutes, "seed": 42})
    result = find_best(store, spec, lambda d, t, m="": print(f"[{d}/{t}] {m}", flush=True))
    print(result.families.to_string(), flush=True)
    rows = []
    for final in result.runs.itertuples():
        picked = "; chosen on validation" if final.chosen else ""
        with store.session() as s:
            run = RunRepository(s).get(int(final.run_id))
        assert run is not None
        metrics = run.summary.get("metrics", {})
        row = {"model": f"auto {minutes:g} min: {final.label}"}
        row.update({c: round(metrics[c], 4) for c in COLUMNS if c in metrics})
        row["fit_s"] = round(run.timings.get("fit_s", float("nan")), 2)
        row["status"] = run.status if run.status == "done" else f"{run.status}: {run.error}"
        row["status"] += f" (validation {final.validation:.4f}{picked})"
        rows.append(row)
        print(row, flush=True)
    if rows:
        over = f", {result.overrun_s / 60:.1f} over" if result.overrun_s else ""
        rows[0]["status"] += f"; search + runs {result.seconds / 60:.1f} min{over}"
    return rows


def merged(rows: list[dict[str, Any]], section: str = SECTION) -> pd.DataFrame:
    """:func:`bench._report.merged` by model; a new auto search replaces every old auto row."""
    auto = any(str(r["model"]).startswith("auto ") for r in rows)
    return merged_rows(section, rows, ["model"], drop="auto " if auto else None)


if __name__ == "__main__":
    main()
