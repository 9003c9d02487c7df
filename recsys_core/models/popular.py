"""Non-personalised baselines: most popular items (optionally time-decayed) and random."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models.base import Recommender, RecommenderConfig
from recsys_core.progress import Progress, report

_SECONDS_PER_DAY = 86_400.0
_GOLDEN = 0x9E3779B97F4A7C15


class MostPopularConfig(RecommenderConfig):
    """Popularity counts interactions per item, each one weighted by its age when decayed."""

    half_life_days: float | None = Field(
        None,
        gt=0,
        description=(
            "When set, an interaction this many days older than the newest one counts half; "
            "favours what is popular now. Needs timestamps. Empty: every interaction counts 1."
        ),
    )


class MostPopular(Recommender):
    """Recommends the items with the most interactions: the baseline every model must beat."""

    name: ClassVar[str] = "most_popular"
    config_class: ClassVar[type[RecommenderConfig]] = MostPopularConfig
    personalized: ClassVar[bool] = False

    config: MostPopularConfig

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        weights = np.ones(train.n_interactions, dtype=np.float64)
        half_life = self.config.half_life_days
        if half_life is not None:
            if train.timestamps is None:
                raise InputError(
                    "MostPopular with half_life_days needs a timestamp column in the data; "
                    "map one on import or leave half_life_days empty."
                )
            age_days = (train.timestamps.max() - train.timestamps) / _SECONDS_PER_DAY
            weights = np.exp2(-age_days / half_life)
        popularity = np.bincount(train.items, weights=weights, minlength=train.n_items)
        self.popularity_ = popularity.astype(np.float32)
        report(progress, 1, 1, "counted interactions")

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        pop = self.popularity_ if items is None else self.popularity_[items]
        return np.tile(pop, (len(users), 1))


class RandomConfig(RecommenderConfig):
    """Only the seed: a random ranking has no other knob."""


class Random(Recommender):
    """Ranks unseen items at random: the floor that shows whether a metric means anything.

    Scores are a hash of (seed, user, item), so they are reproducible for the same seed, do
    not depend on batching, and need no stored state.
    """

    name: ClassVar[str] = "random"
    config_class: ClassVar[type[RecommenderConfig]] = RandomConfig
    personalized: ClassVar[bool] = False

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        report(progress, 1, 1, "nothing to learn")

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        cols = np.arange(self.n_items) if items is None else items
        seed = np.uint64((self.config.random_state * _GOLDEN) % 2**64)  # Python ints: no overflow
        key = users.astype(np.uint64)[:, None] * np.uint64(self.n_items) + cols.astype(np.uint64)
        bits = _splitmix64(key + seed)
        return (bits >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A well-mixed 64-bit hash (SplitMix64 finaliser); uint64 arithmetic wraps by design."""
    x = x + np.uint64(_GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))
