"""In a real browser: upload MovieLens ratings + movies, map, validate, import, see the profile."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "recsys_core/data/samples/ml-latest-small"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_upload_map_import_and_profile(app_url: str, page, tmp_path: Path) -> None:
    page.goto(f"{app_url}/data")  # the Home page is the default
    page.get_by_role("heading", name="Data").wait_for()
    uploaders = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    uploaders.nth(0).set_input_files(str(SAMPLE / "ratings.csv"))
    page.get_by_text("Detected: CSV").first.wait_for()
    uploaders.nth(1).set_input_files(str(SAMPLE / "movies.csv"))
    page.get_by_text("Item metadata columns").wait_for()
    page.get_by_label("Dataset name").fill("ml-e2e")
    page.get_by_role("button", name="Validate").click()
    import_button = page.get_by_role("button", name="Import 100,836 interactions as 'ml-e2e'")
    import_button.click()
    page.get_by_text("Imported ml-e2e").wait_for()
    assert page.get_by_text("610 users").count() >= 1

    page.get_by_role("tab", name="Profile").click()
    profile = page.get_by_role("tabpanel", name="Profile")
    profile.get_by_text("Gini (items)").wait_for()
    assert profile.get_by_text("100,836").count() >= 1
    profile.locator(".js-plotly-plot").first.wait_for()
    assert profile.locator(".js-plotly-plot").count() >= 4
    page.screenshot(path=str(tmp_path / "profile.png"), full_page=True)
