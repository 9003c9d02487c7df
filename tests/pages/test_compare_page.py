"""AppTest of the Compare page on a real SQLite store with three finished runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from streamlit.testing.v1 import AppTest

from db.runs import RunRepository
from recsys_core.export import to_parquet_bytes
from recsys_core.jobs.analysis import display_label

if TYPE_CHECKING:
    from tests.pages.conftest import Workspace

CI_CELL = re.compile(r"^\d+\.\d{3} \[\d+\.\d{3}, \d+\.\d{3}\]$")
P_CELL = re.compile(r"^(< 1e-16|\d(\.\d+)?(e-\d\d)?|0\.\d+)$")


def _frames(at: AppTest) -> list:
    return [d.value for d in at.dataframe]


def _leaderboard(at: AppTest):
    return next(f for f in _frames(at) if "run" in f.columns and "duration" in f.columns)


def _versus_table(at: AppTest):
    return next(f for f in _frames(at) if "verdict" in f.columns)


def _group_table(at: AppTest, metric: str):
    return next(f for f in _frames(at) if metric in f.columns and "run" not in f.columns)


def test_leaderboard_puts_the_primary_metric_first_and_marks_the_best(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = open_page("compare")
    assert not at.exception
    labels = {display_label(r) for r in workspace.runs.values()}
    board = _leaderboard(at)
    assert set(board["run"]) == labels
    assert list(board.columns)[:3] == ["", "run", "NDCG@10"]
    assert all(CI_CELL.match(c) for c in board["NDCG@10"])
    values = [float(c.split(" ")[0]) for c in board["NDCG@10"]]
    assert values == sorted(values, reverse=True)  # best first
    assert board[""].iloc[0] == "★" and "★" not in set(board[""].iloc[1:])
    assert all(re.match(r"^[\d.]+ s$|^\d+ min \d\d s$", d) for d in board["duration"])
    # warnings come before the leaderboard: the sampled run's caveat cites the paper
    assert any("mix the full and the sampled" in w.value for w in at.warning)
    assert any("Krichene & Rendle" in w.value for w in at.warning)


def test_other_metric_becomes_first_and_best_is_tested_against_the_rest(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = open_page("compare")
    at.selectbox(key="compare_metric").set_value("Recall@5").run()
    assert not at.exception
    board = _leaderboard(at)
    assert list(board.columns)[2] == "Recall@5"
    best = board["run"].iloc[0]
    versus = _versus_table(at)
    assert best not in set(versus["run"]) and len(versus) == 2
    assert set(versus["verdict"]) <= {"indistinguishable", "better", "worse", "too few users"}
    assert all(P_CELL.match(p) for p in versus["p"])
    (summary,) = [m.value for m in at.markdown if m.value.startswith("Against **")]
    assert best in summary and "Recall@5" in summary
    at.toggle(key="compare_all_pairs").set_value(True).run()
    pairs = next(f for f in _frames(at) if "p (Holm)" in f.columns)
    assert len(pairs) == 3 and all(P_CELL.match(p) for p in pairs["p (Holm)"])


def test_metric_groups_by_family_and_k(open_page: Callable[[str], AppTest]) -> None:
    at = open_page("compare")
    names = [e.label for e in at.expander if e.label.startswith("All metrics")]
    assert names[:2] == ["All metrics: accuracy @5", "All metrics: accuracy @10"]
    assert "All metrics: beyond accuracy @10" in names
    table = _group_table(at, "Precision@5")
    assert list(table.columns) == [
        "Precision@5", "Recall@5", "NDCG@5", "MAP@5", "MRR@5", "HitRate@5"
    ]  # fmt: skip


def test_two_full_runs_have_no_protocol_warning_and_one_test(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    full = [display_label(workspace.runs[n]) for n in ("item_knn", "most_popular")]
    at = open_page("compare")
    at.multiselect(key="compare_runs").set_value(full).run()
    assert not at.exception
    assert not [w for w in at.warning if "protocol" in w.value]
    assert len(_versus_table(at)) == 1
    assert set(_leaderboard(at)["run"]) == set(full)


def test_uploaded_copy_of_a_run_scores_exactly_like_the_run(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    run = workspace.runs["most_popular"]
    with workspace.store().session() as s:
        recs = RunRepository(s).recommendations(run.id)
    at = open_page("compare")
    at.selectbox(key="compare_ref").set_value(display_label(run))
    at.text_input(key="compare_name").set_value("my lists")
    at.file_uploader(key="cmp_up").set_value(
        ("lists.parquet", to_parquet_bytes(recs), "application/octet-stream")
    )
    at.run()
    assert not at.exception, at.exception
    (done,) = [
        m for s in at.success if (m := re.search(r"lists for ([\d,]+) of ([\d,]+)", s.value))
    ]
    assert done.group(1) == done.group(2)  # a copy of the run lists every test user
    for metric in ("NDCG@10", "Recall@5", "MAP@10"):
        # same values; the bootstrap intervals differ a little as users come in another order
        table = _group_table(at, metric)
        ours, theirs = table.loc["my lists", metric], table.loc[display_label(run), metric]
        assert CI_CELL.match(ours) and ours.split(" [")[0] == theirs.split(" [")[0]
    at.selectbox(key="compare_baseline").set_value(display_label(run)).run()
    versus = _versus_table(at)
    assert len(versus) == 3  # the upload joins the tests as a fourth model
    same = versus[versus["run"] == "my lists"]
    assert same["difference"].iloc[0] == 0.0 and same["verdict"].iloc[0] == "indistinguishable"


def test_upload_without_score_or_rank_explains_the_fix(
    open_page: Callable[[str], AppTest],
) -> None:
    at = open_page("compare")
    at.file_uploader(key="cmp_up").set_value(("lists.csv", b"user_id,item_id\n1,2\n", "text/csv"))
    at.run()
    assert not at.exception
    assert any("'score'" in e.value and "'rank'" in e.value for e in at.error)


def test_no_run_chosen_asks_for_one(open_page: Callable[[str], AppTest]) -> None:
    at = open_page("compare")
    at.multiselect(key="compare_runs").set_value([]).run()
    assert not at.exception
    assert any(i.value == "Pick at least one run." for i in at.info)
    assert not [f for f in _frames(at) if "NDCG@10" in f.columns]


def test_catalogue_metric_has_no_per_user_test(open_page: Callable[[str], AppTest]) -> None:
    at = open_page("compare")
    at.selectbox(key="compare_metric").set_value("Coverage@10").run()
    assert not at.exception
    assert any("not per user" in i.value for i in at.info)
    assert not [f for f in _frames(at) if "verdict" in f.columns]


def test_cold_item_split_runs_get_a_note_for_collaborative_models(tmp_path, monkeypatch) -> None:
    import streamlit as st

    from db import Store
    from recsys_core.data.samples import synthetic
    from recsys_core.jobs import runs as jobs
    from recsys_core.jobs.datasets import import_dataset

    url = f"sqlite:///{tmp_path / 'cold.db'}"
    monkeypatch.setenv("RECSYS_DATABASE_URL", url)
    monkeypatch.setenv("RECSYS_HOME", str(tmp_path))
    st.cache_resource.clear()
    st.cache_data.clear()
    store = Store(url)
    import_dataset(store, "cold", synthetic(300, 200, 9000, seed=11))
    split = {"kind": "item_holdout", "test_item_fraction": 0.2}
    for model in ("content", "item_knn"):
        jobs.train(store, jobs.parse_spec({"dataset": "cold", "model": model, "split": split}))
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[2]
    app = AppTest.from_file(str(root / "pages/compare.py"), default_timeout=120).run()
    assert not app.exception
    notes = [i.value for i in app.info]
    assert any("item_knn" in n and "cannot recommend items" in n for n in notes)
    assert not any(n.startswith("content") for n in notes)
