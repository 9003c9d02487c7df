"""MostPopular counts and time decay, and the seeded Random baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models import MostPopular, Random

DAY = 86_400


@pytest.fixture
def old_hit_new_hit() -> Interactions:
    """'old' has 3 interactions 30 days ago, 'new' has 2 today, 'rare' 1 today."""
    frame = pd.DataFrame(
        {
            Columns.user: ["a", "b", "c", "a", "b", "c"],
            Columns.item: ["old", "old", "old", "new", "new", "rare"],
            Columns.timestamp: [0, 0, 0, 30 * DAY, 30 * DAY, 30 * DAY],
        }
    )
    return Interactions.from_frame(frame)


def test_popularity_counts_interactions(old_hit_new_hit: Interactions) -> None:
    model = MostPopular().fit(old_hit_new_hit)
    counts = dict(zip(old_hit_new_hit.item_ids, model.popularity_, strict=True))
    assert counts == {"new": 2.0, "old": 3.0, "rare": 1.0}
    recs = model.recommend(["a"], 3, exclude_seen=False)
    assert recs[Columns.item].tolist() == ["old", "new", "rare"]


def test_time_decay_puts_recent_items_first(old_hit_new_hit: Interactions) -> None:
    model = MostPopular(half_life_days=10.0).fit(old_hit_new_hit)
    counts = dict(zip(old_hit_new_hit.item_ids, model.popularity_, strict=True))
    # 30 days = three half-lives: each old interaction counts 1/8.
    assert counts == pytest.approx({"new": 2.0, "old": 3 / 8, "rare": 1.0})
    recs = model.recommend(["a"], 3, exclude_seen=False)
    assert recs[Columns.item].tolist() == ["new", "rare", "old"]


def test_time_decay_without_timestamps_raises_input_error() -> None:
    frame = pd.DataFrame({Columns.user: ["a", "b"], Columns.item: ["x", "y"]})
    with pytest.raises(InputError, match="timestamp"):
        MostPopular(half_life_days=7).fit(Interactions.from_frame(frame))


def test_random_is_reproducible_per_seed_and_independent_of_batching(
    small_ratings: Interactions,
) -> None:
    a = Random(random_state=1).fit(small_ratings)
    b = Random(random_state=1).fit(small_ratings)
    c = Random(random_state=2).fit(small_ratings)
    users = np.arange(small_ratings.n_users)
    np.testing.assert_array_equal(a.score(users), b.score(users))
    assert not np.array_equal(a.score(users), c.score(users))
    whole, _ = a.topk(users, 3)
    batched, _ = a.topk(users, 3, batch_size=2)
    np.testing.assert_array_equal(whole, batched)
    scores = a.score(users)
    assert ((scores >= 0) & (scores < 1)).all()


def test_random_scores_differ_between_users(rng: np.random.Generator) -> None:
    frame = pd.DataFrame(
        {Columns.user: rng.integers(0, 50, 500), Columns.item: rng.integers(0, 40, 500)}
    )
    model = Random().fit(Interactions.from_frame(frame))
    first = model.topk(np.arange(50), 1, exclude_seen=False)[0][:, 0]
    assert len(np.unique(first)) > 10  # not one global order
