"""AppTest of the Data page: the datasets table and version pickers are current right after an
import or a cleaning (they used to lag one click behind), and the outcome is still shown."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db import Store
from recsys_core.data.samples import synthetic
from recsys_core.jobs.datasets import import_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    url = f"sqlite:///{tmp_path / 'data.db'}"
    monkeypatch.setenv("RECSYS_DATABASE_URL", url)
    monkeypatch.setenv("RECSYS_HOME", str(tmp_path))
    st.cache_resource.clear()
    st.cache_data.clear()
    s = Store(url)
    import_dataset(s, "syn", synthetic(200, 100, 4000, seed=3))
    return s


def _overview(at: AppTest) -> dict[str, int]:
    """Dataset name -> number of versions, from the table at the top of the page."""
    table = at.dataframe[0].value
    return dict(zip(table["dataset"], table["versions"], strict=True))


def test_the_table_shows_an_import_at_once(store: Store) -> None:
    at = AppTest.from_file(str(ROOT / "pages/data.py"), default_timeout=180).run()
    assert _overview(at) == {"syn": 1}
    next(b for b in at.button if b.label.startswith("Load the MovieLens")).click().run()
    assert not at.exception, at.exception
    assert _overview(at) == {"syn": 1, "movielens-small": 1}  # in the same click
    assert any(s.value.startswith("Imported **movielens-small**") for s in at.success)


def test_a_cleaning_shows_its_version_at_once(store: Store) -> None:
    at = AppTest.from_file(str(ROOT / "pages/data.py"), default_timeout=180).run()
    next(b for b in at.button if b.label == "Apply as a new version").click().run()
    assert not at.exception, at.exception
    assert _overview(at) == {"syn": 2}
    assert any(s.value == "Created version 2 of syn." for s in at.success)
    versions = at.selectbox(key="clean_version").options
    assert len(versions) == 2 and versions[-1].startswith("v2 (cleaned")
    at.run()  # the outcome is shown once, not on every later run
    assert not [s for s in at.success if s.value.startswith("Created version")]
