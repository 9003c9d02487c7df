"""Rating baseline: global mean plus regularised user and item biases."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from recsys_core.data.interactions import Interactions
from recsys_core.models.base import Recommender, RecommenderConfig, check_indices
from recsys_core.progress import Progress, report


class BiasConfig(RecommenderConfig):
    """Damping and the number of alternating passes."""

    reg: float = Field(
        5.0,
        ge=0.0,
        le=1e6,
        description=(
            "Damping: a bias is pulled towards 0 as if it had this many extra ratings at the "
            "mean, so users and items with few ratings keep small biases."
        ),
    )
    epochs: int = Field(
        10, ge=1, le=1000, description="Alternating passes (items, then users); a few suffice."
    )


class BiasBaseline(Recommender):
    """``rating(u, i) = mean + b_u + b_i``: the yardstick for rating prediction (RMSE, MAE).

    Item biases are refit given user biases and vice versa, each a regularised mean of the
    residuals computed with ``np.bincount``. As a ranker it orders items the same way for every
    user (by item bias), so it is not personalised.
    """

    name: ClassVar[str] = "bias"
    config_class: ClassVar[type[RecommenderConfig]] = BiasConfig
    predicts_ratings: ClassVar[bool] = True
    personalized: ClassVar[bool] = False

    config: BiasConfig

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        users, items = train.users, train.items
        r = train.values.astype(np.float64)
        mean = float(r.mean())
        reg = self.config.reg
        n_u = np.bincount(users, minlength=train.n_users) + reg
        n_i = np.bincount(items, minlength=train.n_items) + reg
        b_u = np.zeros(train.n_users)
        b_i = np.zeros(train.n_items)
        epochs = self.config.epochs
        for epoch in range(epochs):
            b_i = _safe_div(np.bincount(items, r - mean - b_u[users], train.n_items), n_i)
            b_u = _safe_div(np.bincount(users, r - mean - b_i[items], train.n_users), n_u)
            report(progress, epoch + 1, epochs, f"pass {epoch + 1}/{epochs}")
        self.global_mean_ = mean
        self.user_bias_ = b_u
        self.item_bias_ = b_i

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings for pairs ``(users[n], items[n])`` of indices (float64)."""
        u = check_indices(users, self.n_users, "user")
        i = check_indices(items, self.n_items, "item")
        if len(u) != len(i):
            raise ValueError(f"predict needs as many users as items; got {len(u)} and {len(i)}.")
        return self.global_mean_ + self.user_bias_[u] + self.item_bias_[i]

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        b_i = self.item_bias_ if items is None else self.item_bias_[items]
        return self.global_mean_ + self.user_bias_[users, None] + b_i[None, :]

    def score_parts(self, user: int, item: int) -> dict[str, float]:
        """The three terms of the prediction; they add up to ``score(user, item)``."""
        return {
            "average rating": float(self.global_mean_),
            "your rating habit": float(self.user_bias_[user]),
            "this item's standing": float(self.item_bias_[item]),
        }


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Bias 0 for a user or item with no ratings and no damping (0 / 0)."""
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out
