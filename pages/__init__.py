"""The app's pages; importing this package first puts the running script in app.py's frame.

Streamlit runs a fresh server's first request in its legacy pages-directory mode whenever a
``pages/`` folder sits beside app.py: a deep link (``/compare``) then runs the page file
alone, without app.py's navigation, page config and store line, until some run of app.py
calls ``st.navigation``. Every page's first import is this package (``import pages``, before
pandas, plotly, the store and the core library: seconds on a cold process; a test checks the
order), so the switch happens here, early: leave the legacy mode and rerun; the rerun goes
through app.py, which routes back to the same page. When the legacy mode runs app.py itself,
app.py's own navigation takes over and nothing is needed. Outside a Streamlit script run
(tests, the CLI) this does nothing.
"""

from __future__ import annotations


def leave_legacy_pages_mode() -> None:
    """Leave Streamlit's legacy pages-directory mode and rerun, when a page file runs in it."""
    from pathlib import Path

    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if not PagesManager.uses_pages_directory or ctx is None:
        return
    running = ctx.pages_manager.get_pages().get(ctx.page_script_hash, {}).get("script_path")
    if running is None or Path(running).resolve() == Path(ctx.main_script_path).resolve():
        return  # app.py itself: its st.navigation leaves the legacy mode
    import streamlit as st

    PagesManager.uses_pages_directory = False
    st.rerun()


leave_legacy_pages_mode()
