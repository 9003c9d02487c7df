"""In a real browser, the analyst's whole loop: generate data, train two models in the background
worker, compare them, preview a user's lists and download the export."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from recsys_core.export import EXPORT_COLUMNS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# text cells are quoted; the synthetic items' title follows the item id
EXPORT_HEADER = ",".join(f'"{c}"' for c in [*EXPORT_COLUMNS[:2], "title", *EXPORT_COLUMNS[2:]])
TRAIN_TIMEOUT_S = 120


def _generate_dataset(page) -> None:
    page.get_by_role("heading", name="Data").wait_for()
    page.get_by_role("button", name="Generate a synthetic dataset").click()
    form = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Generate"))
    form.get_by_label("Users", exact=True).fill("300")  # the uploaders' labels name users too
    form.get_by_label("Items", exact=True).fill("150")
    form.get_by_label("Interactions", exact=True).fill("9000")
    form.get_by_label("Name", exact=True).fill("loop")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_text("Imported loop").wait_for()


def _status_cells(page) -> list[str]:
    return page.locator('[data-testid="stDataFrame"] td').all_inner_texts()


def _train_two_models(page) -> None:
    page.get_by_role("link", name="Train").click()
    page.get_by_role("heading", name="Train").wait_for()
    page.get_by_role("button", name="Remove ease").click()
    page.get_by_role("button", name="Remove ease").wait_for(state="detached")
    page.get_by_role("button", name="Queue runs").click()
    page.get_by_text("Queued 2 run(s)").wait_for()
    page.get_by_role("heading", name="Runs on this dataset").wait_for()
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    cells = _status_cells(page)
    # the table refreshes itself every 2 s; each finished run shows "done" as status and stage
    while cells.count("done") < 4 or {"queued", "running"} & set(cells):
        assert "failed" not in cells, cells
        assert time.monotonic() < deadline, f"runs not done after {TRAIN_TIMEOUT_S} s: {cells}"
        time.sleep(1)
        cells = _status_cells(page)


def _compare(page) -> None:
    page.get_by_role("link", name="Compare").click()
    page.get_by_role("heading", name="Leaderboard by NDCG@10").wait_for()
    for label in ("most_popular", "item_knn"):
        assert page.get_by_text(re.compile(rf"^{label}( .*)? · v1 · #\d+$")).count() >= 1
    page.get_by_role("heading", name="Which runs are as good as the best? (NDCG@10)").wait_for()
    summary = page.get_by_text(re.compile(r"^Against .* on NDCG@10 \(paired Wilcoxon"))
    summary.first.wait_for()  # the section streams in below its heading
    assert summary.count() == 1  # one summary, not one sentence per pair
    page.locator(".js-plotly-plot").nth(1).wait_for()  # the bar chart and the per-user boxes


def _preview(page) -> None:
    page.get_by_role("link", name="Preview").click()
    page.get_by_role("heading", name="Top 10 of each run").wait_for()
    lists = page.get_by_text(re.compile(r"hit\(s\) in the top 10$"))
    lists.nth(1).wait_for()
    assert lists.count() == 2  # two runs side by side
    page.get_by_role("heading", name="How much the lists agree").wait_for()


def _export(page, tmp_path: Path) -> None:
    page.get_by_role("link", name="Export").click()
    page.get_by_role("heading", name="Export").wait_for()
    caption = page.get_by_text(re.compile(r"^[\d,]+ rows, [\d,]+ users")).inner_text()
    n_rows, n_users = (int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", caption)[:2])
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert path.name == "recommendations.csv"
    assert lines[0] == EXPORT_HEADER
    assert len(lines) - 1 == n_rows == 10 * n_users  # K = 10 for every test user


def test_generate_train_compare_preview_export(app_url: str, page, tmp_path: Path) -> None:
    page.goto(f"{app_url}/data")  # the Home page is the default
    _generate_dataset(page)
    _train_two_models(page)
    _compare(page)
    _preview(page)
    _export(page, tmp_path)
    page.screenshot(path=str(tmp_path / "export.png"), full_page=True)
