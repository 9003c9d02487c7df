"""Compare's leaderboard: one row per run, the primary metric first, best marked, compact tests.

With nine runs the old page showed 33 metric columns (NDCG@10 the 14th, off screen), a
heatmap of p-values and one sentence per pair. An analyst reads a comparison as: which run
is best on the metric I care about, by how much, and which runs are indistinguishable from
it. This module computes exactly that; the other metrics are grouped by family and K for
the page's expanders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from recsys_core.evaluation.significance import holm, paired_tests
from recsys_core.jobs.compare import BEYOND, metric_order, metrics_with_ci
from recsys_core.jobs.labels import format_p

#: Families where a smaller value is better (errors; concentration on popular items).
LOWER_IS_BETTER = ("RMSE", "MAE", "Gini", "ARP")
RATING = ("RMSE", "MAE")
BEST = "★"
ALPHA = 0.05


def family(label: str) -> str:
    """``accuracy``, ``beyond accuracy`` or ``rating`` for a metric label like ``NDCG@10``."""
    name = label.partition("@")[0]
    if name in RATING:
        return "rating"
    return "beyond accuracy" if name in BEYOND else "accuracy"


def higher_is_better(label: str) -> bool:
    return label.partition("@")[0] not in LOWER_IS_BETTER


def metric_groups(labels: Sequence[str]) -> dict[str, list[str]]:
    """Metric labels grouped as ``accuracy @10``, ``beyond accuracy @10``, ``rating``..."""
    groups: dict[str, list[str]] = {}
    for label in metric_order(labels):
        k = label.partition("@")[2]
        name = family(label) + (f" @{k}" if k else "")
        groups.setdefault(name, []).append(label)
    order = ("accuracy", "beyond accuracy", "rating")
    return dict(sorted(groups.items(), key=lambda kv: order.index(kv[0].split(" @")[0])))


def ranked_labels(long: pd.DataFrame, primary: str) -> list[str]:
    """Run labels best first on ``primary`` (runs without it last, in their order)."""
    values = long[long["metric"] == primary].set_index("label")["value"].astype(np.float64)
    labels = list(dict.fromkeys(long["label"]))
    sign = -1.0 if higher_is_better(primary) else 1.0
    key = {lab: sign * values.get(lab, np.nan) for lab in labels}
    return sorted(labels, key=lambda lab: (np.isnan(key[lab]), key[lab]))


def leaderboard(
    long: pd.DataFrame, primary: str, durations: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """One text row per run, best first: marker, run, ``primary`` with its 95% interval, then
    the other accuracy metrics at the same K (values only) and the run's duration.

    Args:
        long: ``compare_metrics`` rows (run, label, metric, value, ci_low, ci_high).
        primary: the metric that ranks the runs; the best run gets the ``★`` marker.
        durations: label -> formatted wall-clock time (a ``duration`` column when given).
    """
    if long.empty:
        return pd.DataFrame()
    order = ranked_labels(long, primary)
    k = primary.partition("@")[2]
    same_k = [
        m
        for m in metric_order(list(long["metric"]))
        if m != primary and family(m) == family(primary) and m.partition("@")[2] == k
    ]
    ci = metrics_with_ci(long[long["metric"] == primary]).reindex(order)
    values = long.pivot_table(index="label", columns="metric", values="value").reindex(order)
    best_value = values[primary].iloc[0] if primary in values else np.nan
    table = pd.DataFrame({"run": order})
    table.insert(0, "", [BEST if _ties(v, best_value) else "" for v in _column(values, primary)])
    table[primary] = ci[primary].fillna("").to_numpy() if primary in ci else ""
    for metric in same_k:
        table[metric] = [f"{v:.3f}" if not np.isnan(v) else "" for v in _column(values, metric)]
    if durations is not None:
        table["duration"] = [durations.get(lab, "–") for lab in order]
    return table


def _column(values: pd.DataFrame, metric: str) -> np.ndarray:
    if metric not in values:
        return np.full(len(values), np.nan)
    return values[metric].to_numpy(np.float64)


def _ties(value: float, best: float) -> bool:
    return bool(not np.isnan(value) and not np.isnan(best) and abs(value - best) <= 1e-12)


def versus_reference(
    values: Mapping[str, pd.Series], reference: str, primary: str, alpha: float = ALPHA
) -> pd.DataFrame:
    """Each run against ``reference`` on its per-user values: the compact significance matrix.

    Only the runs' pairs with the reference are tested (n - 1 tests, Holm-corrected over
    them), not every pair: the question on the page is "which runs are as good as this one".

    Returns:
        One row per other run, in the order of ``values``: run, users (shared), difference
        (run - reference mean), effect (rank-biserial, -1 to 1, positive when the run wins
        more users), p (Holm-corrected Wilcoxon, formatted), verdict, and p_value (float).
    """
    others = [name for name in values if name != reference]
    if reference not in values or not others:
        return pd.DataFrame()
    pairs = pd.concat(
        [paired_tests({name: values[name], reference: values[reference]}) for name in others],
        ignore_index=True,
    )
    p = holm(pairs["wilcoxon_p"].to_numpy(np.float64))
    better = 1 if higher_is_better(primary) else -1
    verdict = [
        _verdict(pv, better * diff, alpha) for pv, diff in zip(p, pairs["mean_diff"], strict=True)
    ]
    return pd.DataFrame(
        {
            "run": others,
            "users": pairs["n_users"].to_numpy(np.int64),
            "difference": pairs["mean_diff"].round(4).to_numpy(),
            "effect": pairs["rank_biserial"].round(2).to_numpy(),
            "p": [format_p(v) for v in p],
            "verdict": verdict,
            "p_value": p,
        }
    )


def _verdict(p: float, gain: float, alpha: float) -> str:
    if np.isnan(p):
        return "too few users"
    if p >= alpha:
        return "indistinguishable"
    return "better" if gain > 0 else "worse"


def summary_line(tests: pd.DataFrame, reference: str, primary: str, alpha: float = ALPHA) -> str:
    """One sentence instead of one per pair: who is indistinguishable, who is worse or better."""
    if tests.empty:
        return ""
    groups = {v: tests.loc[tests["verdict"] == v, "run"].tolist() for v in set(tests["verdict"])}
    parts = []
    if same := groups.get("indistinguishable"):
        parts.append(f"indistinguishable from it: {', '.join(same)}")
    if worse := groups.get("worse"):
        named = ", ".join(worse) if len(worse) <= 3 else f"{len(worse)} runs"
        parts.append(f"significantly worse: {named}")
    if better := groups.get("better"):
        parts.append(f"significantly better: {', '.join(better)}")
    if few := groups.get("too few users"):
        parts.append(f"too few shared users to test: {', '.join(few)}")
    return (
        f"Against **{reference}** on {primary} (paired Wilcoxon, Holm-corrected, "
        f"α = {alpha:g}): " + "; ".join(parts) + "."
    )


def pairwise_table(values: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Every pair's test with p-values formatted (the page's 'all pairs' view)."""
    tests = paired_tests(dict(values))
    out = tests[["model_a", "model_b", "n_users", "mean_diff", "rank_biserial"]].copy()
    out["p (Holm)"] = [format_p(v) for v in tests["wilcoxon_p_holm"]]
    out["p"] = [format_p(v) for v in tests["wilcoxon_p"]]
    return out.round({"mean_diff": 4, "rank_biserial": 2})
