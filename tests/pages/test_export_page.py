"""AppTest of the Export page: preview, the bytes behind the downloads, a database table."""

from __future__ import annotations

import csv as csv_module
import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from recsys_core.columns import Columns
from recsys_core.export import EXPORT_COLUMNS
from recsys_core.jobs.analysis import display_label

if TYPE_CHECKING:
    from tests.pages.conftest import Workspace

ROOT = Path(__file__).resolve().parents[2]
#: The synthetic items have a title: it follows the item id in every export.
WITH_TITLE = [*EXPORT_COLUMNS[:2], "title", *EXPORT_COLUMNS[2:]]
# Runs the real page, then hands the test the app's media store: what a browser would download.
HARNESS = """
import runpy
import streamlit as st
from streamlit import runtime

runpy.run_path({page!r})
st.session_state["_media"] = runtime.get_instance().media_file_mgr
"""


def _downloaded(at: AppTest, label: str) -> bytes:
    button = next(b for b in at.download_button if b.label == label)
    file_id = button.proto.url.rsplit("/", 1)[-1].split(".")[0]
    served = at.session_state["_media"].read_file(file_id)
    assert served is not None
    return bytes(served.content)


def _harness(app_env: Workspace) -> AppTest:
    script = HARNESS.format(page=str(ROOT / "pages/export.py"))
    return AppTest.from_string(script, default_timeout=60)


def _choose(at: AppTest, workspace: Workspace, k: int = 5) -> AppTest:
    at.run()
    at.multiselect(key="export_runs").set_value([display_label(workspace.runs["most_popular"])])
    at.number_input[0].set_value(k)
    return at.run()


def test_downloaded_csv_neutralises_the_formula_item_and_parquet_keeps_it(
    app_env: Workspace,
) -> None:
    at = _choose(_harness(app_env), app_env, k=5)
    assert not at.exception
    csv = _downloaded(at, "Download CSV").decode("utf-8")
    parquet = pd.read_parquet(io.BytesIO(_downloaded(at, "Download Parquet")))
    lines = list(csv_module.reader(io.StringIO(csv)))
    assert lines[0] == WITH_TITLE and list(parquet.columns) == WITH_TITLE
    assert (parquet["title"] != parquet[Columns.item]).all()  # names, not ids again
    n_users = parquet[Columns.user].nunique()
    assert len(lines) == 1 + len(parquet) == 1 + 5 * n_users
    assert any(f"{len(parquet):,} rows, {n_users:,} users" in c.value for c in at.caption)
    formula = app_env.formula_item
    n_formula = int((parquet[Columns.item] == formula).sum())
    assert n_formula > 0  # Parquet keeps the id as it is: it is data, not a spreadsheet
    cells = [line[1] for line in lines[1:]]
    assert cells.count(f"'{formula}") == n_formula
    text_cells = [c for line in lines[1:] for c in line[:2]]  # user and item ids
    assert not any(c.startswith(("=", "+", "-", "@")) for c in text_cells)


def test_preview_respects_k_and_a_pasted_id_list(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = _choose(open_page("export"), workspace, k=3)
    table = at.dataframe[0].value
    assert list(table.columns) == WITH_TITLE
    assert table[Columns.rank].max() == 3 and set(table[Columns.model]) == {"most_popular"}
    users = sorted(table[Columns.user].unique())[:2]
    at.radio(key="export_who").set_value("A list of user ids").run()
    at.text_area(key="export_ids").set_value(f"{users[0]}, {users[1]}\nghost").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert sorted(table[Columns.user].unique()) == users and len(table) == 6
    assert any("1 id(s) have no recommendations" in w.value and "ghost" in w.value
               for w in at.warning)  # fmt: skip


def test_activity_bucket_exports_only_that_bucket(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = _choose(open_page("export"), workspace)
    at.radio(key="export_who").set_value("Users by activity").run()
    bucket = at.selectbox(key="export_bucket")
    label = bucket.options[0]
    at = bucket.set_value(bucket.options[0]).run()
    n = int(label.split("(")[1].split()[0].replace(",", ""))
    assert at.dataframe[0].value[Columns.user].nunique() == n


def test_write_to_database_stores_the_table_under_its_name(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = _choose(open_page("export"), workspace, k=2)
    n_rows = len(at.dataframe[0].value)
    at.text_input(key="export_name").set_value("  weekly_push ")
    at.button(key="FormSubmitter:export_db-Write to the database").click().run()
    assert not at.exception
    assert any(f"Wrote {n_rows:,} rows under the name 'weekly_push'" in s.value for s in at.success)
    shown = at.dataframe[0].value
    store = workspace.store()
    with store.engine.connect() as conn:
        q = text(
            "SELECT user_id, item_id, title, reason FROM exported_recommendations "
            "WHERE export_name = 'weekly_push'"
        )
        stored = pd.DataFrame(conn.execute(q).fetchall(), columns=["user", "item", "title", "r"])
    store.dispose()
    assert len(stored) == n_rows and stored["r"].isna().all()  # no reasons were asked for
    titles = dict(zip(shown[Columns.item].astype(str), shown["title"], strict=False))
    assert stored["title"].notna().all() and (stored["title"] == stored["item"].map(titles)).all()


def test_reason_checkbox_adds_a_plain_reason_per_row(app_env: Workspace) -> None:
    at = _choose(_harness(app_env), app_env, k=3)
    at.checkbox(key="export_reasons").check().run()
    assert not at.exception
    parquet = pd.read_parquet(io.BytesIO(_downloaded(at, "Download Parquet")))
    assert list(parquet.columns) == [*WITH_TITLE, "reason"]
    assert parquet["reason"].str.len().gt(10).all()


def test_serve_section_shows_the_command_and_requests_for_the_chosen_run(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = _choose(open_page("export"), workspace, k=3)
    run = workspace.runs["most_popular"]
    user = str(at.dataframe[0].value[Columns.user].iloc[0])
    codes = [c.value for c in at.code]
    assert any(c.startswith(f".venv/bin/recsys serve --run {run.id} ") for c in codes)
    assert any(f"/users/{user}/recommendations?k=10&explain=true" in c for c in codes)
    assert any("-X POST" in c for c in codes)  # most popular scores posted histories


def test_database_table_keeps_the_reasons_when_asked(
    open_page: Callable[[str], AppTest], workspace: Workspace
) -> None:
    at = _choose(open_page("export"), workspace, k=2)
    at.checkbox(key="export_reasons").check().run()
    at.text_input(key="export_name").set_value("with_reasons")
    at.button(key="FormSubmitter:export_db-Write to the database").click().run()
    assert not at.exception
    store = workspace.store()
    with store.engine.connect() as conn:
        q = text("SELECT reason FROM exported_recommendations WHERE export_name = 'with_reasons'")
        reasons = [r for (r,) in conn.execute(q)]
    store.dispose()
    assert reasons and all(r and len(r) > 10 for r in reasons)
