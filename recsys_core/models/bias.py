"""Rating baseline: global mean plus regularised user and item biases."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from recsys_core.data.interactions import Interactions
from recsys_core.models._reasons import pair_ids
from recsys_core.models.base import Recommender, RecommenderConfig, check_indices
from recsys_core.models.explanation import Explanation, record
from recsys_core.models.priors import prior
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
        json_schema_extra=prior(0.1, 100, log=True),
    )
    epochs: int = Field(
        10,
        ge=1,
        le=1000,
        description="Alternating passes (items, then users); a few suffice.",
        json_schema_extra=prior(1, 30),
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

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.predict(users, items)

    def explain_many(
        self, users: np.ndarray, items: np.ndarray, names: np.ndarray, n: int = 5
    ) -> list[Explanation]:
        """Mean, user habit and item standing per pair: they add up to the score."""
        u, i = self._pairs(users, items)
        terms = np.column_stack(
            [np.full(len(u), float(self.global_mean_)), self.user_bias_[u], self.item_bias_[i]]
        ).astype(np.float64)
        labels = np.array(_TERMS, dtype=str)
        order = np.lexsort((np.broadcast_to(labels, terms.shape), -np.abs(terms)), axis=1)
        values = np.take_along_axis(terms, order, axis=1)
        scores = self.score_pairs(u, i)
        residual = scores - values.sum(axis=1)
        uids, iids = pair_ids(self, u, i)
        return [
            Explanation(
                uids[p],
                iids[p],
                float(scores[p]),
                "components",
                tuple(labels[order[p]].tolist()),
                values[p],
                float(residual[p]),
                bias_sentence(terms[p, 2], terms[p, 0]),
            )
            for p in range(len(u))  # one sentence per pair
        ]

    def explain_one(self, user: int, item: int, names: np.ndarray, n: int = 5) -> Explanation:
        """The scalar reference, from :meth:`score_parts`."""
        parts = self.score_parts(user, item)
        ids = pair_ids(self, np.array([user]), np.array([item]))
        score = float(self.score_pairs(np.array([user]), np.array([item]))[0])
        sentence = bias_sentence(parts[_TERMS[2]], parts[_TERMS[0]])
        values = np.array(list(parts.values()))
        return record((ids[0][0], ids[1][0]), score, "components", (list(parts), values), sentence)

    def score_parts(self, user: int, item: int) -> dict[str, float]:
        """The three terms of the prediction; they add up to ``score(user, item)``."""
        return dict(
            zip(
                _TERMS,
                (
                    float(self.global_mean_),
                    float(self.user_bias_[user]),
                    float(self.item_bias_[item]),
                ),
                strict=True,
            )
        )


_TERMS = ("average rating", "your rating habit", "this item's standing")


def bias_sentence(standing: float, mean: float) -> str:
    """The rating baseline in words: how far the item stands from the average."""
    side = "above" if standing >= 0 else "below"
    return (
        f"Rated {abs(standing):.2f} {side} the average of {mean:.2f} by "
        "the people who rated it, after allowing for how generously each of them rates."
    )


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Bias 0 for a user or item with no ratings and no damping (0 / 0)."""
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out
