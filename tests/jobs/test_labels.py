"""Run labels, p-values and durations as every page and the CLI print them."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from db.runs import Run
from recsys_core.jobs.labels import (
    format_duration,
    format_p,
    key_params,
    run_duration_s,
    run_label,
)


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0312345, "0.0312"),
        (0.05, "0.05"),
        (1.0, "1"),
        (0.000312, "0.000312"),
        (2.5e-7, "2.5e-07"),
        (1.23456e-12, "1.23e-12"),
        (1e-16, "1e-16"),
        (9.99e-17, "< 1e-16"),
        (2e-33, "< 1e-16"),
        (0.0, "< 1e-16"),
        (math.nan, "–"),
        (None, "–"),
    ],
)
def test_p_values_have_three_significant_digits_and_a_floor(p: float | None, text: str) -> None:
    assert format_p(p) == text


def test_p_values_stay_short_whatever_their_size() -> None:
    for exponent in range(0, 400):
        assert len(format_p(10.0**-exponent * 0.123456)) <= 8


def _run(**changes: Any) -> Run:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    base = Run(
        id=2, dataset_id=1, version_id=5, label="ease", model="ease",
        spec={"version": 2, "params": {"reg": 250.0}}, status="done", error=None,
        progress_done=1, progress_total=1, progress_message="", cancel_requested=False,
        worker=None, heartbeat_at=None, timings={"fit_s": 1.0, "evaluate_s": 0.5}, summary={},
        artifact_path=None, artifact_sha256=None, created_at=start, started_at=start,
        finished_at=start + timedelta(seconds=185),
    )  # fmt: skip
    return replace(base, **changes)


def test_label_carries_changed_parameters_version_and_id() -> None:
    assert run_label(_run()) == "ease · v2 · #2"  # 250 is EASE's default: nothing to show
    changed = _run(spec={"version": 2, "params": {"reg": 500.0, "random_state": 1}})
    assert run_label(changed) == "ease reg=500 · v2 · #2"


def test_label_shows_at_most_three_short_parameters() -> None:
    params = {"n_neighbors": 50, "shrinkage": 10.0, "similarity": "jaccard", "min_support": 3}
    shown = key_params("item_knn", params)
    assert len(shown) <= 3 and shown[0] == "k=50"


def test_unknown_parameters_and_derived_runs_stay_plain() -> None:
    assert key_params("ease", {"not_a_param": 1}) == []
    blend = _run(model="hybrid", label="blend", spec={"version": 1, "derived": {"kind": "blend"}})
    assert run_label(blend) == "blend · v1 · #2"


def test_duration_from_start_and_finish_or_the_phases() -> None:
    assert run_duration_s(_run()) == 185.0
    assert run_duration_s(_run(started_at=None)) == 1.5
    assert format_duration(185.0) == "3 min 05 s"
    assert format_duration(1.5) == "1.5 s"
    assert format_duration(42.4) == "42 s"
    assert format_duration(3725.0) == "1 h 02 min"
    assert format_duration(None) == "–"


def test_cold_item_caveat_is_one_note_for_many_collaborative_runs() -> None:
    from recsys_core.jobs.analysis import cold_item_notes

    cold = {"view": "cold vs warm items", "segment": "cold items", "metric": "Recall@10",
            "n_users": 5}  # fmt: skip
    summary = {"segments": [cold], "model": {"supports_cold_items": False}}
    runs = [_run(id=i, summary=summary) for i in (1, 2, 3)]
    (note,) = cold_item_notes(runs)
    assert note.startswith("All 3 runs are collaborative models")
    content = _run(id=4, summary={**summary, "model": {"supports_cold_items": True}})
    (note,) = cold_item_notes([*runs, content])
    assert "#1" in note and "#3" in note and "#4" not in note and "(the others can)" in note
    assert cold_item_notes([_run(summary={"model": {"supports_cold_items": False}})]) == []
