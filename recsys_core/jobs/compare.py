"""Compare's read side: metric tables with intervals, significance words, protocol notes,
and analysts' own recommendation tables scored like a run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from db.runs import Run
from recsys_core.columns import Columns
from recsys_core.evaluation import evaluate_table
from recsys_core.evaluation.significance import bootstrap_ci
from recsys_core.jobs.context import run_spec, split_key
from recsys_core.jobs.spec import RunSpec
from recsys_core.jobs.summary import run_summary
from recsys_core.splitting import Split

#: Families of beyond-accuracy metrics (the rest measure accuracy).
BEYOND = ("Coverage", "Novelty", "ILD", "Gini", "ARP")
#: Order of metric families in tables: accuracy first, as analysts read them.
FAMILY_ORDER = ("Precision", "Recall", "NDCG", "MAP", "MRR", "HitRate", *BEYOND)
METRIC_COLUMNS = ["run", "label", "metric", "value", "ci_low", "ci_high"]
SAMPLED_BIAS = (
    "Sampled-protocol metrics are biased: ranking each test item against ~100 random items "
    "instead of the whole catalogue inflates scores and can change which model looks best "
    "(Krichene & Rendle, *On Sampled Metrics for Item Recommendation*, KDD 2020)."
)


def metric_order(labels: Sequence[str]) -> list[str]:
    """Metric labels sorted by cut-off, then family (accuracy first), then name."""

    def key(label: str) -> tuple[int, int, str]:
        family, _, k = label.partition("@")
        rank = FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)
        return (int(k) if k.isdigit() else 0, rank, label)

    return sorted(dict.fromkeys(labels), key=key)


def is_beyond(label: str) -> bool:
    return label.partition("@")[0] in BEYOND


def metrics_with_ci(long: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Wide text table, one row per run label: "0.312 [0.298, 0.327]" (value, 95% CI)."""
    if long.empty:
        return pd.DataFrame()
    cols = (long[c].to_numpy(np.float64) for c in ("value", "ci_low", "ci_high"))
    text = [_with_ci(v, lo, hi, digits) for v, lo, hi in zip(*cols, strict=True)]
    wide = long.assign(text=text).pivot(index="label", columns="metric", values="text")
    labels = list(dict.fromkeys(long["label"]))
    return wide.reindex(index=labels, columns=metric_order(list(wide.columns))).fillna("")


def _with_ci(value: float, low: float, high: float, digits: int) -> str:
    if np.isnan(value):
        return ""
    if np.isnan(low) or np.isnan(high):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def pvalue_matrix(tests: pd.DataFrame, column: str = "wilcoxon_p_holm") -> pd.DataFrame:
    """Square symmetric matrix of a p-value column of ``paired_tests`` (NaN diagonal)."""
    names = list(dict.fromkeys([*tests["model_a"], *tests["model_b"]]))
    out = pd.DataFrame(np.nan, index=names, columns=names)
    for a, b, p in tests[["model_a", "model_b", column]].itertuples(index=False):
        out.loc[a, b] = out.loc[b, a] = p
    return out


def significance_sentences(tests: pd.DataFrame, metric: str, alpha: float = 0.05) -> list[str]:
    """Plain-words verdict on every pair (Holm-corrected Wilcoxon p against ``alpha``)."""
    lines = []
    for r in tests.to_dict(orient="records"):
        a, b, p = str(r["model_a"]), str(r["model_b"]), float(r["wilcoxon_p_holm"])
        hi, lo = (a, b) if r["mean_diff"] >= 0 else (b, a)
        where = f"{metric}, {r['n_users']:,} shared users, Holm-corrected Wilcoxon p = {p:.3g}"
        if np.isnan(p):
            lines.append(f"{a} vs {b}: too few users to test ({where}).")
        elif p < alpha:
            lines.append(f"{hi} scores higher than {lo}, significant at {alpha:g} ({where}).")
        else:
            lines.append(f"{a} vs {b}: no significant difference at {alpha:g} ({where}).")
    return lines


def largest_segments(rows: pd.DataFrame, n: int = 12) -> pd.DataFrame:
    """The ``n`` segments with the most users (summed over runs), in their original order.

    Category views (tags, genres) can have hundreds of segments; a chart of all is unreadable.
    """
    size = rows.groupby("segment", sort=False)["n_users"].sum()
    keep = set(size.nlargest(n).index) if len(size) > n else set(size.index)
    return rows[rows["segment"].isin(keep)]


def protocol_notes(runs: Sequence[Run], metric: str = "NDCG@10") -> list[str]:
    """Warnings that keep a comparison honest: mixed protocols, splits, or sampled-vs-full order."""
    notes = []
    protocols = {run_spec(r).protocol for r in runs}
    if len(protocols) > 1:
        notes.append(
            "These runs mix the full and the sampled ranking protocol. Sampled metrics rank each "
            "relevant item against a few random negatives: they flatter models, can reorder them "
            "and are not comparable with full-ranking numbers. Compare runs of one protocol."
        )
    if "sampled" in protocols:
        notes.append(SAMPLED_BIAS)
    if len({split_key(r) for r in runs}) > 1:
        notes.append(
            "These runs use different splits (dataset version, protocol settings or seed), so "
            "differences mix model and data; paired tests use only the users they share."
        )
    flipped = _order_flip(runs, metric)
    if flipped:
        notes.append(flipped)
    return notes


def _order_flip(runs: Sequence[Run], metric: str) -> str | None:
    """A note when the sampled protocol orders the models differently from the full one."""
    by_protocol: dict[str, dict[str, float]] = {"full": {}, "sampled": {}}
    for r in runs:
        value = run_summary(r).metric(metric)
        if value is not None:
            by_protocol[run_spec(r).protocol].setdefault(r.model, float(value))
    both = sorted(set(by_protocol["full"]) & set(by_protocol["sampled"]))
    if len(both) < 2:
        return None
    orders = {p: sorted(both, key=by_protocol[p].__getitem__, reverse=True) for p in by_protocol}
    if orders["full"] == orders["sampled"]:
        return None
    return (
        f"The sampled protocol ranks the models differently from full ranking on {metric}: "
        f"full {' > '.join(orders['full'])}, sampled {' > '.join(orders['sampled'])}. "
        "Trust the full ranking."
    )


@dataclass(frozen=True)
class ExternalScore:
    """An uploaded recommendation table scored like a run.

    Attributes:
        metrics: rows shaped like ``compare_metrics`` (run is -1), for the tables and charts.
        per_user: per-user metric values indexed by user id, for significance tests.
        n_listed: test users that have a list in the table.
        n_test_users: users with held-out interactions (those without a list score 0).
    """

    metrics: pd.DataFrame
    per_user: pd.DataFrame
    n_listed: int
    n_test_users: int


def score_external(table: pd.DataFrame, parts: Split, spec: RunSpec, name: str) -> ExternalScore:
    """Score an analyst's table against a run's test side with the run's cut-offs and threshold.

    Raises:
        InputError: from ``evaluate_table`` (missing columns, duplicates, bad numbers).
    """
    truth = parts.test.to_frame()
    result = evaluate_table(
        table,
        truth,
        ks=spec.ks,
        relevance_threshold=spec.relevance_threshold,
        train=parts.train,
    )
    per_user = result.per_user.set_index(Columns.user)
    rows = []
    for metric, value in result.summary["value"].items():
        low = high = np.nan
        if metric in per_user.columns and per_user[metric].notna().sum() > 1:
            low, high = bootstrap_ci(per_user[metric].to_numpy(np.float64), random_state=spec.seed)
        rows.append({"run": -1, "label": name, "metric": metric, "value": value,
                     "ci_low": low, "ci_high": high})  # fmt: skip
    listed = pd.Index(table[Columns.user].astype(str).unique())
    test_ids = pd.Index(truth[Columns.user].unique())
    return ExternalScore(
        pd.DataFrame(rows, columns=METRIC_COLUMNS),
        per_user,
        int(test_ids.isin(listed).sum()),
        len(test_ids),
    )
