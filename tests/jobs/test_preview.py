"""Helpers behind Compare, Preview and Export, on hand-built splits and a real SQLite store."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from db import Store
from db.runs import Run
from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.data.samples import synthetic
from recsys_core.errors import InputError
from recsys_core.jobs import compare as cmp
from recsys_core.jobs import context as ctx
from recsys_core.jobs import preview as pv
from recsys_core.jobs import selection as sel
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.runs import RunSpec, parse_spec, train
from recsys_core.splitting import RandomHoldout, Split

C = Columns


@pytest.fixture
def tiny() -> Split:
    """u1: 2 train (a, b), test c; u2: 6 train (a..f... minus c), test c and g; u3 train only."""
    rows = [
        ("u1", "a", 100, False), ("u1", "b", 300, False), ("u1", "c", 400, True),
        *[("u2", i, 10 * n, False) for n, i in enumerate("abdefh")],
        ("u2", "c", 500, True), ("u2", "g", 600, True), ("u3", "a", 50, False),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=[C.user, C.item, C.timestamp, "test"])
    features = pd.DataFrame(
        {"title": [f"Title {i}" for i in "abcdefgh"], "genres": [["x", "y"]] + [["z"]] * 7},
        index=pd.Index(list("abcdefgh"), name=C.item),
    )
    inter = Interactions.from_frame(frame, item_features=features)
    test = frame["test"].to_numpy()
    return Split(inter.subset(~test), inter.subset(test), None, RandomHoldout())


def test_user_view_history_latest_first_with_metadata_lists_joined(tiny: Split) -> None:
    view = pv.user_view(tiny, "u1")
    assert view.history[C.item].tolist() == ["b", "a"]
    assert view.history["title"].tolist() == ["Title b", "Title a"]
    assert view.history["genres"].tolist() == ["z", "x, y"]
    assert view.history[C.timestamp].iloc[0] == pd.Timestamp(300, unit="s")
    assert view.held_out[C.item].tolist() == ["c"] and view.relevant == {"c"}


def test_user_view_unknown_user_and_user_without_test_items_are_explained(tiny: Split) -> None:
    with pytest.raises(InputError, match="No user 'ghost' in this dataset"):
        pv.user_view(tiny, "ghost")
    with pytest.raises(InputError, match="'u3' has no held-out interactions"):
        pv.user_view(tiny, "u3")


def test_user_lists_cut_at_k_and_mark_only_held_out_items(tiny: Split) -> None:
    recs = pd.DataFrame(
        {
            C.user: ["u2", "u2", "u2", "u1"],
            C.item: ["g", "a", "c", "c"],
            C.score: [3.0, 2.0, 1.0, 9.0],
            C.rank: [1, 2, 3, 1],
        }
    )
    view = pv.user_view(tiny, "u2")
    lists = pv.user_lists({"m": recs}, view, 2, tiny.train.item_features)
    assert lists["m"][[C.rank, "hit", C.item]].values.tolist() == [[1, "✓", "g"], [2, "", "a"]]
    assert lists["m"]["title"].tolist() == ["Title g", "Title a"]
    u1_list = pv.user_lists({"m": recs}, pv.user_view(tiny, "u1"), 5)["m"]
    assert u1_list["hit"].tolist() == ["✓"] and "title" not in u1_list  # no features given


def test_list_overlap_jaccard_and_counts_by_hand() -> None:
    ov = pv.list_overlap({"a": ["1", "2", "3"], "b": ["2", "3", "4"], "c": []})
    assert ov.jaccard.loc["a", "b"] == pytest.approx(2 / 4)
    assert ov.jaccard.loc["a", "a"] == 1.0 and ov.shared.loc["a", "a"] == 3
    assert ov.shared.loc["b", "a"] == 2 and ov.shared.loc["a", "c"] == 0
    assert ov.jaccard.loc["a", "c"] == 0.0 and np.isnan(ov.jaccard.loc["c", "c"])


def test_metric_order_is_cutoff_then_accuracy_families_first() -> None:
    labels = ["Coverage@5", "NDCG@10", "Recall@5", "Precision@5", "Odd@5", "Precision@10"]
    assert cmp.metric_order(labels) == [
        "Precision@5", "Recall@5", "Coverage@5", "Odd@5", "Precision@10", "NDCG@10"
    ]  # fmt: skip
    assert cmp.is_beyond("Novelty@10") and not cmp.is_beyond("MAP@10")


def test_metrics_with_ci_formats_value_and_interval_and_leaves_missing_blank() -> None:
    long = pd.DataFrame(
        {
            "run": [1, 1, 2],
            "label": ["b (#1)", "b (#1)", "a (#2)"],
            "metric": ["NDCG@10", "Coverage@10", "NDCG@10"],
            "value": [0.31249, 0.5, 0.2],
            "ci_low": [0.2981, np.nan, 0.1],
            "ci_high": [0.3266, np.nan, 0.3],
        }
    )
    wide = cmp.metrics_with_ci(long)
    assert list(wide.index) == ["b (#1)", "a (#2)"]
    assert list(wide.columns) == ["NDCG@10", "Coverage@10"]
    assert wide.loc["b (#1)", "NDCG@10"] == "0.312 [0.298, 0.327]"
    assert wide.loc["b (#1)", "Coverage@10"] == "0.500"
    assert wide.loc["a (#2)", "Coverage@10"] == ""


def _tests_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model_a": ["A", "A", "B"],
            "model_b": ["B", "C", "C"],
            "n_users": [100, 100, 1],
            "mean_diff": [-0.05, 0.01, 0.2],
            "wilcoxon_p_holm": [0.003, 0.4, np.nan],
        }
    )


def test_pvalue_matrix_is_symmetric_with_empty_diagonal() -> None:
    m = cmp.pvalue_matrix(_tests_frame())
    assert list(m.index) == ["A", "B", "C"]
    assert m.loc["A", "B"] == m.loc["B", "A"] == 0.003 and m.loc["C", "A"] == 0.4
    assert np.isnan(np.diag(m.to_numpy())).all()


def test_significance_sentences_name_the_winner_only_below_alpha() -> None:
    lines = cmp.significance_sentences(_tests_frame(), "NDCG@10")
    assert lines[0].startswith("B scores higher than A, significant at 0.05")
    assert lines[1].startswith("A vs C: no significant difference at 0.05")
    assert lines[2].startswith("B vs C: too few users to test")


def test_held_out_users_numeric_ids_in_numeric_order_then_text(tiny: Split) -> None:
    assert pv.held_out_users(tiny) == ["u1", "u2"]
    users = ["10", "2", "b", "1", "a", "10", "2"]
    frame = pd.DataFrame({C.user: users, C.item: ["x", "x", "x", "x", "x", "y", "y"]})
    inter = Interactions.from_frame(frame)
    test = np.array([True, True, True, True, True, False, False])
    parts = Split(inter.subset(~test), inter.subset(test), None, RandomHoldout())
    assert pv.held_out_users(parts) == ["1", "2", "10", "a", "b"]


def test_find_users_case_insensitive_with_the_exact_match_first() -> None:
    users = ["1", "2", "10", "12", "112", "B"]
    assert pv.find_users(users, " 12 ") == ["12", "112"]
    assert pv.find_users(users, "b") == ["B"] and pv.find_users(users, "") == users
    assert pv.find_users(users, "1", limit=2) == ["1", "10"]


def test_parse_user_ids_splits_on_commas_semicolons_whitespace_and_dedupes() -> None:
    assert sel.parse_user_ids("a, b;c\n d\ta ,") == ["a", "b", "c", "d"]
    assert sel.parse_user_ids("") == []
    table = pd.DataFrame({C.user: ["a", "b"]})
    assert sel.unmatched_ids(table, ["a", "x", "b", "y"]) == ["x", "y"]


def test_activity_groups_hold_only_test_users_in_their_bucket(tiny: Split) -> None:
    # train interactions: u1 2 (0–4), u2 6 (5–19), u3 1 but not a test user
    assert sel.activity_groups(tiny) == {"0–4": ["u1"], "5–19": ["u2"]}


def test_score_external_by_hand_with_a_missing_list_scoring_zero(tiny: Split) -> None:
    table = pd.DataFrame({C.user: ["u1", "u1"], C.item: ["a", "c"], C.score: [2.0, 1.0]})
    spec = RunSpec(dataset="x", model="most_popular", ks=[2], seed=1)
    ext = cmp.score_external(table, tiny, spec, "mine")
    values = ext.metrics.set_index("metric")["value"]
    # u1: the one relevant item at rank 2 -> (1/log2 3) / 1; u2 has no list -> 0
    assert values["NDCG@2"] == pytest.approx((1 / np.log2(3)) / 2)
    assert values["Recall@2"] == pytest.approx((1 + 0) / 2)
    assert set(ext.metrics["label"]) == {"mine"} and set(ext.metrics["run"]) == {-1}
    assert (ext.n_listed, ext.n_test_users) == (1, 2)
    assert ext.per_user.loc["u2", "NDCG@2"] == 0.0


def test_score_external_missing_columns_raise_input_error(tiny: Split) -> None:
    spec = RunSpec(dataset="x", model="most_popular", ks=[2])
    with pytest.raises(InputError, match="score"):
        cmp.score_external(pd.DataFrame({C.user: ["u1"], C.item: ["a"]}), tiny, spec, "mine")


# --------------------------------------------------------------------------- with real runs
@pytest.fixture
def runs(sqlite_store: Store) -> dict[str, Run]:
    import_dataset(sqlite_store, "syn", synthetic(120, 60, 2400, seed=3))
    base = {"dataset": "syn", "ks": [5, 10], "seed": 4}
    out = {}
    for label, extra in [
        ("pop", {"model": "most_popular", "n_recommendations": 15}),
        ("knn", {"model": "item_knn", "n_recommendations": 8}),
        ("pop-s", {"model": "most_popular", "protocol": "sampled"}),
        ("pop-seed", {"model": "most_popular", "seed": 5}),
    ]:
        out[label] = train(sqlite_store, parse_spec({**base, **extra, "label": label}))
        assert out[label].status == "done", out[label].error
    return out


def test_run_split_recomputes_the_test_users_the_run_stored_lists_for(
    sqlite_store: Store, runs: dict[str, Run]
) -> None:
    run = runs["knn"]
    parts = ctx.run_split(sqlite_store, run)
    recs = pv.run_recommendations(sqlite_store, run.id)
    assert set(recs[C.user]) == set(pv.held_out_users(parts))
    assert parts.test.n_interactions == run.summary["n_test"]
    assert ctx.split_key(run) == ctx.split_key(runs["pop"]) != ctx.split_key(runs["pop-seed"])
    assert sel.stored_top_n([runs["pop"], runs["knn"]]) == 8


def test_run_recommendations_for_some_users_are_their_rows_of_the_whole_table(
    sqlite_store: Store, runs: dict[str, Run]
) -> None:
    run = runs["pop"]
    full = pv.run_recommendations(sqlite_store, run.id)
    users = pv.held_out_users(ctx.run_split(sqlite_store, run))[:3]
    mine = pv.run_recommendations(sqlite_store, run.id, users=users[::-1])
    want = full[full[C.user].isin(users)].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, want)
    assert len(mine) == 3 * 15 and mine[C.rank].tolist() == list(range(1, 16)) * 3
    ghost = pv.run_recommendations(sqlite_store, run.id, users=["ghost"])
    assert ghost.empty and list(ghost.columns) == list(full.columns)


def test_protocol_notes_warn_on_mixed_protocols_and_splits_only(runs: dict[str, Run]) -> None:
    assert cmp.protocol_notes([runs["pop"], runs["knn"]]) == []
    mixed = cmp.protocol_notes([runs["pop"], runs["pop-s"]])
    assert "mix the full and the sampled" in mixed[0] and mixed[1:] == [cmp.SAMPLED_BIAS]
    seeds = cmp.protocol_notes([runs["pop"], runs["pop-seed"]])
    assert len(seeds) == 1 and "different splits" in seeds[0]


def test_protocol_notes_say_when_sampled_ranking_reorders_the_models(runs: dict[str, Run]) -> None:
    def with_ndcg(run: Run, value: float, model: str, protocol: str) -> Run:
        spec = {**run.spec, "protocol": protocol}
        return replace(run, model=model, spec=spec, summary={"metrics": {"NDCG@10": value}})

    full = [with_ndcg(runs["pop"], 0.30, "A", "full"), with_ndcg(runs["pop"], 0.20, "B", "full")]
    same = [
        with_ndcg(runs["pop"], 0.5, "A", "sampled"),
        with_ndcg(runs["pop"], 0.4, "B", "sampled"),
    ]
    flip = [
        with_ndcg(runs["pop"], 0.5, "A", "sampled"),
        with_ndcg(runs["pop"], 0.6, "B", "sampled"),
    ]
    assert not any("ranks the models differently" in n for n in cmp.protocol_notes(full + same))
    notes = cmp.protocol_notes(full + flip)
    assert any("full A > B, sampled B > A" in n for n in notes)


def test_largest_segments_keep_the_biggest_in_original_order() -> None:
    rows = pd.DataFrame(
        {"segment": ["s1", "s2", "s3", "s1", "s2", "s3"], "n_users": [1, 5, 3, 1, 5, 3]}
    )
    assert cmp.largest_segments(rows, 2)["segment"].tolist() == ["s2", "s3", "s2", "s3"]
    assert len(cmp.largest_segments(rows, 3)) == 6
