"""Every phase of a run reports progress, and no label ends in a bare "stage:"."""

from __future__ import annotations

import pytest

from db import Store
from db.runs import RunRepository
from recsys_core.data.samples import synthetic
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.datasets import import_dataset
from recsys_core.jobs.runs import progress_label

PHASES = ["loading", "splitting", "fitting", "recommending", "evaluating", "intervals",
          "segments", "explaining", "reporting", "saving"]  # fmt: skip


class _Recording(jobs._Reporter):
    """The run's own reporter, also keeping every call (before the twice-a-second filter)."""

    def __init__(self, store: Store, run_id: int) -> None:
        super().__init__(store, run_id)
        self.calls: list[tuple[str, int, int, str]] = []

    def __call__(self, done: int, total: int, message: str = "") -> None:
        self.calls.append((self.stage, done, total, progress_label(self.stage, message)))
        super().__call__(done, total, message)


@pytest.mark.parametrize(
    ("stage", "message", "label"),
    [
        ("loading", "", "loading"),
        ("fitting", "epoch 2", "fitting: epoch 2"),
        ("", "x", "x"),
        (" saving ", " ", "saving"),
    ],
)
def test_progress_label_never_ends_in_a_bare_colon(stage: str, message: str, label: str) -> None:
    assert progress_label(stage, message) == label


def test_every_phase_reports_and_batches_report_as_they_finish(store: Store) -> None:
    import_dataset(store, "syn", synthetic(150, 80, 4000, seed=2))
    spec = jobs.parse_spec({"dataset": "syn", "model": "item_knn", "ks": [5, 10]})
    run = jobs.submit(store, spec)
    with store.session() as s:
        RunRepository(s).start(run.id, "test")
    reporter = _Recording(store, run.id)
    result = jobs._compute(store, run, reporter)
    stages = list(dict.fromkeys(stage for stage, *_ in reporter.calls))
    assert stages == PHASES
    assert not [label for *_, label in reporter.calls if label.endswith(":")]
    ticks = [(d, t) for stage, d, t, _ in reporter.calls if stage == "recommending" and d]
    assert ticks and ticks[-1][0] == ticks[-1][1] == len(result.per_user)
    segment_views = [label for stage, d, _, label in reporter.calls if stage == "segments" and d]
    assert len(segment_views) >= 4  # one report per segment view, each bootstraps its intervals


def test_a_phase_without_reports_still_moves_its_label_and_sees_a_cancel(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import_dataset(store, "syn", synthetic(50, 30, 600, seed=2))
    run = jobs.submit(store, jobs.parse_spec({"dataset": "syn", "model": "most_popular"}))
    with store.session() as s:
        RunRepository(s).start(run.id, "test")
    monkeypatch.setattr(jobs, "TICK_S", 0.05)
    reporter = jobs._Reporter(store, run.id)
    with reporter.ticking("reporting"):
        time.sleep(0.4)  # stands for a model report that says nothing while it works
        seen = jobs.get_run(store, run.id).progress_message
    assert seen.startswith("reporting: ") and seen.endswith(" s")
    with pytest.raises(jobs.Cancelled), reporter.ticking("saving"):
        with store.session() as s:  # cancelled while the phase runs: the ticking thread sees it
            RunRepository(s).request_cancel(run.id)
        time.sleep(0.3)
