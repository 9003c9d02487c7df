"""SHAP and permutation importance of a two-stage ranker's engineered features."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from recsys_core.errors import InputError
from recsys_core.explain.types import Explanation
from recsys_core.models._ranker_reasons import shap_frame
from recsys_core.models.base import Recommender


def shap_values(booster: Any, features: pd.DataFrame) -> pd.DataFrame:
    """Per-row SHAP values of a LightGBM booster (TreeExplainer: exact for trees)."""
    return shap_frame(booster, features)


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
    values = _shap(ranker, rows)
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


def ranker_reasons(ranker: Recommender, user: int, item: int, n: int = 5) -> Explanation:
    """The ``n`` strongest signed SHAP features behind the ranker's score of one pair.

    Raises:
        InputError: when the item is not among the user's candidates (its score is a
            fallback the ranker did not compute), or the model ranks no candidates.
    """
    (expl,) = ranker_reasons_many(ranker, np.array([user]), np.array([item]), n)
    if expl is None:
        raise InputError(
            f"Item {ranker.train_.item_ids[item]} is not a candidate for user "
            f"{ranker.train_.user_ids[user]}; the ranker only scores candidates."
        )
    return expl


def ranker_reasons_many(
    ranker: Recommender, users: np.ndarray, items: np.ndarray, n: int = 5
) -> list[Explanation | None]:
    """:func:`ranker_reasons` for many pairs (one candidate build, one SHAP call).

    Returns:
        One explanation per pair, None where the item is not among the user's candidates.
    """
    if not ranker.capabilities.shap_features:
        raise InputError(f"The {ranker.name} model has no candidate features to explain.")
    names = np.asarray(ranker.train_.item_ids).astype(str)
    found = ranker.explain_many(np.asarray(users), np.asarray(items), names, n)
    return [e if e.kind == "features" else None for e in found]


def _shap(ranker: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """SHAP values of rows: through the model's contract, or of a bare LightGBM model."""
    if isinstance(ranker, Recommender):
        return ranker.feature_contributions(rows)
    import lightgbm as lgb

    return shap_values(ranker.booster_ if isinstance(ranker, lgb.LGBMModel) else ranker, rows)
