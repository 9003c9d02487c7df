"""A sub-page URL opened as a fresh server's very first request still gets app.py's frame."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e]


def test_first_request_to_a_sub_page_runs_inside_the_app(app_url: str, page) -> None:
    # app_url is this module's own fresh server: nothing has opened / on it yet
    page.goto(f"{app_url}/compare")
    page.get_by_role("heading", name="Compare").wait_for()
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.get_by_role("link", name="Preview").wait_for()  # app.py's titles, not file names
    links = nav.get_by_role("link").all_inner_texts()
    assert not [t for t in links if t.strip() in ("ui", "media", "app")], links
    page.get_by_text("Store: sqlite").wait_for()  # app.py's sidebar line ran
    page.get_by_role("link", name="Train").click()
    page.get_by_role("heading", name="Train").wait_for()
