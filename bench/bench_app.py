"""App start and page loads: TensorFlow must not slow them (it is imported only by deep fits).

Usage: python -m bench.bench_app [--no-write]   (needs /usr/bin/chromium)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import pandas as pd

from bench._report import ROOT, write_section

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = ["Home", "Data", "Train", "Compare", "Preview", "Export"]
#: A page's heading when it has drawn (Home's is the app's name).
HEADINGS = {"Home": "Recsys Workbench"}


def import_times() -> dict[str, float]:
    """Fresh-interpreter import of what the app loads, and of TensorFlow for scale."""
    out = {}
    for label, code in (
        ("import app modules (pages + core)", "import pages._ui, recsys_core.jobs.runs, "
         "recsys_core.models.registry, recsys_core.features; import sys; "
         "assert 'tensorflow' not in sys.modules"),
        ("import tensorflow (for comparison)", "import tensorflow"),
    ):  # fmt: skip
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
        out[label] = round(time.perf_counter() - t0, 2)
    return out


def _wait_healthy(port: int) -> None:
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            return
        except OSError:
            time.sleep(0.1)


#: The floor: Streamlit alone, one page and a sidebar link, no import of ours.
FLOOR_APP = """
import streamlit as st
st.set_page_config(page_title="floor", layout="wide")
page = st.navigation([st.Page(lambda: st.title("Compare"), title="Home", url_path="compare")],
                     position="hidden")
st.sidebar.page_link(page, label="Home")
page.run()
"""


def floor_time() -> dict[str, float]:
    """A fresh bare Streamlit app's /compare to its sidebar link: what no app can beat here."""
    from playwright.sync_api import sync_playwright

    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "floor.py"), "w") as f:
        f.write(FLOOR_APP)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "floor.py", "--server.port", "8596",
         "--server.headless", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"], cwd=folder,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_healthy(8596)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page()
            t1 = time.perf_counter()
            page.goto("http://127.0.0.1:8596/compare")
            page.get_by_role("link", name="Home", exact=True).wait_for()
            shown = round(time.perf_counter() - t1, 2)
            browser.close()
    finally:
        proc.terminate()
    return {"bare Streamlit app, /compare first: navigation shown (floor)": shown}


def page_times() -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp()
    env = dict(os.environ, RECSYS_HOME=home, RECSYS_DATABASE_URL=f"sqlite:///{home}/a.db",
               RECSYS_WORKER_AUTOSTART="0")  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", "8597",
         "--server.headless", "true"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    out = {}
    try:
        _wait_healthy(8597)
        out["server start to healthy"] = round(time.perf_counter() - t0, 2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page()
            # issue 10: a deep link as a fresh server's first request shows the app's frame
            t1 = time.perf_counter()
            page.goto("http://127.0.0.1:8597/compare")
            sidebar = page.get_by_test_id("stSidebarUserContent")
            sidebar.get_by_role("link", name="Home", exact=True).wait_for()
            out["deep link /compare first: navigation shown"] = round(time.perf_counter() - t1, 2)
            page.get_by_role("heading", name="Compare").first.wait_for()
            out["deep link /compare first: page rendered"] = round(time.perf_counter() - t1, 2)
            for name in PAGES:
                t2 = time.perf_counter()
                sidebar.get_by_role("link", name=name, exact=True).click()
                page.get_by_role("heading", name=HEADINGS.get(name, name)).first.wait_for()
                out[f"{name} page rendered"] = round(time.perf_counter() - t2, 2)
            browser.close()
    finally:
        proc.terminate()
    return out


if __name__ == "__main__":
    times = {**import_times(), **page_times(), **floor_time()}
    rows = pd.DataFrame({"step": list(times), "seconds": list(times.values())})
    print(rows)
    if "--no-write" in sys.argv:
        sys.exit(0)
    write_section(
        "app",
        "App start and page loads",
        "python -m bench.bench_app",
        rows,
        "Empty store, headless Chromium; each page timed from its sidebar click to its "
        "heading. The floor is a bare one-page Streamlit app started the same way: the deep "
        "link cannot show the frame sooner than that on this machine at this load. "
        "The app never imports TensorFlow: a run's worker "
        "process does, when it fits a deep model (tests/test_architecture.py checks the "
        f"imports). Load average at the end: {os.getloadavg()[0]:.1f} on 2 cores.",
    )
