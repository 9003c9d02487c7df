"""ALS (implicit) and BPR (numpy SGD): reproducibility, progress per epoch, scores from factors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.models import ALS, BPR


@pytest.fixture
def random_data(rng: np.random.Generator) -> Interactions:
    n = 3000
    frame = pd.DataFrame(
        {
            Columns.user: rng.integers(0, 200, n),
            Columns.item: (rng.pareto(1.5, n) * 10).astype(int) % 150,
        }
    ).drop_duplicates()
    return Interactions.from_frame(frame)


@pytest.mark.parametrize("threads", [0, 1])
def test_als_refit_is_reproducible(random_data: Interactions, threads: int) -> None:
    """ALS solves each user (item) independently, so even all threads give the same factors."""
    users = np.arange(random_data.n_users)
    a = ALS(embedding_size=16, epochs=5, num_threads=threads).fit(random_data)
    b = ALS(embedding_size=16, epochs=5, num_threads=threads).fit(random_data)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    np.testing.assert_array_equal(a.topk(users, 10)[0], b.topk(users, 10)[0])


def test_als_seed_changes_the_factors(random_data: Interactions) -> None:
    a = ALS(embedding_size=8, epochs=2, random_state=1).fit(random_data)
    b = ALS(embedding_size=8, epochs=2, random_state=2).fit(random_data)
    assert not np.array_equal(a.item_factors_, b.item_factors_)


def test_bpr_single_thread_refit_is_reproducible(random_data: Interactions) -> None:
    """BPR's SGD draws from its seed only, so a refit gives the same factors."""
    a = BPR(embedding_size=8, epochs=5, num_threads=1).fit(random_data)
    b = BPR(embedding_size=8, epochs=5, num_threads=1).fit(random_data)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)


@pytest.mark.parametrize("cls", [ALS, BPR])
def test_progress_is_reported_once_per_epoch(random_data: Interactions, cls: type) -> None:
    calls: list[tuple[int, int, str]] = []
    cls(embedding_size=4, epochs=3, num_threads=1).fit(
        random_data, progress=lambda done, total, message="": calls.append((done, total, message))
    )
    assert [(d, t) for d, t, _ in calls] == [(1, 3), (2, 3), (3, 3)]
    assert calls[-1][2] == "epoch 3/3"


@pytest.mark.parametrize("cls", [ALS, BPR])
def test_scores_are_dot_products_of_the_factors(random_data: Interactions, cls: type) -> None:
    model = cls(embedding_size=6, epochs=2, num_threads=1).fit(random_data)
    assert model.user_factors_.shape[0] == random_data.n_users
    assert model.item_factors_.shape[0] == random_data.n_items
    users = np.array([0, 7, 42])
    expected = model.user_factors_[users] @ model.item_factors_.T
    np.testing.assert_allclose(model.score(users), expected, rtol=1e-6)


def test_als_learns_the_embedding_size(random_data: Interactions) -> None:
    model = ALS(embedding_size=12, epochs=1).fit(random_data)
    assert model.item_factors_.shape == (random_data.n_items, 12)
    assert model.item_factors_.dtype == np.float32


def test_als_explanations_add_up_to_the_score_with_weighted_confidence(
    rng: np.random.Generator,
) -> None:
    n = 2000
    frame = pd.DataFrame(
        {
            Columns.user: rng.integers(0, 100, n),
            Columns.item: rng.integers(0, 80, n),
            Columns.weight: rng.integers(1, 5, n).astype(float),
        }
    ).drop_duplicates([Columns.user, Columns.item])
    data = Interactions.from_frame(frame)
    model = ALS(embedding_size=8, epochs=3, alpha=2.0, reg=0.5, binarize=False).fit(data)
    scores = model.score(np.arange(10))
    for user in range(10):
        for item in (0, 17, 55):
            history, parts = model.explain_parts(user, item)
            assert set(history) <= set(data.matrix[user].indices)
            assert parts.sum() == pytest.approx(scores[user, item], rel=1e-3, abs=1e-5)


def test_progress_callback_can_cancel_the_fit(random_data: Interactions) -> None:
    """Progress may raise to cancel; the model is then left unfitted, not half-fitted."""

    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int, message: str = "") -> None:
        if done == 2:
            raise Cancelled("cancelled by the analyst")

    model = ALS(embedding_size=4, epochs=5, num_threads=1)
    with pytest.raises(Cancelled):
        model.fit(random_data, progress=cancel)
    assert not model.fitted
