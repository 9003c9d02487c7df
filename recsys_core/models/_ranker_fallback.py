"""The two-stage ranker's second stage when lightgbm is missing: a scikit-learn classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


class ClassifierScorer:
    """The fallback second stage: P(validation hit) from HistGradientBoostingClassifier."""

    def __init__(self, cfg: Any, feats: pd.DataFrame, labels: np.ndarray) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.model = HistGradientBoostingClassifier(
            max_iter=cfg.n_estimators,
            learning_rate=cfg.learning_rate,
            max_leaf_nodes=cfg.num_leaves,
            min_samples_leaf=cfg.min_child_samples,
            l2_regularization=cfg.reg,
            random_state=cfg.random_state,
        ).fit(_filled(feats), labels)

    def predict(self, feats: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(_filled(feats))[:, 1], dtype=np.float64)


def _filled(feats: pd.DataFrame) -> np.ndarray:
    """NaN ("unknown") as -1: scikit-learn's binning fails on an all-missing column."""
    return np.nan_to_num(feats.to_numpy(dtype=np.float64), nan=-1.0)
