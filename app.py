"""Recsys Workbench: the router and frame around every page."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from db.engine import WAIT_LISTENERS
from pages._auth import gate
from pages._ui import sidebar_status

st.set_page_config(page_title="Recsys Workbench", page_icon=":material/recommend:", layout="wide")


def _toast_wait(message: str) -> None:
    """A page action waiting for SQLite's write lock says for what (e.g. a long import)."""
    if get_script_run_ctx() is not None:
        st.toast(message, icon=":material/hourglass_top:")


WAIT_LISTENERS["app"] = _toast_wait

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/tune.py", title="Tune", icon=":material/tune:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/leaderboard:"),
    st.Page("pages/preview.py", title="Preview", icon=":material/person_search:"),
    st.Page("pages/explain.py", title="Explain", icon=":material/psychology:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
]

if gate():  # served beyond this machine without sign-in: only a screen that says why
    page = st.navigation(PAGES)
    sidebar_status()
    page.run()
