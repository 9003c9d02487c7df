"""Non-personalised baselines: most popular items (optionally time-decayed) and random."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models._reasons import constant_many, pair_ids
from recsys_core.models.base import Recommender, RecommenderConfig
from recsys_core.models.explanation import Explanation
from recsys_core.progress import Progress, report

_SECONDS_PER_DAY = 86_400.0
CHANCE = (
    "Drawn at random: the Random baseline uses nothing about you or the item, so this "
    "pick shows what chance alone scores."
)
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
    folds_in: ClassVar[bool] = True

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

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        _, i = self._pairs(users, items)
        return self.popularity_[i].astype(np.float64)

    def _score_history(self, row: sp.csr_matrix) -> np.ndarray:
        """Everyone's scores: the history only decides what is excluded as seen."""
        return self.popularity_.copy()

    def explain_many(
        self, users: np.ndarray, items: np.ndarray, names: np.ndarray, n: int = 5
    ) -> list[Explanation]:
        """The item's popularity percentile: the whole score is its one part."""
        return popularity_reasons(self, self._pairs(users, items), self.popularity_)

    def explain_one(self, user: int, item: int, names: np.ndarray, n: int = 5) -> Explanation:
        return self.explain_many(np.array([user]), np.array([item]), names, n)[0]


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

    def explain_many(
        self, users: np.ndarray, items: np.ndarray, names: np.ndarray, n: int = 5
    ) -> list[Explanation]:
        """No reason is invented: the sentence says the pick is chance."""
        pairs = self._pairs(users, items)
        return constant_many(self, pairs, self.score_pairs(*pairs), CHANCE)

    def explain_one(self, user: int, item: int, names: np.ndarray, n: int = 5) -> Explanation:
        return self.explain_many(np.array([user]), np.array([item]), names, n)[0]

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        cols = np.arange(self.n_items) if items is None else items
        return self._hash(users[:, None], cols[None, :])

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The same hash, one per pair (no full-catalogue rows)."""
        u, i = self._pairs(users, items)
        return self._hash(u, i).astype(np.float64)

    def _hash(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        seed = np.uint64((self.config.random_state * _GOLDEN) % 2**64)  # Python ints: no overflow
        key = users.astype(np.uint64) * np.uint64(self.n_items) + items.astype(np.uint64)
        bits = _splitmix64(key + seed)
        return (bits >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A well-mixed 64-bit hash (SplitMix64 finaliser); uint64 arithmetic wraps by design."""
    x = x + np.uint64(_GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def popularity_reasons(
    model: Recommender, pairs: tuple[np.ndarray, np.ndarray], popularity: np.ndarray
) -> list[Explanation]:
    """ "Popular with everyone: in the top x% of items", the score as its one part.

    Also the reason a two-stage ranker gives for an item outside its candidates.
    """
    pop = np.asarray(popularity, dtype=np.float64)
    ranked = np.sort(pop)
    at_least = len(pop) - np.searchsorted(ranked, pop[pairs[1]], side="left")
    percent = np.maximum(1, np.ceil(at_least / len(pop) * 100)).astype(int)
    scores = model.score_pairs(*pairs)
    uids, iids = pair_ids(model, *pairs)
    return [
        Explanation(
            u,
            i,
            s,
            "none",
            ("popularity",),
            np.array([s]),
            0.0,
            f"Popular with everyone: in the top {pc}% of items.",
        )
        for u, i, s, pc in zip(uids, iids, scores.tolist(), percent.tolist(), strict=True)
    ]
