"""Model speed: fit and full-ranking evaluation on synthetic data of MovieLens-1M / -20M shape.

Usage: python -m bench.bench_models [--shape 1m 20m] [--models ease item_knn als ...]
Each (shape, model) runs in a fresh subprocess so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import pandas as pd

from bench._report import peak_rss_mb, write_section

SHAPES = {"1m": (6_000, 4_000, 1_000_000), "20m": (138_000, 27_000, 20_000_000)}
DEFAULT_MODELS = {
    "1m": ["most_popular", "item_knn", "user_knn", "ease", "als", "bpr"],
    "20m": ["most_popular", "als", "item_knn", "ease"],
}
PARAMS = {"als": {"embedding_size": 64, "epochs": 15}}


def one_run(shape: str, model_name: str) -> dict:
    from recsys_core.data.synth import generate, to_interactions
    from recsys_core.errors import InputError
    from recsys_core.evaluation import evaluate
    from recsys_core.models.registry import make_model
    from recsys_core.splitting import RandomHoldout, split

    users, items, n = SHAPES[shape]
    t0 = time.perf_counter()
    inter = to_interactions(generate(users, items, n, seed=1))
    parts = split(inter, RandomHoldout(test_fraction=0.2), 42)
    prep = time.perf_counter() - t0
    row: dict = {"shape": shape, "model": model_name, "prepare_s": round(prep, 1)}
    model = make_model(model_name, PARAMS.get(model_name, {}))
    try:
        t1 = time.perf_counter()
        model.fit(parts.train)
        row["fit_s"] = round(time.perf_counter() - t1, 2)
    except InputError as exc:  # e.g. EASE refusing a catalogue that does not fit in memory
        return {**row, "fit_s": None, "evaluate_s": None, "NDCG@10": None,
                "peak_mb": peak_rss_mb(), "note": str(exc)[:120]}  # fmt: skip
    t2 = time.perf_counter()
    result = evaluate({model_name: model}, parts, (10,))
    row["evaluate_s"] = round(time.perf_counter() - t2, 2)
    row["users_evaluated"] = len(result.per_user)
    row["NDCG@10"] = round(float(result.summary.loc["NDCG@10", "value"]), 4)
    row["peak_mb"] = peak_rss_mb()
    row["note"] = ""
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", nargs="+", default=["1m", "20m"], choices=list(SHAPES))
    ap.add_argument("--models", nargs="+")
    ap.add_argument("--child", nargs=2, metavar=("SHAPE", "MODEL"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one_run(*args.child)))
        return
    rows = []
    for shape in args.shape:
        for model in args.models or DEFAULT_MODELS[shape]:
            out = subprocess.run(
                [sys.executable, "-m", "bench.bench_models", "--child", shape, model],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if out.returncode != 0:
                rows.append({"shape": shape, "model": model, "note": out.stderr[-200:]})
            else:
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    cmd = "python -m bench.bench_models --shape " + " ".join(args.shape)
    if args.models:
        cmd += " --models " + " ".join(args.models)
    write_section(
        "models-" + "-".join(args.shape),
        f"Model fit and full-ranking evaluation ({', '.join(args.shape)} shape)",
        cmd,
        pd.DataFrame(rows),
        "Synthetic data from `recsys_core.data.synth.generate` (1m: 6k users x 4k items x 1M; "
        "20m: 138k x 27k x 20M), per-user random 80/20 split, seed 42. `evaluate_s` ranks "
        "every item not seen in training for every test user (full ranking), K = 10. "
        "Targets (1m): EASE and ItemKNN fit within 10 s, ALS (64 factors, 15 iterations) "
        "within 30 s, evaluation within 10 s per model; (20m): ALS fit and evaluation within "
        "3 min each, peak memory under 10 GB, EASE refusing before it starts.",
    )


if __name__ == "__main__":
    main()
