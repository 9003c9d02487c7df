"""The Data page refuses dataset names with control characters, as the CLI does (issue 11)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from db import Store
from recsys_core.jobs.datasets import list_datasets

ROOT = Path(__file__).resolve().parents[2]


def test_synthetic_dataset_named_with_an_escape_code_is_refused(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'page.db'}"
    monkeypatch.setenv("RECSYS_DATABASE_URL", url)
    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(str(ROOT / "pages/data.py"), default_timeout=120).run()
    for box, value in zip(app.number_input[:3], (20, 20, 200), strict=True):
        box.set_value(value)  # users, items, interactions: small, for speed
    name = next(t for t in app.text_input if t.label == "Name")
    name.set_value("evil\x1b[2Jname")
    next(b for b in app.button if b.label == "Generate").click().run()
    assert not app.exception
    assert any("no control or formatting characters" in e.value for e in app.error)
    assert list_datasets(Store(url)) == []
