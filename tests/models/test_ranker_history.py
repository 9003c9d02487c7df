"""The ranker's history features by hand: cosine to the history and the latest items, item
times against the user's, and NaN where there are no timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.models._ranker_history import (
    HISTORY_FEATURES,
    LAST_N,
    history_context,
    history_features,
)

DAY = 86_400


@pytest.fixture()
def tiny() -> Interactions:
    """u0 saw a (day 0) then b (day 2); u1 saw a (day 1), c (day 5); u2 saw b (day 3), c (day 9)."""
    rows = [("u0", "a", 0), ("u0", "b", 2), ("u1", "a", 1), ("u1", "c", 5), ("u2", "b", 3),
            ("u2", "c", 9)]  # fmt: skip
    frame = pd.DataFrame(rows, columns=[Columns.user, Columns.item, Columns.timestamp])
    frame[Columns.timestamp] = frame[Columns.timestamp] * DAY
    return Interactions.from_frame(frame)


def _index(inter: Interactions, kind: str, ext: str) -> int:
    ids = list(inter.user_ids if kind == "user" else inter.item_ids)
    return ids.index(ext)


def test_history_features_by_hand(tiny: Interactions) -> None:
    u0, c = _index(tiny, "user", "u0"), _index(tiny, "item", "c")
    a, b = _index(tiny, "item", "a"), _index(tiny, "item", "b")
    ctx = history_context(tiny)
    assert ctx.last_items[u0, :2].tolist() == [b, a] and (ctx.last_items[u0, 2:] == -1).all()
    out = history_features(ctx, tiny.matrix, np.array([u0]), np.array([c]))
    assert list(out) == list(HISTORY_FEATURES)
    # c was seen by u1 and u2 (each also saw a or b once): cosine 1 / (sqrt 2 * sqrt 2) = .5
    np.testing.assert_allclose(out["sim_history_mean"], [0.5])
    np.testing.assert_allclose(out["sim_last1"], [0.5])  # to b, u0's latest
    np.testing.assert_allclose(out["sim_last_mean"], [0.5])
    np.testing.assert_allclose(out["sim_last_max"], [0.5])
    np.testing.assert_allclose(out["item_age_at_user_last"], [2 - 5])  # c first seen day 5
    np.testing.assert_allclose(out["item_last_after_user_first"], [9 - 0])
    np.testing.assert_allclose(out["pop_before_user_last"], [0.0])  # none by day 2
    np.testing.assert_allclose(out["share_before_user_last"], [0.0])
    assert LAST_N >= 2


def test_without_timestamps_time_features_are_nan(tiny: Interactions) -> None:
    bare = Interactions.from_frame(tiny.to_frame().drop(columns=[Columns.timestamp]))
    out = history_features(history_context(bare), bare.matrix, np.array([0, 1]), np.array([2, 0]))
    for name in ("sim_last1", "item_age_at_user_last", "pop_before_user_last"):
        assert np.isnan(out[name]).all()
    assert np.isfinite(out["sim_history_mean"]).all()
