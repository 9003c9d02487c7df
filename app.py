"""Recsys Workbench: the router and frame around every page.

The frame (page config, navigation) is drawn before anything heavy is imported, so a cold
server shows it at once; the store line and the page itself follow.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages._auth import gate

ICON = Path(__file__).parent / "assets" / "favicon.png"  # local: no request leaves the machine
st.set_page_config(page_title="Recsys Workbench", page_icon=str(ICON), layout="wide")

HOME = st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)
WORKFLOW = [
    st.Page("pages/data.py", title="Data", icon=":material/database:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/tune.py", title="Tune", icon=":material/tune:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/leaderboard:"),
    st.Page("pages/preview.py", title="Preview", icon=":material/person_search:"),
    st.Page("pages/explain.py", title="Explain", icon=":material/psychology:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
]
MORE = [st.Page("pages/experiments.py", title="Experiments", icon=":material/science:")]


def sidebar_nav() -> None:
    """The navigation, drawn with page links: Streamlit's own sidebar list is switched off
    (``client.showSidebarNavigation``) because its legacy mode would list every file in
    pages/, helpers included, on a cold server's first deep link."""
    with st.sidebar:
        st.page_link(HOME)
        st.caption("Workflow")
        for p in WORKFLOW:
            st.page_link(p)
        st.caption("More")
        for p in MORE:
            st.page_link(p)


def store_line() -> None:
    """The store in the sidebar, and SQLite's write-lock waits shown as toasts; imported
    here, after the frame is on screen (the store and the core library take seconds to
    import on a cold process)."""
    from db.engine import WAIT_LISTENERS
    from pages._ui import sidebar_status
    from pages._wait import toast_wait

    WAIT_LISTENERS["app"] = toast_wait  # waiting for the write lock: a toast says for what
    sidebar_status()


if gate():  # served beyond this machine without sign-in: only a screen that says why
    page = st.navigation([HOME, *WORKFLOW, *MORE], position="hidden")
    sidebar_nav()
    store_line()
    page.run()
