"""AppTest of the Data page's import: raw MovieLens 100k files of any extension, columns
renamed and given roles, validation, import, titles in the profile (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db import Store
from recsys_core.jobs.datasets import list_datasets, load_interactions
from tests.data import layout_files as files

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(tmp_path, monkeypatch) -> AppTest:
    monkeypatch.setenv("RECSYS_DATABASE_URL", f"sqlite:///{tmp_path / 'page.db'}")
    st.cache_resource.clear()
    st.cache_data.clear()
    return AppTest.from_file(str(ROOT / "pages/data.py"), default_timeout=120).run()


def _text(app: AppTest, label: str):
    return next(t for t in app.text_input if t.label == label)


def _role(app: AppTest, label: str):
    return next(s for s in app.selectbox if s.label == label)


def test_uploader_takes_any_extension(app: AppTest) -> None:
    assert all(u.allowed_type == [] for u in app.file_uploader)


def test_raw_u_data_and_u_item_import_with_names_roles_and_titles(app: AppTest, tmp_path) -> None:
    app.file_uploader(key="up_inter").upload("u.data", files.U_DATA).run()
    app.file_uploader(key="up_items").upload("u.item", files.U_ITEM).run()
    assert not app.exception and not app.error
    captions = " ".join(c.value for c in app.caption)
    assert "Recognised: **MovieLens 100k u.item (movies)**" in captions
    assert "Latin-1" in captions
    assert _text(app, "Dataset name").value == "ml-100k"
    assert _text(app, "Item column 2").value == "title"
    assert _text(app, "Item column 6").value == "unknown"
    assert _role(app, "Role of item column 5").value == "ignore"  # the IMDb URL
    assert _role(app, "Role of item column 6").value == "flag"
    assert _text(app, "Item flags fold into the attribute").value == "genres"
    _text(app, "Item column 3").set_value("released")
    _text(app, "Behaviour column 3").set_value("stars")
    next(b for b in app.button if b.label == "Validate").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    next(b for b in app.button if b.label.startswith("Import 30 interactions")).click().run()
    assert any("Imported **ml-100k**" in s.value for s in app.success)
    assert "validated" not in app.session_state  # the report and its Import button are gone
    assert not any(b.label.startswith("Import 30") for b in app.button)
    store = Store(f"sqlite:///{tmp_path / 'page.db'}")
    items = load_interactions(store, "ml-100k").item_features
    assert items is not None and list(items.columns) == ["title", "released", "genres"]

    app.selectbox(key="profile_dataset").set_value("ml-100k").run()
    shown = [d.value for d in app.dataframe if "name" in d.value.columns]
    assert shown and "Toy Story (1995)" in shown[0]["name"].tolist()


def test_picking_another_title_and_a_wrong_role_are_reported(app: AppTest) -> None:
    app.file_uploader(key="up_inter").upload("ratings", files.U_DATA).run()
    plain = b"".join(b"%d|tt%07d|Film %d|%d\n" % (i, i, i, 1990 + i) for i in range(1, 6))
    app.file_uploader(key="up_items").upload("catalog.item", plain).run()
    assert _role(app, "Role of item column 3").value == "title"  # wordy and unique
    assert _role(app, "Role of item column 2").value == "category"  # a code
    assert not any("No title column" in w.value for w in app.warning)
    _role(app, "Role of item column 2").set_value("title")
    next(b for b in app.button if b.label == "Validate").click().run()
    assert any("Pick one title column" in e.value for e in app.error)
    _role(app, "Role of item column 2").set_value("ignore")
    _text(app, "Item column 3").set_value("film")
    next(b for b in app.button if b.label == "Validate").click().run()
    assert not app.error, [e.value for e in app.error]
    data = app.session_state["validated"][0]
    assert data.items["title"].tolist()[:2] == ["Film 1", "Film 2"]


def test_flag_names_upload_names_the_folded_flags(app: AppTest) -> None:
    lines = files.U_ITEM.decode("latin-1").splitlines()  # 23 columns: no known layout
    item = "".join("|".join(p[:3] + p[4:]) + "\n" for p in (x.split("|") for x in lines))
    app.file_uploader(key="up_inter").upload("u.data", files.U_DATA).run()
    app.file_uploader(key="up_items").upload("movies", item.encode("latin-1")).run()
    assert _text(app, "Item column 5").value == "column_5"
    assert _text(app, "Item flags fold into the attribute").value == "flags"
    app.file_uploader(key="up_flags").upload("u.genre", files.U_GENRE).run()
    assert not app.error
    assert [_text(app, f"Item column {j}").value for j in (5, 6, 23)] == [
        "unknown", "Action", "Western"
    ]  # fmt: skip
    next(b for b in app.button if b.label == "Validate").click().run()
    data = app.session_state["validated"][0]
    assert data.items.loc["1", "flags"] == ["Animation", "Children's", "Comedy"]


def test_unreadable_upload_says_which_formats_work(app: AppTest) -> None:
    app.file_uploader(key="up_inter").upload("u.item", b"PK\x03\x04junk").run()
    assert any("any one-character delimiter" in e.value for e in app.error)


def test_delimiter_correction_rereads_the_file(app: AppTest) -> None:
    app.file_uploader(key="up_inter").upload("x.data", b"u;i\n1;2\n3;4\n").run()
    app.selectbox(key="up_inter_delim").set_value("tab").run()
    assert any("single field" in e.value for e in app.error)


def test_synthetic_sizes_that_cannot_hold_are_an_error_not_an_exception(app: AppTest, tmp_path):
    users, items, inter = app.number_input[:3]
    users.set_value(20)
    items.set_value(10)  # fewer items than the generator's categories
    inter.set_value(100)
    next(b for b in app.button if b.label == "Generate").click().run()
    assert not app.exception
    assert any("Cannot generate synthetic data" in e.value for e in app.error)
    assert list_datasets(Store(f"sqlite:///{tmp_path / 'page.db'}")) == []
