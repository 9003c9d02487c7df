"""Explanation and ranking-stage speed: feature building, SHAP, permutation importance.

Usage: python -m bench.bench_explain
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from bench._report import write_section


def main() -> None:
    from recsys_core.data.synth import generate, to_interactions
    from recsys_core.explain import permutation_importance
    from recsys_core.explain.shap_ import shap_importance
    from recsys_core.features.engineered import build_features
    from recsys_core.models.registry import make_model
    from recsys_core.splitting import RandomHoldout, split

    rows = []
    inter = to_interactions(generate(6_000, 4_000, 1_000_000, seed=1))
    rng = np.random.default_rng(0)
    n = 1_000_000
    users = rng.integers(0, inter.n_users, n)
    items = rng.integers(0, inter.n_items, n)
    scores = {"ease": rng.random(n).astype(np.float32)}
    ranks = {"ease": rng.integers(1, 100, n)}
    t0 = time.perf_counter()
    feats = build_features(inter, users, items, scores, ranks)
    rows.append({"step": "build_features, 1M candidate rows", "seconds": time.perf_counter() - t0,
                 "target_s": 30})  # fmt: skip

    small = to_interactions(generate(1_500, 800, 60_000, seed=2))
    parts = split(small, RandomHoldout(test_fraction=0.2), 42)
    ranker = make_model("ranker", {"generators": ["item_knn", "most_popular"]}).fit(parts.train)
    _, cand_feats = ranker.candidate_features(np.arange(min(small.n_users, 400)))  # type: ignore[attr-defined]
    sample = cand_feats.sample(min(10_000, len(cand_feats)), random_state=0)
    t1 = time.perf_counter()
    shap_importance(ranker, sample, max_rows=10_000)
    rows.append({"step": f"SHAP on {len(sample):,} candidate rows", "seconds":
                 time.perf_counter() - t1, "target_s": 30})  # fmt: skip

    content = make_model("content", {}).fit(parts.train)
    t2 = time.perf_counter()
    permutation_importance(content, parts, n_repeats=5)
    n_users = min(2_000, len(np.unique(parts.test.users)))  # the function caps at 2,000
    rows.append({"step": f"permutation importance, {n_users:,} users, 5 repeats", "seconds":
                 time.perf_counter() - t2, "target_s": 60})  # fmt: skip
    del feats
    table = pd.DataFrame(rows).round({"seconds": 2})
    write_section(
        "explain-speed",
        "Ranking stage and explanations: speed",
        "python -m bench.bench_explain",
        table,
        "build_features on random (user, item) pairs of synthetic 6k x 4k x 1M data with one "
        "generator's score and rank; SHAP (TreeExplainer) on a TwoStageRanker over item_knn + "
        "most_popular candidates; permutation importance of the content model by modality.",
    )


if __name__ == "__main__":
    main()
