"""RP3beta against weights computed by hand on a 3 x 3 example, and its reasons' additivity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.data.synth import generate, to_interactions
from recsys_core.models.rp3beta import RP3beta

# Three users x three items: u0 saw i0, i1; u1 saw i1, i2; u2 saw all three.
# Popularity (users per item) = (2, 3, 2).
ROWS = [[1, 1, 0], [0, 1, 1], [1, 1, 1]]


def _interactions(rows: list[list[float]]) -> Interactions:
    m = sp.coo_matrix(np.array(rows, dtype=float))
    frame = pd.DataFrame(
        {Columns.user: [f"u{u}" for u in m.row], Columns.item: [f"i{i}" for i in m.col]}
    )
    frame[Columns.weight] = m.data
    return Interactions.from_frame(frame)


@pytest.fixture
def tiny() -> Interactions:
    return _interactions(ROWS)


def test_walk_weights_match_hand_computation(tiny: Interactions) -> None:
    """alpha = 1 (plain P3): W[i, j] = sum_u P(i -> u) P(u -> j), over popularity_j^beta.

    From i0 the walk reaches u0 or u2 (1/2 each); u0 goes on to i1 with 1/2, u2 with 1/3:
    W[0, 1] = 1/4 + 1/6 = 5/12. From i1 (three users, 1/3 each) to i0: (1/2 + 0 + 1/3) / 3.
    """
    w = RP3beta(alpha=1.0, beta=0.5).fit(tiny).similarity_.toarray()
    raw = np.array([[0, 5 / 12, 1 / 6], [5 / 18, 0, 5 / 18], [1 / 6, 5 / 12, 0]], dtype=np.float64)
    expected = raw / np.sqrt([2.0, 3.0, 2.0])[None, :]
    np.testing.assert_allclose(w, expected, rtol=1e-6)


def test_alpha_raises_each_transition_probability_to_its_power(tiny: Interactions) -> None:
    """alpha = 2, beta = 0: W[0, 1] = (1/2)^2 (1/2)^2 + (1/2)^2 (1/3)^2 = 1/16 + 1/36."""
    w = RP3beta(alpha=2.0, beta=0.0).fit(tiny).similarity_.toarray()
    assert w[0, 1] == pytest.approx(1 / 16 + 1 / 36, rel=1e-6)
    assert w[1, 0] == pytest.approx((1 / 9) * (1 / 4 + 1 / 9), rel=1e-6)
    assert np.diag(w).tolist() == [0.0, 0.0, 0.0]


def test_pruning_keeps_each_source_items_strongest_targets(tiny: Interactions) -> None:
    w = RP3beta(alpha=1.0, beta=0.5, n_neighbors=1).fit(tiny).similarity_.toarray()
    # from i0: i1 (5/12 / sqrt 3 = .241) beats i2 (1/6 / sqrt 2 = .118)
    assert np.count_nonzero(w, axis=1).tolist() == [1, 1, 1]
    assert w[0, 1] > 0 and w[0, 2] == 0


def test_scores_are_history_times_weights_and_reasons_add_up() -> None:
    train = to_interactions(generate(60, 40, 900, seed=3))
    model = RP3beta(n_neighbors=15).fit(train)
    x = train.matrix.toarray()
    x[x != 0] = 1.0
    dense = x @ model.similarity_.toarray()
    np.testing.assert_allclose(model.score(np.arange(train.n_users)), dense, rtol=1e-5)
    for user, item in [(0, 3), (7, 21), (59, 39)]:
        history, parts = model.explain_parts(user, item)
        assert set(history) <= set(train.matrix[user].indices)
        assert parts.sum() == pytest.approx(dense[user, item], rel=1e-5, abs=1e-7)


def test_higher_beta_recommends_less_popular_items() -> None:
    train = to_interactions(generate(200, 120, 4000, seed=5))
    popularity = np.diff(train.matrix.tocsc().indptr)
    users = np.arange(train.n_users)
    flat = RP3beta(beta=0.0).fit(train).topk(users, 10)[0]
    damped = RP3beta(beta=0.8).fit(train).topk(users, 10)[0]
    assert popularity[damped].mean() < popularity[flat].mean()
