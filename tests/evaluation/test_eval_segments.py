"""User and item segments and per-segment metrics, on hand-built data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation.segments import (
    metrics_by_segment,
    recall_by_item_segment,
    segment_items,
    segment_users,
)
from recsys_core.splitting import Predefined, split


def _activity_train() -> Interactions:
    # training interactions per user: a 1, b 5, c 25; d exists only in the id space
    users = ["a"] + ["b"] * 5 + ["c"] * 25
    items = [f"i{j}" for j in range(1)] + [f"i{j}" for j in range(5)] + [f"i{j}" for j in range(25)]
    frame = pd.DataFrame({"user_id": users, "item_id": items})
    return Interactions.from_frame(frame, user_ids=np.array(["a", "b", "c", "d"]))


def test_activity_segments_use_bin_edges():
    seg = segment_users(_activity_train())
    assert list(seg.cat.categories) == ["0–4", "5–19", "20–99", "100+"]
    assert seg.astype(str).to_dict() == {"a": "0–4", "b": "5–19", "c": "20–99", "d": "0–4"}
    custom = segment_users(_activity_train(), bins=[2])
    assert custom.astype(str).to_dict() == {"a": "0–1", "b": "2+", "c": "2+", "d": "0–1"}


def test_cold_vs_warm_users():
    seg = segment_users(_activity_train(), kind="cold", bins=[5])
    assert seg.astype(str).to_dict() == {
        "a": "cold (<5)",
        "b": "warm (≥5)",
        "c": "warm (≥5)",
        "d": "cold (<5)",
    }


@pytest.mark.parametrize("bins", [[0], [5, 5], [-1]])
def test_bad_bins_are_input_errors(bins):
    with pytest.raises(InputError, match="distinct positive"):
        segment_users(_activity_train(), bins=bins)


def test_item_popularity_head_mid_tail_by_cumulative_share():
    # interactions: x 6, y 3, z 1, w 0 (total 10). Share ahead of each item in popularity
    # order: x 0 -> head (< 0.5), y 0.6 -> mid (< 0.8), z 0.9 -> tail, w unseen -> tail
    frame = pd.DataFrame(
        {"user_id": [f"u{j}" for j in range(10)], "item_id": ["x"] * 6 + ["y"] * 3 + ["z"]}
    )
    inter = Interactions.from_frame(frame, item_ids=np.array(["w", "x", "y", "z"]))
    seg = segment_items(inter)
    assert seg.astype(str).to_dict() == {"w": "tail", "x": "head", "y": "mid", "z": "tail"}
    with pytest.raises(InputError, match="head < mid"):
        segment_items(inter, shares=(0.8, 0.5))


def test_item_category_segments_split_multi_valued_cells():
    feats = pd.DataFrame({"genres": ["A|B", "B", None]}, index=["x", "y", "z"])
    frame = pd.DataFrame({"user_id": ["u", "v"], "item_id": ["x", "y"]})
    inter = Interactions.from_frame(frame, item_features=feats)
    seg = segment_items(inter, kind="category", column="genres")
    assert sorted(zip(seg.index, seg, strict=True)) == [("x", "A"), ("x", "B"), ("y", "B")]
    with pytest.raises(InputError, match="item feature column"):
        segment_items(inter, kind="category", column="year")


def test_metrics_by_segment_means_by_hand():
    per_user = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "NDCG@10": [0.2, 0.4, 0.6, np.nan],
            "HitRate@10": [0, 1, 1, 1],
        }
    )
    segments = pd.Series(["low", "low", "high", "high"], index=["a", "b", "c", "d"])
    out = metrics_by_segment(per_user, segments).set_index(["segment", "metric"])
    assert out.loc[("low", "NDCG@10"), "mean"] == pytest.approx(0.3)
    assert out.loc[("low", "NDCG@10"), "n_users"] == 2
    # d's NaN is left out: high has one NDCG value, its interval is that value
    assert out.loc[("high", "NDCG@10"), "n_users"] == 1
    assert out.loc[("high", "NDCG@10"), "ci_low"] == pytest.approx(0.6)
    assert out.loc[("high", "HitRate@10"), "mean"] == 1.0
    low = out.loc[("low", "NDCG@10")]
    assert low["ci_low"] <= low["mean"] <= low["ci_high"]


def test_metrics_by_segment_keeps_models_apart():
    per_user = pd.DataFrame({"user_id": ["a", "a"], "model": ["m1", "m2"], "Recall@5": [0.0, 1.0]})
    out = metrics_by_segment(per_user, pd.Series(["s"], index=["a"]))
    assert out.set_index("model")["mean"].to_dict() == {"m1": 0.0, "m2": 1.0}


def test_recall_by_item_segment_by_hand():
    # train: u0 x, u1 y, u2 x y; test: u0 y z w, u1 x, u2 z
    rows = [
        ("u0", "x", 0),
        ("u1", "y", 0),
        ("u2", "x", 0),
        ("u2", "y", 0),
        ("u0", "y", 1),
        ("u0", "z", 1),
        ("u0", "w", 1),
        ("u1", "x", 1),
        ("u2", "z", 1),
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "t"])
    inter = Interactions.from_frame(frame[["user_id", "item_id"]])
    s = split(inter, Predefined(column="t"), is_test=frame["t"].astype(bool))
    segs = pd.Series(["pop", "pop", "niche", "niche"], index=["x", "y", "z", "w"])
    idx = inter.item_index
    # lists: u0 (y, z), u1 (y, z), u2 (x, w)
    top = np.array([idx(["y", "z"]), idx(["y", "z"]), idx(["x", "w"])])
    out = recall_by_item_segment(top, inter.user_index(["u0", "u1", "u2"]), s, segs, k=2)
    out = out.set_index("segment")
    # pop: u0 1/1, u1 0/1 (u2 has no relevant pop item) -> 0.5 over 2 users
    assert out.loc["pop", "mean"] == pytest.approx(0.5) and out.loc["pop", "n_users"] == 2
    # niche: u0 1/2 (z of z, w), u2 0/1 -> 0.25
    assert out.loc["niche", "mean"] == pytest.approx(0.25)


def test_recall_by_item_segment_counts_an_item_in_every_segment_it_belongs_to():
    """Multi-valued categories: z is both 'drama' and 'comedy'; a hit on z counts in both."""
    rows = [("u0", "x", 0), ("u1", "y", 0), ("u0", "z", 1), ("u0", "w", 1), ("u1", "z", 1)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "t"])
    inter = Interactions.from_frame(frame[["user_id", "item_id"]])
    s = split(inter, Predefined(column="t"), is_test=frame["t"].astype(bool))
    segs = pd.Series(["drama", "comedy", "comedy"], index=["z", "z", "w"])
    idx = inter.item_index
    top = np.array([idx(["z", "y"]), idx(["x", "w"])])  # u0 hits z; u1 misses z
    out = recall_by_item_segment(top, inter.user_index(["u0", "u1"]), s, segs, k=2)
    out = out.set_index("segment")
    # drama: u0 1/1, u1 0/1 -> 0.5; comedy: u0 1/2 (z of z, w), u1 0/1 -> 0.25
    assert out.loc["drama", "mean"] == pytest.approx(0.5) and out.loc["drama", "n_users"] == 2
    assert out.loc["comedy", "mean"] == pytest.approx(0.25) and out.loc["comedy", "n_users"] == 2
