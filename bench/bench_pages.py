"""Page speed with runs stored: every page for one analyst, then ten at once (headless Chromium).

Issue 10 measured Compare at 9 s for one analyst and 25 s each for ten with 11 runs stored.
Target: each page within 2 s warm for one analyst, and ten concurrent sessions within 3x
of one. This script builds a temp store with MovieLens latest-small and ~11 small runs,
starts the app, and times each page from the sidebar click to its last element.

The sessions share the machine's cores with the browser that draws them, so the script also
reports where the CPU goes: the server's and the browser's CPU seconds of one warm view, and
of all views while the sessions run at once. Ten views at once cannot finish sooner than ten
views' CPU divided by the cores, whatever the app does.

Usage: python -m bench.bench_pages [--sessions 10] [--no-write]   (needs /usr/bin/chromium)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

from bench._report import ROOT, write_section

ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
#: Small models: the store holds 11 finished runs as in the issue's journey.
RUNS: list[tuple[str, dict[str, Any]]] = [
    ("most_popular", {}),
    ("random", {}),
    ("item_knn", {"n_neighbors": 20}),
    ("item_knn", {"n_neighbors": 50}),
    ("item_knn", {}),
    ("item_knn", {"n_neighbors": 200}),
    ("user_knn", {"n_neighbors": 50}),
    ("user_knn", {}),
    ("ease", {"reg": 100.0}),
    ("ease", {}),
    ("ease", {"reg": 1000.0}),
]
#: Page -> what shows when it has finished drawing (a role and a name, or text).
PAGES: dict[str, tuple[str, str]] = {
    "Compare": ("text", r"^Against .* \(paired Wilcoxon"),
    "Preview": ("heading", "How much the lists agree"),
    "Explain": ("heading", "Map of the items as the model sees them"),
    "Export": ("button", "Download CSV"),
    "Train": ("heading", "Train"),
    "Data": ("heading", "Data"),
    "Home": ("heading", "Recsys Workbench"),
}


def _tree_cpu() -> dict[int, float]:
    """CPU seconds (user + system, with reaped children's) of every live process, by pid, and
    each process's parent under the key ``-pid``; read from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we read
        pid = int(stat.parent.name)
        out[pid] = sum(int(v) for v in fields[11:15]) / tick
        out[-pid] = int(fields[1])
    return out


def cpu(root: int, exclude: int = 0) -> float:
    """CPU seconds of ``root`` and its descendants, without the subtree of ``exclude``: the
    server alone, or this process's browsers (Chromium and Playwright's driver)."""
    table = _tree_cpu()
    children: dict[int, list[int]] = {}
    for pid in (p for p in table if p > 0):
        children.setdefault(int(table[-pid]), []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid != exclude:
            total += table.get(pid, 0.0) if pid != os.getpid() else 0.0
            todo.extend(children.get(pid, []))
    return total


def build_store(home: Path) -> str:
    """MovieLens latest-small and the runs above, trained inline; returns the store URL."""
    from db import Store
    from recsys_core.data.samples import load_movielens_small
    from recsys_core.jobs.datasets import import_dataset
    from recsys_core.jobs.runs import parse_spec, train

    os.environ["RECSYS_HOME"] = str(home)
    url = f"sqlite:///{home}/bench.db"
    store = Store(url)
    import_dataset(store, "movielens", load_movielens_small())
    for model, params in RUNS:
        spec = {"dataset": "movielens", "model": model, "params": params, "seed": 1}
        run = train(store, parse_spec(spec))
        assert run.status == "done", run.error
        print(f"trained #{run.id} {model} {params}", flush=True)
    store.dispose()
    return url


def start_app(home: Path, url: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, RECSYS_HOME=str(home), RECSYS_DATABASE_URL=url,
               RECSYS_WORKER_AUTOSTART="0")  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/_stcore/health", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("the app did not start")


async def _visit(page: Any, name: str) -> float:
    """Seconds from the sidebar click until the page's last element is drawn."""
    kind, target = PAGES[name]
    start = time.perf_counter()
    await page.get_by_role("link", name=name, exact=True).first.click()
    if kind == "text":
        await page.get_by_text(re.compile(target)).first.wait_for(timeout=120_000)
    else:
        await page.get_by_role(kind, name=target).first.wait_for(timeout=120_000)
    # the page is done when Streamlit stops running the script
    await page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=120_000)
    return time.perf_counter() - start


async def session(
    browser: Any, base: str, server: int = 0, passes: int = 2
) -> dict[str, list[float]]:
    """One analyst: every page ``passes`` times (the first pass warms caches). With the
    server's pid, also the server's CPU seconds of each visit under ``"<page> cpu"`` (only
    meaningful when this session is the only one) and the browser's under ``"<page> browser"``."""
    context = await browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(120_000)  # ten sessions on 2 cores: a click can wait > 30 s
    page = await context.new_page()
    await page.goto(base)
    await page.get_by_role("link", name="Compare").first.wait_for()
    times: dict[str, list[float]] = {}
    for _ in range(passes):
        for name in PAGES:
            before = (cpu(server), cpu(os.getpid(), server)) if server else (0.0, 0.0)
            times.setdefault(name, []).append(await _visit(page, name))
            if server:
                await asyncio.sleep(0.3)  # the last deltas' bookkeeping after the script ends
                times.setdefault(f"{name} cpu", []).append(cpu(server) - before[0])
                used = cpu(os.getpid(), server) - before[1]
                times.setdefault(f"{name} browser", []).append(used)
    await context.close()
    return times


async def measure(base: str, sessions: int, server: int) -> tuple[pd.DataFrame, str]:
    """The table, and a sentence on where the CPU went while the sessions ran at once."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        one = await session(browser, base, server)
        server0, browser0, start = cpu(server), cpu(os.getpid(), server), time.perf_counter()
        many = await asyncio.gather(*(session(browser, base) for _ in range(sessions)))
        wall = time.perf_counter() - start
        server_s, browser_s = cpu(server) - server0, cpu(os.getpid(), server) - browser0
        await browser.close()
    rows = []
    for name in PAGES:
        warm_many = [t[name][-1] for t in many]
        median = float(pd.Series(warm_many).median())
        rows.append(
            {
                "page": name,
                "1 session, cold (s)": round(one[name][0], 2),
                "1 session, warm (s)": round(one[name][-1], 2),
                "server CPU, 1 warm view (s)": round(one[f"{name} cpu"][-1], 2),
                "browser CPU, 1 warm view (s)": round(one[f"{name} browser"][-1], 2),
                f"{sessions} sessions, warm median (s)": round(median, 2),
                f"{sessions} sessions, warm max (s)": round(max(warm_many), 2),
                "ratio (median / 1 warm)": round(median / one[name][-1], 1),
            }
        )  # fmt: skip
    views = sessions * 2 * len(PAGES)
    per_view = (server_s + browser_s) / views
    split = (
        f"While the {sessions} sessions ran ({views} page views in {wall:.0f} s), the app "
        f"server used {server_s:.0f} CPU s ({server_s / views:.2f} s per view) and the "
        f"browser {browser_s:.0f} CPU s ({browser_s / views:.2f} s per view), "
        f"{(server_s + browser_s) / wall:.2f} of the {os.cpu_count()} cores on average: "
        f"{sessions} views at once need at least {sessions} x {per_view:.2f} CPU s / "
        f"{os.cpu_count()} cores = {sessions * per_view / (os.cpu_count() or 1):.1f} s each "
        "when they all wait for the same cores, whatever the server does."
    )
    return pd.DataFrame(rows), split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the report")
    parser.add_argument("--store", type=Path, help="reuse the folder of an earlier build")
    args = parser.parse_args()
    if args.store is not None:
        home, url = args.store, f"sqlite:///{args.store}/bench.db"
    else:
        home = Path(tempfile.mkdtemp(prefix="bench_pages_"))
        url = build_store(home)
        print(f"store: --store {home}", flush=True)
    proc, base = start_app(home, url)
    try:
        table, split = asyncio.run(measure(base, args.sessions, proc.pid))
    finally:
        proc.terminate()
    print(table.to_string(index=False))
    print(split, f"Load average: {os.getloadavg()[0]:.1f}")
    if not args.no_write:
        write_section(
            "pages",
            "Page speed with 11 runs stored (one analyst, then ten at once)",
            f"python -m bench.bench_pages --sessions {args.sessions}",
            table,
            "MovieLens latest-small (100,836 ratings), 11 finished runs (most_popular, random, "
            "item_knn x4, user_knn x2, ease x3); headless Chromium at 1440x1000, from the "
            "sidebar click until the script stops running. Warm = the second visit of the "
            "session. The sessions share one browser and one app server. Targets (issue 10): "
            "warm within 2 s for one analyst, ten sessions within 3x of one. "
            "CPU of one warm view: the app server's and the browser's (Chromium and "
            f"Playwright's driver) CPU seconds during that visit, one session alone. {split} "
            f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
            "(the browsers run on the server's cores too).",
        )


if __name__ == "__main__":
    main()
