"""Page side of SQLite's write lock: a page action that waits says what it waits for."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx


def toast_wait(message: str) -> None:
    """A ``db.engine.WAIT_LISTENERS`` entry: a toast in the session whose action waits.

    Called from the waiting thread; only a page's script thread has a session to show it in
    (the same process's other threads, e.g. a heartbeat, just wait).
    """
    if get_script_run_ctx() is not None:
        st.toast(message, icon=":material/hourglass_top:")
