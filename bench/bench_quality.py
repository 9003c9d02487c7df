"""Quality on MovieLens latest-small through the real run pipeline (store, split, fit, evaluate).

Protocol: per-user random 80/20 holdout, seed 42, every held-out rating relevant, K = 10,
full ranking over all items the user did not rate in training.
Usage: python -m bench.bench_quality [--models ...]
"""

from __future__ import annotations

import argparse
import tempfile

import pandas as pd

from bench._report import write_section

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
    from recsys_core.data.samples import load_movielens_small
    from recsys_core.jobs import runs
    from recsys_core.jobs.datasets import import_dataset

    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/quality.db")
        import_dataset(store, "ml", load_movielens_small())
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
    write_section(
        "quality-movielens",
        "Quality on MovieLens latest-small (every model family)",
        "python -m bench.bench_quality",
        pd.DataFrame(rows),
        "Protocol: per-user random 80/20 holdout (seed 42), all held-out ratings relevant, "
        "K = 10, full ranking; default parameters of each model. Users with no relevant test "
        "item are excluded; a user with no recommendations scores 0.",
    )


if __name__ == "__main__":
    main()
