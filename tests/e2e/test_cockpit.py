"""e2e: names everywhere and a Compare you can read, in headless Chromium.

Two models are trained on a dataset whose items have titles; Compare's leaderboard leads with
the metric the analyst picks and formats its p-values; Explain, Preview and the downloaded
export show titles, not ids.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from tests.e2e.test_loop import _generate_dataset, _train_two_models

#: Synthetic titles read like "Tosquimon Feszuola 0": two words and the id.
TITLE = re.compile(r"^[A-Z][a-z]+ [A-Z][a-z]+ \d+$")
P_VALUE = re.compile(r"^(< 1e-16|\d(\.\d+)?(e-\d\d)?|0\.\d+|–)$")


def _cells(page) -> list[str]:
    return page.locator('[data-testid="stDataFrame"] td').all_inner_texts()


def _compare(page) -> None:
    page.get_by_role("link", name="Compare").click()
    page.get_by_role("heading", name="Leaderboard by NDCG@10").wait_for()
    box = page.get_by_role("combobox", name="Primary metric", exact=True)
    box.click()
    box.fill("Recall@10")  # the list filters as one types; Enter takes the first match
    box.press("Enter")
    page.get_by_role("heading", name="Leaderboard by Recall@10").wait_for()
    board = page.locator('[data-testid="stDataFrame"]').first
    board.locator("th", has_text="Recall@10 [95% CI]").wait_for(state="attached")  # redrawn
    headers = board.locator("th").all_inner_texts()
    assert [h.strip() for h in headers if h.strip()][:2] == ["run", "Recall@10 [95% CI]"]
    summary = page.get_by_text(re.compile(r"^Against .* on Recall@10 \(paired Wilcoxon"))
    summary.first.wait_for()
    versus = page.locator('[data-testid="stDataFrame"]').nth(1)
    verdict = re.compile(r"^(indistinguishable|better|worse)$")
    versus.locator("td").filter(has_text=verdict).first.wait_for(state="attached")  # drawn
    row = versus.locator("td").all_inner_texts()
    assert any(v in row for v in ("indistinguishable", "better", "worse")), row
    assert any(P_VALUE.match(c.strip()) for c in row), row
    assert not any(re.match(r"^0\.0{6,}", c) for c in _cells(page))  # no long decimals


def _explain(page) -> None:
    page.get_by_role("link", name="Explain").click()
    page.get_by_text(re.compile(r"^Top \d+ for user .* and why$")).wait_for()
    entry = page.get_by_text(re.compile(r"^\d+\. .+ \(score"))
    entry.first.wait_for()  # the heading is drawn before the list under it
    entries = entry.all_inner_texts()
    names = [re.match(r"^\d+\. (.+) \(score", e).group(1) for e in entries]  # type: ignore[union-attr]
    assert names and all(TITLE.match(n) for n in names), names


def _preview(page) -> None:
    page.get_by_role("link", name="Preview").click()
    page.get_by_role("heading", name="Top 10 of each run").wait_for()
    page.get_by_text(re.compile(r"hit\(s\) in the top 10$")).nth(1).wait_for()
    cells = page.locator('[data-testid="stDataFrame"] td')
    cells.filter(has_text=TITLE).first.wait_for(state="attached")  # the grids are drawn
    assert sum(bool(TITLE.match(c.strip())) for c in _cells(page)) >= 10


def _export(page, tmp_path: Path) -> None:
    page.get_by_role("link", name="Export").click()
    page.get_by_text(re.compile(r"^[\d,]+ rows, [\d,]+ users")).wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    path = tmp_path / "export.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows and all(TITLE.match(r["title"]) for r in rows)
    assert all(r["title"].endswith(f" {r['item_id']}") for r in rows)  # the title of that item


def test_titles_everywhere_and_a_readable_compare(app_url: str, page, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{app_url}/data")
    _generate_dataset(page)
    _train_two_models(page)
    _compare(page)
    page.screenshot(path="/tmp/cockpit_compare.png", full_page=True)
    _explain(page)
    page.screenshot(path="/tmp/cockpit_explain.png")
    _preview(page)
    page.screenshot(path="/tmp/cockpit_preview.png")
    _export(page, tmp_path)
    page.screenshot(path="/tmp/cockpit_export.png")
