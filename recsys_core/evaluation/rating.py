"""Rating-prediction errors: RMSE and MAE of predicted against held-out ratings.

Definitions over the n scored (user, item) pairs, e = predicted - actual:
RMSE = sqrt(mean(e^2)) (punishes large misses), MAE = mean(|e|).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_core.columns import Columns
from recsys_core.errors import InputError


def _errors(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    a = np.asarray(actual, dtype=np.float64).ravel()
    p = np.asarray(predicted, dtype=np.float64).ravel()
    if a.shape != p.shape:
        raise InputError(f"Got {len(a)} actual ratings but {len(p)} predictions.")
    if not len(a):
        raise InputError("No ratings to compare: the test side is empty.")
    if np.isnan(a).any() or np.isnan(p).any():
        raise InputError("Ratings and predictions must not be empty (NaN).")
    return p - a


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error."""
    e = _errors(actual, predicted)
    return float(np.sqrt(np.mean(e * e)))


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(_errors(actual, predicted))))


def evaluate_ratings(predictions: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """RMSE and MAE of a predictions table (user, item, score) on a truth table with ratings.

    Pairs are matched on (user_id, item_id) as text; every truth pair needs a prediction,
    since silently skipping hard pairs would flatter the model.

    Returns:
        Index metric ("RMSE", "MAE", "n_pairs"), column value.
    """
    c = Columns
    for name, frame, cols in (
        ("predictions", predictions, (c.user, c.item, c.score)),
        ("truth", truth, (c.user, c.item, c.rating)),
    ):
        missing = [col for col in cols if col not in frame.columns]
        if missing:
            raise InputError(f"The {name} table lacks column(s) {missing}.")
    keys = [c.user, c.item]
    pred = predictions[[*keys, c.score]].astype({c.user: str, c.item: str})
    if pred.duplicated(keys).any():
        raise InputError("The predictions table repeats (user, item) pairs.")
    gold = truth[[*keys, c.rating]].astype({c.user: str, c.item: str})
    merged = gold.merge(pred, on=keys, how="left")
    missing_n = int(merged[c.score].isna().sum())
    if missing_n:
        raise InputError(f"{missing_n} truth pair(s) have no prediction; predict every pair.")
    a, p = merged[c.rating].to_numpy(np.float64), merged[c.score].to_numpy(np.float64)
    out = pd.DataFrame(
        {"value": [rmse(a, p), mae(a, p), float(len(a))]},
        index=pd.Index(["RMSE", "MAE", "n_pairs"], name="metric"),
    )
    return out
