"""Recsys Workbench: the router and frame around every page."""

from __future__ import annotations

import streamlit as st

from db.engine import WAIT_LISTENERS
from pages._auth import gate
from pages._ui import sidebar_status
from pages._wait import toast_wait

st.set_page_config(page_title="Recsys Workbench", page_icon=":material/recommend:", layout="wide")
WAIT_LISTENERS["app"] = toast_wait  # waiting for SQLite's write lock: a toast says for what

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/tune.py", title="Tune", icon=":material/tune:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/leaderboard:"),
    st.Page("pages/preview.py", title="Preview", icon=":material/person_search:"),
    st.Page("pages/explain.py", title="Explain", icon=":material/psychology:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
    st.Page("pages/experiments.py", title="Experiments", icon=":material/science:"),
]

if gate():  # served beyond this machine without sign-in: only a screen that says why
    page = st.navigation(PAGES)
    sidebar_status()
    page.run()
