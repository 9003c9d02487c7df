"""In a real browser on an empty store: the Home page's workflow and next step, the sample
loaded from there, a deep model's learning rate as typed, and a Tune search watched and
cancelled. Screenshots land in RECSYS_SCREENSHOTS (default: the test's tmp folder)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TRIAL_TIMEOUT_MS = 240_000
STEPS = ["1 · Data", "2 · Train", "3 · Compare", "4 · Explain", "4 · Preview", "5 · Export"]


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("RECSYS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _metric(page, label: str) -> str:
    box = page.get_by_test_id("stMetric").filter(has_text=label)
    return box.get_by_test_id("stMetricValue").inner_text().strip()


def test_home_then_train_forms_then_tune(app_url: str, page, tmp_path: Path) -> None:
    shots = _shots(tmp_path)
    page.goto(app_url)
    page.get_by_role("heading", name="Recsys Workbench").wait_for()
    main = page.get_by_test_id("stMain")
    for step in STEPS:
        main.get_by_role("link", name=step).wait_for()
    assert _metric(page, "Datasets") == "0"
    page.get_by_role("button", name="Load the MovieLens latest-small sample").click()
    main.get_by_role("link", name="Go to Train").wait_for(timeout=180_000)
    assert _metric(page, "Datasets") == "1" and _metric(page, "Versions") == "1"
    page.screenshot(path=str(shots / "home.png"), full_page=True)

    main.get_by_role("link", name="Go to Train").click()
    page.get_by_role("heading", name="Train").wait_for()
    models = page.get_by_test_id("stMultiSelect").filter(has_text="Models").locator("input")
    for name in ("neumf", "two_tower"):
        models.fill(name)
        models.press("Enter")
    page.keyboard.press("Escape")
    rates = {}
    for name in ("neumf", "two_tower"):
        box = page.get_by_test_id("stExpander").filter(has_text=f"{name} parameters")
        box.get_by_text(f"{name} parameters").click()
        rates[name] = box.get_by_role("spinbutton", name="Learning rate").input_value()
    assert rates == {"neumf": "0.0005", "two_tower": "0.005"}  # the defaults, not "0.00"
    page.screenshot(path=str(shots / "train.png"), full_page=True)

    page.get_by_role("link", name="Tune", exact=True).click()
    page.get_by_role("heading", name="Tune").wait_for()
    page.get_by_label("Trials").fill("300")
    page.get_by_label("Trials").press("Enter")
    page.get_by_role("button", name="Start").click()
    page.get_by_role("button", name="Cancel").wait_for()
    page.get_by_role("heading", name="Trials so far").wait_for()
    first_done = re.compile(r"trial (1/300, best|[2-9]\d*/300)")  # an EASE fit: seconds to a minute
    page.get_by_text(first_done).first.wait_for(timeout=TRIAL_TIMEOUT_MS)
    page.locator(".js-plotly-plot").first.wait_for()  # the history chart, while it runs
    assert page.get_by_test_id("stDataFrame").count() == 2  # the space editor and the trials
    page.screenshot(path=str(shots / "tune_running.png"), full_page=True)
    page.get_by_role("button", name="Cancel").click()
    cancelled = re.compile(r"Cancelled after \d+ of 300 trials")
    page.get_by_text(cancelled).wait_for(timeout=TRIAL_TIMEOUT_MS)
    page.get_by_text("carved out of the training data").wait_for()
    page.screenshot(path=str(shots / "tune_cancelled.png"), full_page=True)
