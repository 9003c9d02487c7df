"""BiasBaseline: biases on a 2 x 2 example computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models import BiasBaseline


@pytest.fixture
def two_by_two() -> Interactions:
    """u0 rates i0=5, i1=3; u1 rates i0=4 (i1 unrated). Mean = 4."""
    frame = pd.DataFrame(
        {
            Columns.user: ["u0", "u0", "u1"],
            Columns.item: ["i0", "i1", "i0"],
            Columns.rating: [5.0, 3.0, 4.0],
        }
    )
    return Interactions.from_frame(frame)


def test_one_pass_biases_match_hand_computation(two_by_two: Interactions) -> None:
    model = BiasBaseline(reg=1.0, epochs=1).fit(two_by_two)
    assert model.global_mean_ == pytest.approx(4.0)
    # Items first (user biases 0): i0 = (1 + 0) / (2 + 1), i1 = -1 / (1 + 1).
    np.testing.assert_allclose(model.item_bias_, [1 / 3, -1 / 2])
    # Then users: u0 = ((5-4-1/3) + (3-4+1/2)) / (2 + 1) = 1/18; u1 = (4-4-1/3) / (1 + 1).
    np.testing.assert_allclose(model.user_bias_, [1 / 18, -1 / 6])
    np.testing.assert_allclose(model.predict(np.array([1]), np.array([1])), [4 - 1 / 6 - 1 / 2])


def test_no_damping_fits_the_observed_ratings_exactly(two_by_two: Interactions) -> None:
    model = BiasBaseline(reg=0.0, epochs=50).fit(two_by_two)
    predicted = model.predict(two_by_two.users, two_by_two.items)
    np.testing.assert_allclose(predicted, two_by_two.values, atol=1e-6)


def test_score_is_the_predicted_rating_for_every_item(small_ratings: Interactions) -> None:
    model = BiasBaseline().fit(small_ratings)
    users = np.array([0, 3])
    scores = model.score(users)
    for row, user in enumerate(users):
        items = np.arange(model.n_items)
        np.testing.assert_allclose(
            scores[row], model.predict(np.full(len(items), user), items), rtol=1e-6
        )
    assert model.predicts_ratings


def test_predict_rejects_out_of_range_indices(small_ratings: Interactions) -> None:
    model = BiasBaseline().fit(small_ratings)
    with pytest.raises(InputError, match="item indices"):
        model.predict(np.array([0]), np.array([model.n_items]))
