"""SHAP and permutation importance of a two-stage ranker's engineered features."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from recsys_core.errors import InputError
from recsys_core.explain.types import Explanation, contribution_frame


def shap_values(booster: Any, features: pd.DataFrame) -> pd.DataFrame:
    """Per-row SHAP values of a LightGBM booster (TreeExplainer: exact for trees)."""
    import shap

    values = shap.TreeExplainer(booster).shap_values(features)
    return pd.DataFrame(np.asarray(values), columns=features.columns, index=features.index)


def shap_importance(
    ranker: Any, features_df: pd.DataFrame, max_rows: int = 10_000, random_state: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean |SHAP| per feature over a sample of candidate rows, and the per-row values.

    Args:
        ranker: a fitted TwoStageRanker, or a LightGBM Booster/LGBMRanker.
        features_df: candidate feature rows (e.g. from ``ranker.candidate_features``).
        max_rows: rows explained at most (a seeded sample beyond that), as cost is linear.
        random_state: seed of the sample.

    Returns:
        ``(frame[feature, mean_abs_shap] largest first, values [rows, features])``.
    """
    if features_df.empty:
        raise InputError("No candidate rows to explain; pick users with candidates.")
    rows = features_df
    if len(rows) > max_rows:
        pick = np.random.default_rng(random_state).choice(len(rows), max_rows, replace=False)
        rows = rows.iloc[np.sort(pick)]
    values = shap_values(_booster(ranker), rows)
    mean_abs = values.abs().mean(axis=0).to_numpy()
    frame = pd.DataFrame({"feature": list(values.columns), "mean_abs_shap": mean_abs})
    return frame.sort_values("mean_abs_shap", ascending=False, ignore_index=True), values


def permutation_importance_rows(
    predict: Any,
    features: pd.DataFrame,
    labels: np.ndarray,
    groups: np.ndarray,
    k: int = 10,
    n_repeats: int = 3,
    random_state: int = 0,
) -> pd.DataFrame:
    """Drop in mean NDCG@k per group when one feature column is shuffled across rows.

    Args:
        predict: callable mapping a feature frame to scores.
        features: candidate rows.
        labels: relevance per row (0/1 or graded).
        groups: group (user) id per row.

    Returns:
        Columns feature, mean_drop; the largest drop first.
    """
    rng = np.random.default_rng(random_state)
    base = group_ndcg(np.asarray(predict(features)), labels, groups, k)
    rows = []
    for col in features.columns:  # a loop over a few feature columns
        drops = []
        for _ in range(n_repeats):
            shuffled = features.copy()
            shuffled[col] = features[col].to_numpy()[rng.permutation(len(features))]
            drops.append(base - group_ndcg(np.asarray(predict(shuffled)), labels, groups, k))
        rows.append((col, float(np.mean(drops))))
    frame = pd.DataFrame(rows, columns=["feature", "mean_drop"])
    return frame.sort_values("mean_drop", ascending=False, ignore_index=True)


def group_ndcg(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray, k: int) -> float:
    """Mean NDCG@k over groups with a relevant row (vectorised over all rows)."""
    frame = pd.DataFrame({"g": groups, "s": scores, "y": np.asarray(labels, float)})
    by_score = frame.sort_values(["g", "s"], ascending=[True, False], kind="stable")
    pos = by_score.groupby("g").cumcount().to_numpy()
    disc = np.where(pos < k, 1.0 / np.log2(pos + 2.0), 0.0)
    dcg = pd.Series(by_score["y"].to_numpy() * disc).groupby(by_score["g"].to_numpy()).sum()
    ideal = frame.sort_values(["g", "y"], ascending=[True, False], kind="stable")
    ipos = ideal.groupby("g").cumcount().to_numpy()
    idisc = np.where(ipos < k, 1.0 / np.log2(ipos + 2.0), 0.0)
    idcg = pd.Series(ideal["y"].to_numpy() * idisc).groupby(ideal["g"].to_numpy()).sum()
    keep = idcg > 0
    return float((dcg[keep] / idcg[keep]).mean()) if keep.any() else float("nan")


def beeswarm_figure(values: pd.DataFrame, features: pd.DataFrame, max_points: int = 2000) -> Any:
    """One row of points per feature (most important on top), coloured by the feature value."""
    order = values.abs().mean().sort_values().index
    fig = go.Figure()
    take = values.index[:max_points]
    for name in order:
        x = values.loc[take, name].to_numpy()
        raw = pd.to_numeric(features.loc[take, name], errors="coerce").to_numpy(dtype=float)
        span = np.nanmax(raw) - np.nanmin(raw) if np.isfinite(raw).any() else 0.0
        colour = (raw - np.nanmin(raw)) / span if span > 0 else np.zeros_like(raw)
        y = np.full(len(x), name, dtype=object)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="markers",
                name=name,
                showlegend=False,
                marker={"color": colour, "colorscale": "RdBu_r", "size": 4, "opacity": 0.6},
                customdata=raw,
                hovertemplate=f"{name}=%{{customdata}}<br>SHAP %{{x:.3f}}<extra></extra>",
            )
        )
    fig.update_layout(xaxis_title="SHAP value (effect on the ranker score)", height=400)
    return fig


def dependence_figure(values: pd.DataFrame, features: pd.DataFrame, name: str) -> Any:
    """SHAP value of one feature against the feature's value: the shape of its effect."""
    if name not in values.columns:
        raise InputError(f"Unknown feature {name!r}; choose one of {list(values.columns)}.")
    fig = go.Figure(
        go.Scatter(
            x=features.loc[values.index, name],
            y=values[name],
            mode="markers",
            marker={"size": 4, "opacity": 0.5},
        )
    )
    fig.update_layout(xaxis_title=name, yaxis_title=f"SHAP value of {name}")
    return fig


def ranker_reasons(ranker: Any, user: int, item: int, n: int = 5) -> Explanation:
    """The ``n`` strongest signed SHAP features behind the ranker's score of one pair.

    Raises:
        InputError: when the item is not among the user's candidates (its score is a
            fallback the ranker did not compute).
    """
    (expl,) = ranker_reasons_many(ranker, np.array([user]), np.array([item]), n)
    if expl is None:
        raise InputError(
            f"Item {ranker.train_.item_ids[item]} is not a candidate for user "
            f"{ranker.train_.user_ids[user]}; the ranker only scores candidates."
        )
    return expl


def ranker_reasons_many(
    ranker: Any, users: np.ndarray, items: np.ndarray, n: int = 5
) -> list[Explanation | None]:
    """:func:`ranker_reasons` for many pairs: one candidate build and one SHAP call.

    Building a user's candidate features costs far more than explaining one row, so a run
    storing reasons for thousands of rows does it once for all their users.

    Returns:
        One explanation per pair, None where the item is not among the user's candidates.
    """
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    out: list[Explanation | None] = [None] * len(users)
    if not len(users):
        return out
    cand, feats = ranker.candidate_features(np.unique(users))
    n_items = int(ranker.n_items)
    codes = cand.users.astype(np.int64) * n_items + cand.items  # sorted by (user, item)
    wanted = users * n_items + items
    pos = np.minimum(np.searchsorted(codes, wanted), max(len(codes) - 1, 0))
    found = np.flatnonzero(codes[pos] == wanted) if len(codes) else np.zeros(0, dtype=np.int64)
    if not len(found):
        return out
    rows = feats.iloc[pos[found]]
    values = shap_values(_booster(ranker), rows).to_numpy()
    scores = np.asarray(ranker.booster().predict(rows), dtype=np.float64)
    names = [str(c) for c in feats.columns]
    for j, at in enumerate(found):  # a loop over the explained rows, each one sentence
        top = contribution_frame(names, values[j]).head(n).reset_index(drop=True)
        parts = ", ".join(f"*{r.name}* ({r.value:+.3f})" for r in top.itertuples())
        out[at] = Explanation(
            user_id=str(ranker.train_.user_ids[users[at]]),
            item_id=str(ranker.train_.item_ids[items[at]]),
            score=float(scores[j]),
            kind="features",
            contributions=top,
            residual=float(scores[j]) - float(top["value"].sum()),
            sentence=f"Ranked by its features: {parts}.",
        )
    return out


def _booster(ranker: Any) -> Any:
    if hasattr(ranker, "booster") and callable(ranker.booster):
        return ranker.booster()
    return getattr(ranker, "booster_", ranker)
