"""Explain and Preview pages give each family's own reason; runs store them; exports carry them."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db import Store
from db.runs import Run, RunRepository
from recsys_core.columns import Columns
from recsys_core.data.samples import synthetic
from recsys_core.export import export_table
from recsys_core.jobs.analysis import display_label
from recsys_core.jobs.context import explain_run
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.runs import load_model, parse_spec, train
from recsys_core.models.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
#: Every registered family: its (small) parameters and a phrase its reasons say.
FAMILIES = {
    "most_popular": ({}, "Popular with everyone"),
    "random": ({}, "Drawn at random"),
    "item_knn": ({}, "Because you rated *"),
    "user_knn": ({}, "Because you rated *"),
    "rp3beta": ({}, "Because you rated *"),
    "slim": ({}, "Because you rated *"),
    "ials": ({}, "Because you rated *"),
    "multvae": ({"epochs": 2}, "Because you rated *"),
    "ease": ({}, "Because you rated *"),
    "als": ({}, "Because you rated *"),
    "bpr": ({}, "Because you rated *"),
    "bias": ({}, "the average of"),
    "content": ({"text_dim": 8}, "Because you rated *"),
    "hybrid": (
        {"components": ["item_knn:0.6", "most_popular:0.4"], "normalisation": "rank"},
        "Mostly from its *",
    ),
    "neumf": ({"epochs": 2}, "Because you rated *"),
    "two_tower": ({"epochs": 2}, "Because you rated *"),
    "fusion": ({"epochs": 2, "text_dim": 8}, "Mostly its "),
    "ranker": (
        {"generators": ["item_knn", "most_popular"], "n_candidates": 20, "n_estimators": 10},
        "Ranked by its features: *",
    ),
}


def test_every_registered_family_is_covered() -> None:
    assert set(FAMILIES) == set(REGISTRY)


@pytest.fixture(scope="module")
def families(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict[str, Run]]:
    home = tmp_path_factory.mktemp("families_home")
    url = f"sqlite:///{home / 'f.db'}"
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSYS_HOME", str(home))
        store = Store(url)
        import_dataset(store, "syn", synthetic(150, 80, 3000, seed=3))
        for name, (params, _) in FAMILIES.items():
            spec = {"dataset": "syn", "model": name, "params": params, "ks": [10]}
            run = train(store, parse_spec({**spec, "n_recommendations": 10}))
            assert run.status == "done", run.error
            runs[name] = run
        store.dispose()
    return url, home, runs


@pytest.fixture
def page(
    families: tuple[str, Path, dict[str, Run]], monkeypatch: pytest.MonkeyPatch
) -> tuple[Store, dict[str, Run]]:
    url, home, runs = families
    monkeypatch.setenv("RECSYS_DATABASE_URL", url)
    monkeypatch.setenv("RECSYS_HOME", str(home))
    st.cache_resource.clear()
    st.cache_data.clear()
    store = Store(url)
    yield store, runs
    store.dispose()


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_explain_page_shows_the_familys_reason_for_each_recommendation(
    name: str, page: tuple[Store, dict[str, Run]]
) -> None:
    store, runs = page
    at = AppTest.from_file(str(ROOT / "pages" / "explain.py"), default_timeout=90).run()
    at.selectbox(key="explain_run").set_value(display_label(runs[name])).run()
    assert not at.exception
    user = at.selectbox(key="explain_user").value
    entries = [m.value for m in at.markdown if m.value.startswith("**") and "(score" in m.value]
    assert len(entries) == 5
    recs = load_model(runs[name], store).recommend([user], 5)
    expected = explain_run(store, runs[name], user, recs[Columns.item].tolist())
    for entry, expl in zip(entries, expected, strict=True):
        assert entry.endswith(expl.sentence) and FAMILIES[name][1] in expl.sentence


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_runs_store_reasons_for_the_top_of_each_list_and_exports_carry_them(
    name: str, page: tuple[Store, dict[str, Run]]
) -> None:
    store, runs = page
    with store.session() as s:
        recs = RunRepository(s).recommendations(runs[name].id)
    top = recs[recs["rank"] <= 3]
    assert top["reason"].notna().all()
    assert top["reason"].str.contains(FAMILIES[name][1].replace("*", ""), regex=False).mean() > 0.5
    assert recs.loc[recs["rank"] > 3, "reason"].isna().all()
    table = export_table(store, [runs[name].id], 3, explanations=True)
    merged = table.merge(top, left_on=[Columns.user, Columns.item], right_on=["user_id", "item_id"])
    assert len(merged) == len(table) and (merged["reason_x"] == merged["reason_y"]).all()


def test_preview_toggle_explains_every_familys_list(page: tuple[Store, dict[str, Run]]) -> None:
    _, runs = page
    at = AppTest.from_file(str(ROOT / "pages" / "preview.py"), default_timeout=90).run()
    chosen = ["two_tower", "bias", "hybrid", "random"]
    at.multiselect(key="preview_runs").set_value([display_label(runs[n]) for n in chosen])
    at.toggle(key="preview_explain").set_value(True).run()
    assert not at.exception
    tables = [d.value for d in at.dataframe if "why" in d.value.columns]
    assert len(tables) == len(chosen)
    for name, table in zip(chosen, tables, strict=True):
        phrase = FAMILIES[name][1].replace("*", "")
        assert table["why"].str.len().gt(20).all()
        assert table["why"].str.contains(phrase, regex=False).mean() > 0.5, (name, table["why"])
