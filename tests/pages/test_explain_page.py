"""AppTest of the Explain page on a real store: reasons per user and item, global sections."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db import Store
from recsys_core.columns import Columns
from recsys_core.data.samples import synthetic
from recsys_core.export import export_table
from recsys_core.jobs.analysis import display_label
from recsys_core.jobs.context import explain_run, run_split
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.preview import held_out_users
from recsys_core.jobs.runs import load_model, parse_spec, train

if TYPE_CHECKING:
    from tests.pages.conftest import Workspace

ROOT = Path(__file__).resolve().parents[2]


def _open_for(open_page: Callable[[str], AppTest], workspace: Workspace, run: str) -> AppTest:
    at = open_page("explain")
    at.selectbox(key="explain_run").set_value(display_label(workspace.runs[run]))
    return at.run()


def _markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_item_knn_run_explains_each_recommendation_from_history(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = _open_for(open_page, workspace, "item_knn")
    assert not at.exception
    user = at.selectbox(key="explain_user").value
    entries = [m for m in _markdown(at) if m.startswith("**") and ". " in m and "(score" in m]
    assert len(entries) == 5
    assert all("Because you rated *" in m for m in entries)
    store = workspace.store()
    run = workspace.runs["item_knn"]
    model = load_model(run, store)
    recs = model.recommend([user], 5)
    expected = explain_run(store, run, user, recs[Columns.item].tolist())
    store.dispose()
    for entry, expl in zip(entries, expected, strict=True):
        assert entry.endswith(expl.sentence)
    infos = " ".join(i.value for i in at.info)
    assert "does not use item features" in infos and "no item vectors" in infos


def test_picking_an_item_and_user_updates_the_detail(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = _open_for(open_page, workspace, "item_knn")
    store = workspace.store()
    users = held_out_users(run_split(store, workspace.runs["item_knn"]))
    store.dispose()
    at.text_input(key="explain_q").set_value(users[1])
    at.run()
    assert at.selectbox(key="explain_user").value == users[1]
    item = at.selectbox(key="explain_item").options[3]
    at.selectbox(key="explain_item").set_value(item).run()
    assert not at.exception
    assert any(m.endswith(".") and "score" in m and m.startswith("**") for m in _markdown(at))


def test_most_popular_run_gives_the_popularity_reason(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = _open_for(open_page, workspace, "most_popular")
    assert not at.exception
    assert any("Popular with everyone: in the top " in m for m in _markdown(at))


def test_unknown_typed_user_shows_an_error_not_a_traceback(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = _open_for(open_page, workspace, "item_knn")
    at.text_input(key="explain_q").set_value("no-such-user-xyz").run()
    assert not at.exception
    assert any("no-such-user-xyz" in e.value for e in at.error)


@pytest.fixture(scope="module")
def content_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A store of its own with one content run, so the shared workspace's runs stay as they are."""
    home = tmp_path_factory.mktemp("explain_home")
    url = f"sqlite:///{home / 'c.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSYS_HOME", str(home))
        store = Store(url)
        import_dataset(store, "syn", synthetic(120, 60, 1500, seed=2))
        spec = {"dataset": "syn", "model": "content", "params": {"text_dim": 8}, "ks": [10]}
        run = train(store, parse_spec({**spec, "n_recommendations": 10}))
        assert run.status == "done", run.error
        store.dispose()
    return url, home


def test_content_run_computes_importance_and_draws_the_map(
    content_home: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, home = content_home
    monkeypatch.setenv("RECSYS_DATABASE_URL", url)
    monkeypatch.setenv("RECSYS_HOME", str(home))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "pages" / "explain.py"), default_timeout=60).run()
    assert not at.exception
    assert any("It matches your interest in *" in m for m in _markdown(at))
    at.number_input(key="explain_repeats").set_value(2)
    at.selectbox(key="explain_color").set_value("category")
    at.button(key="explain_importance").click().run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "mean_drop" in d.value.columns)
    assert set(table["group"]) >= {"text", "categorical"}
    assert len(at.get("plotly_chart")) >= 3  # item detail, importance and the map


def test_preview_toggle_adds_a_reason_per_listed_item(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = open_page("preview")
    runs = [display_label(workspace.runs[n]) for n in ("most_popular", "item_knn")]
    at.multiselect(key="preview_runs").set_value(runs)
    at.toggle(key="preview_explain").set_value(True).run()
    assert not at.exception
    popular, knn = [d.value for d in at.dataframe if "why" in d.value.columns]
    assert len(popular) == len(knn) == 10
    assert popular["why"].str.startswith("Popular with everyone").all()
    assert knn["why"].str.startswith("Because you rated").all()
    assert not knn["why"].str.contains(r"\*").any()  # plain text, no Markdown marks


def test_export_with_explanations_adds_the_plain_reason(workspace: Workspace) -> None:
    store = workspace.store()
    run = workspace.runs["item_knn"]
    user = held_out_users(run_split(store, run))[0]
    plain = export_table(store, [run.id], 3, [user])
    table = export_table(store, [run.id], 3, [user], explanations=True)
    store.dispose()
    assert "reason" not in plain.columns
    assert table.drop(columns="reason").equals(plain)
    assert len(table) == 3 and table["reason"].str.startswith("Because you rated ").all()


@pytest.fixture(scope="module")
def ranker_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, str]:
    """A store of its own with one two-stage ranker run (tiny, so SHAP stays quick)."""
    home = tmp_path_factory.mktemp("explain_ranker_home")
    url = f"sqlite:///{home / 'r.db'}"
    params = {"generators": ["item_knn", "most_popular"], "n_candidates": 20, "n_estimators": 10}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSYS_HOME", str(home))
        store = Store(url)
        import_dataset(store, "syn", synthetic(200, 100, 4000))
        spec = {"dataset": "syn", "model": "ranker", "params": params, "ks": [10]}
        run = train(store, parse_spec({**spec, "n_recommendations": 10}))
        assert run.status == "done", run.error
        store.dispose()
    return url, home, display_label(run)


def test_ranker_run_gives_shap_reasons_and_the_shap_section(
    ranker_home: tuple[str, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, home, label = ranker_home
    monkeypatch.setenv("RECSYS_DATABASE_URL", url)
    monkeypatch.setenv("RECSYS_HOME", str(home))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "pages" / "explain.py"), default_timeout=120).run()
    at.selectbox(key="explain_run").set_value(label).run()
    assert not at.exception
    entries = [m for m in _markdown(at) if m.startswith("**") and "(score" in m]
    assert len(entries) == 5
    assert all("Ranked by its features: *" in m for m in entries)
    assert not [m for m in _markdown(at) if "moves the ranker's score the most" in m]
    at.button(key="explain_shap").click().run()
    assert not at.exception
    sentence = next(m for m in _markdown(at) if "moves the ranker's score the most" in m)
    features = at.selectbox(key="explain_dep").options
    assert sentence.startswith(f"**{features[0]}**")
    table = next(d.value for d in at.dataframe if "mean_abs_shap" in d.value.columns)
    assert table["feature"].tolist() == features
    assert table["mean_abs_shap"].is_monotonic_decreasing and (table["mean_abs_shap"] >= 0).all()
    assert str(table.set_index("feature").loc["rank_item_knn", "meaning"]).startswith("User x")
    assert (table["meaning"] != "").all(), table  # every feature the ranker uses is described
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("mean |SHAP|" in s for s in specs)  # the bar chart of mean |SHAP| per feature
    at.selectbox(key="explain_dep").set_value(features[-1]).run()  # survives a rerun
    assert not at.exception
    assert any(f"SHAP value of {features[-1]}" in c.proto.spec for c in at.get("plotly_chart"))


def test_contribution_charts_use_a_categorical_axis_of_names(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    """Item ids that look like numbers must not become a continuous axis (hairline bars)."""
    import json

    at = _open_for(open_page, workspace, "item_knn")
    assert not at.exception
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    bars = [c for c in charts if c["data"] and c["data"][0].get("orientation") == "h"]
    assert bars
    for chart in bars:
        assert chart["layout"]["yaxis"]["type"] == "category"
        assert all(isinstance(name, str) for name in chart["layout"]["yaxis"]["categoryarray"])
