"""In a real browser: upload an experiment log with a planted SRM, read the alarm and the lifts;
then load the synthetic sample and read its healthy read-out."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_core.experiments import synthetic_log

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_upload_a_log_and_read_the_result(app_url: str, page, tmp_path: Path) -> None:
    log = tmp_path / "checkout_test.csv"
    frame = synthetic_log(12_000, {"A": 0.0, "B": 0.08}, split={"A": 0.54, "B": 0.46}, seed=4)
    frame.to_csv(log, index=False)
    page.goto(f"{app_url}/experiments")
    page.get_by_role("heading", name="Experiments").wait_for()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(
        str(log)
    )
    alarm = page.get_by_text("Sample-ratio mismatch: users split A 53.7%, B 46.3%")
    alarm.wait_for()
    assert page.get_by_text("do not trust the lifts below").count() == 1
    panel = page.get_by_role("tabpanel", name="Analyse a log")
    panel.locator(".js-plotly-plot").first.wait_for()
    assert panel.get_by_text("Relative lift over control").count() >= 1
    # the alarm sits above the lift chart
    alarm_box = alarm.bounding_box()
    chart_box = panel.locator(".js-plotly-plot").first.bounding_box()
    assert alarm_box is not None and chart_box is not None
    assert alarm_box["y"] < chart_box["y"]

    page.get_by_role("button", name="Load the synthetic sample").click()
    page.get_by_role("button", name="Remove checkout_test.csv").click()
    page.get_by_text("No sample-ratio mismatch").wait_for()
    assert page.get_by_text("new_ranker has a planted +6% lift").count() == 1
    page.screenshot(path=str(tmp_path / "experiments.png"), full_page=True)
