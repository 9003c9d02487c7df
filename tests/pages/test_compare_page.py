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


def _frames(at: AppTest) -> list:
    return [d.value for d in at.dataframe]


def _metrics_table(at: AppTest):
    return next(f for f in _frames(at) if "NDCG@10" in f.columns)


def _tests_table(at: AppTest):
    return next(f for f in _frames(at) if "wilcoxon_p_holm" in f.columns)


def test_every_run_gets_a_row_with_intervals_and_pairs_are_tested(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = open_page("compare")
    assert not at.exception
    labels = {display_label(r) for r in workspace.runs.values()}
    table = _metrics_table(at)
    assert set(table.index) == labels
    assert CI_CELL.match(table.loc["item_knn (#2)", "NDCG@10"])
    assert [c for c in table.columns][:6] == [
        "Precision@5", "Recall@5", "NDCG@5", "MAP@5", "MRR@5", "HitRate@5"
    ]  # fmt: skip
    tests = _tests_table(at)
    assert len(tests) == 3  # every pair of three runs
    assert set(tests["model_a"]) | set(tests["model_b"]) == labels
    verdicts = [m.value for m in at.markdown if "Wilcoxon" in m.value]
    assert any("item_knn (#2) scores higher than most_popular (#1)" in v for v in verdicts)
    assert any("mix the full and the sampled" in w.value for w in at.warning)


def test_two_full_runs_have_no_protocol_warning_and_one_pair(
    open_page: Callable[[str], AppTest],
) -> None:
    at = open_page("compare")
    at.multiselect(key="compare_runs").set_value(["item_knn (#2)", "most_popular (#1)"]).run()
    assert not at.exception
    assert not [w for w in at.warning if "protocol" in w.value]
    assert len(_tests_table(at)) == 1
    assert set(_metrics_table(at).index) == {"item_knn (#2)", "most_popular (#1)"}


def test_catalogue_metric_has_no_per_user_test(open_page: Callable[[str], AppTest]) -> None:
    at = open_page("compare")
    at.selectbox(key="compare_metric").set_value("Coverage@10").run()
    assert not at.exception
    assert any("not per user" in i.value for i in at.info)
    assert not [f for f in _frames(at) if "wilcoxon_p_holm" in f.columns]


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
    table = _metrics_table(at)
    for metric in ("NDCG@10", "Recall@5", "MAP@10"):
        # same values; the bootstrap intervals differ a little as users come in another order
        ours, theirs = table.loc["my lists", metric], table.loc[display_label(run), metric]
        assert CI_CELL.match(ours) and ours.split(" [")[0] == theirs.split(" [")[0]
    tests = _tests_table(at)
    assert len(tests) == 6  # the upload joins the paired tests as a fourth model
    same = tests[(tests["model_a"] == display_label(run)) & (tests["model_b"] == "my lists")]
    assert same["mean_diff"].iloc[0] == 0.0


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
