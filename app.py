"""Recsys Workbench: the router and frame around every page."""

from __future__ import annotations

import streamlit as st

from pages._ui import sidebar_status

st.set_page_config(page_title="Recsys Workbench", page_icon=":material/recommend:", layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/tune.py", title="Tune", icon=":material/tune:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/leaderboard:"),
    st.Page("pages/preview.py", title="Preview", icon=":material/person_search:"),
    st.Page("pages/explain.py", title="Explain", icon=":material/psychology:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
]

page = st.navigation(PAGES)
sidebar_status()
page.run()
