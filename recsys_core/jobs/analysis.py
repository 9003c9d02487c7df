"""Read side of runs for Compare, Preview and the CLI: metrics, per-user values, tests."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from db import Store
from db.runs import Run, RunRepository
from recsys_core.columns import Columns
from recsys_core.errors import InputError
from recsys_core.evaluation.significance import paired_tests
from recsys_core.jobs.labels import format_duration, run_duration_s, run_label
from recsys_core.jobs.runs import get_run
from recsys_core.jobs.summary import run_summary


def list_runs(store: Store, dataset_id: int | None = None) -> list[Run]:
    with store.session() as s:
        return RunRepository(s).all(dataset_id)


def runs_table(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run for the history tables (newest first), with its wall-clock duration."""
    return pd.DataFrame(
        [
            {
                "run": r.id,
                "label": run_label(r),
                "model": r.model,
                "status": r.status,
                "progress": r.progress_done / r.progress_total if r.progress_total else 0.0,
                "stage": r.progress_message,
                "NDCG@10": run_summary(r).metric("NDCG@10"),
                "duration": format_duration(run_duration_s(r)),
                "fit_s": r.timings.get("fit_s"),
                "created": r.created_at,
                "error": (r.error or "").splitlines()[0] if r.error else "",
            }
            for r in runs
        ]
    )


def run_metrics(store: Store, run: Run) -> pd.DataFrame:
    """Metric label -> value, ci_low, ci_high (empty unless the run is done)."""
    with store.session() as s:
        return RunRepository(s).metrics(run.id)


def compare_metrics(store: Store, run_ids: Sequence[int]) -> pd.DataFrame:
    """Long table: run, label, metric, value, ci_low, ci_high; labels made unique."""
    frames = []
    for run in _done_runs(store, run_ids):
        m = run_metrics(store, run).reset_index()
        frames.append(m.assign(run=run.id, label=display_label(run)))
    if not frames:
        return pd.DataFrame(columns=["run", "label", "metric", "value", "ci_low", "ci_high"])
    return pd.concat(frames, ignore_index=True)


def display_label(run: Run) -> str:
    """The run's label on every page: name, key parameters, dataset version and id."""
    return run_label(run)


def per_user_values(store: Store, run_ids: Sequence[int], metric: str) -> dict[str, pd.Series]:
    """Per-user values of one metric for each run, indexed by user id (NaN users dropped)."""
    out = {}
    for run in _done_runs(store, run_ids):
        with store.session() as s:
            wide = RunRepository(s).user_metrics(run.id, Columns.user)
        if metric in wide.columns:
            out[display_label(run)] = wide.set_index(Columns.user)[metric].dropna()
    return out


def significance(store: Store, run_ids: Sequence[int], metric: str) -> pd.DataFrame:
    """Paired tests on the users every run evaluated (Holm-corrected, with effect sizes)."""
    values = per_user_values(store, run_ids, metric)
    if len(values) < 2:
        raise InputError("Pick at least two finished runs to test differences.")
    return paired_tests(values)


def run_segments(store: Store, run: Run) -> pd.DataFrame:
    """The segment rows the run computed when it finished."""
    return run_summary(run).segment_frame()


def compare_segments(store: Store, run_ids: Sequence[int]) -> pd.DataFrame:
    frames = [
        run_segments(store, r).assign(label=display_label(r)) for r in _done_runs(store, run_ids)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _done_runs(store: Store, run_ids: Sequence[int]) -> list[Run]:
    runs = [get_run(store, rid) for rid in run_ids]
    return [r for r in runs if r.status == "done"]


def modality_tables(runs: Sequence[Run]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fusion runs' learned gate weights and ablation drops, long tables for charts."""
    gates, ablation = [], []
    for run in runs:
        report = run_summary(run).model
        for modality, weight in report.modality_weights.items():
            gates.append({"label": display_label(run), "modality": modality, "weight": weight})
        ablation += [{"label": display_label(run), **row} for row in report.ablation]
    return pd.DataFrame(gates), pd.DataFrame(ablation)


def cold_item_notes(runs: Sequence[Run]) -> list[str]:
    """Plain words for runs that cannot rank items without training data, when that matters."""
    cold_view = any(
        s.view == "cold vs warm items" and s.segment.startswith("cold") and s.n_users > 0
        for r in runs
        for s in run_summary(r).segments
    )
    if not cold_view:
        return []
    blind = [display_label(r) for r in runs if run_summary(r).model.supports_cold_items is False]
    if len(blind) == 1:
        return [
            f"{blind[0]} is a collaborative model: it cannot recommend items that have no "
            "training interactions, so it scores 0 on cold items by construction."
        ]
    if not blind:
        return []
    # one note for all of them: eleven boxes of the same sentence pushed the leaderboard down
    who = f"All {len(blind)} runs" if len(blind) == len(runs) else ", ".join(blind)
    return [
        f"{who} are collaborative models: they cannot recommend items that have no training "
        "interactions, so they score 0 on cold items by construction"
        + ("." if len(blind) == len(runs) else " (the others can).")
    ]


def ranker_note(run: Run) -> str | None:
    """For a two-stage ranker run: says plainly when it does not beat its best candidate model."""
    from recsys_core.ranking import comparison_note

    summary = run_summary(run)
    candidates = {
        name: {k: v for k, v in values.items() if v is not None}
        for name, values in summary.model.candidates.items()
    }
    if not candidates:
        return None
    main = {k: v for k, v in summary.metrics.items() if k.startswith("NDCG@") and v is not None}
    return comparison_note(main, candidates)
