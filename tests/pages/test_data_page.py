"""AppTest of the Data page against a real temporary SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db import Store
from recsys_core.jobs.datasets import list_datasets

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("RECSYS_DATABASE_URL", f"sqlite:///{tmp_path / 'page.db'}")
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "pages/data.py"), default_timeout=120)
    return at.run()


def test_empty_store_invites_an_upload_or_the_sample(app: AppTest) -> None:
    assert not app.exception
    assert any("Upload a CSV" in i.value for i in app.info)
    assert [b.label for b in app.button][:1] == ["Load the MovieLens latest-small sample"]


@pytest.mark.realdata
@pytest.mark.slow
def test_sample_button_imports_then_profile_and_clean_work(app: AppTest, tmp_path) -> None:
    app.button[0].click().run()
    assert not app.exception
    assert any("610 users, 9,724 items, 100,836 interactions" in s.value for s in app.success)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Users"] == "610" and metrics["Interactions"] == "100,836"

    app.selectbox(key="clean_dataset").set_value("movielens-small")
    recipe = app.selectbox[[s.label for s in app.selectbox].index("Recipe")]
    recipe.set_value("k-core").run()
    app.number_input(key="recipe_k-core_min_user").set_value(20)
    app.button(key="FormSubmitter:recipe_k-core-Apply as a new version").click().run()
    assert not app.exception
    assert any("Created version 2" in s.value for s in app.success)
    store = Store(f"sqlite:///{tmp_path / 'page.db'}")
    ((_, versions),) = list_datasets(store)
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].n_users < 610 and versions[1].recipe["steps"][0]["min_user"] == 20
