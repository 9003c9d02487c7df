"""In a real browser: raw headerless files of any extension (a pipe-separated `.item`, a
tab-separated `.data`), a column renamed, the title picked, import, titles in the profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.layout_files import U_DATA

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

_FLAGS = ["0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0", "0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0"]
#: Like u.item, but a plot column comes before the title: inference takes the plot for the
#: title (both are unique wordy text), so the analyst must pick the title.
CATALOG = "".join(
    f"{i}|A story about thing number {i} and its friends.|Film number {i} (199{i})|"
    f"http://us.imdb.com/M/title-exact?x{i}|{_FLAGS[i % 2]}\n"
    for i in range(1, 7)
).encode("latin-1")


def _pick(page, label: str, option: str) -> None:
    box = page.get_by_role("combobox", name=label, exact=True)
    box.click()
    box.fill(option)  # the list filters as one types; Enter takes the first match
    page.keyboard.press("Enter")
    assert box.input_value() == option


def test_raw_item_and_data_files_renamed_title_picked_titles_in_profile(
    app_url: str, page, tmp_path: Path
) -> None:
    (tmp_path / "catalog.item").write_bytes(CATALOG)
    (tmp_path / "ratings.data").write_bytes(U_DATA)
    page.goto(f"{app_url}/data")
    page.get_by_role("heading", name="Data").wait_for()
    uploaders = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    uploaders.nth(0).set_input_files(str(tmp_path / "ratings.data"))
    page.get_by_text("Recognised: MovieLens 100k u.data").first.wait_for()
    uploaders.nth(1).set_input_files(str(tmp_path / "catalog.item"))
    page.get_by_text("Item metadata columns").wait_for()
    assert page.get_by_text("files are not allowed").count() == 0
    assert page.get_by_role("textbox", name="Dataset name").input_value() == "ml-100k"

    page.get_by_role("textbox", name="Item column 3", exact=True).fill("film")
    _pick(page, "Role of item column 2", "text")
    _pick(page, "Role of item column 3", "title")
    page.get_by_role("textbox", name="Item flags fold into the attribute").fill("genres")
    page.get_by_role("textbox", name="Dataset name").fill("raw-e2e")
    page.get_by_role("button", name="Validate").click()
    page.get_by_role("button", name="Import 30 interactions as 'raw-e2e'").click()
    page.get_by_text("Imported raw-e2e").wait_for()

    page.get_by_role("tab", name="Profile").click()
    profile = page.get_by_role("tabpanel", name="Profile")
    profile.get_by_text("Most interacted items").wait_for()
    page.screenshot(path=str(tmp_path / "profile.png"), full_page=True)
    grid = profile.locator('[data-testid="stDataFrame"]').first
    # Glide data grid draws on a canvas; its accessible table holds the cell texts, filled in
    # a moment after the grid appears (reading it at once raced the rendering in CI).
    cells = grid.locator('[role="gridcell"]')
    cells.filter(has_text="Film number 1 (1991)").first.wait_for(state="attached")
    texts = cells.all_inner_texts()
    assert any("Film number 1 (1991)" in c for c in texts)  # the picked title, not the id
    assert not any("A story about" in c for c in texts)  # nor the plot inference had guessed
