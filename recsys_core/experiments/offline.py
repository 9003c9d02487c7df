"""Offline vs online: did the offline winner also win online, and which offline metric knew?

Every experiment whose control and at least one other variant are linked to finished runs
gives one pair per (variant, offline metric, online metric): the relative offline delta
between the variant's run and the control's run, next to the online lift. Across
experiments, the agreement table tells, per offline metric, how often its sign matched the
online lift's and how well it ranks the online lifts (Spearman).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from db import Store
from db.experiments import Experiment
from recsys_core.experiments.stored import analyze_stored, list_experiments
from recsys_core.jobs.analysis import run_metrics
from recsys_core.jobs.runs import get_run

__all__ = ["PAIR_COLUMNS", "OfflineOnline", "offline_vs_online"]

PAIR_COLUMNS = [
    "experiment",
    "variant",
    "control",
    "run",
    "control_run",
    "same_data",
    "online_metric",
    "online_lift",
    "online_ci_low",
    "online_ci_high",
    "online_significant",
    "offline_metric",
    "offline_control",
    "offline_variant",
    "offline_delta",
]
AGREEMENT_COLUMNS = [
    "offline_metric",
    "online_metric",
    "pairs",
    "sign_agreement",
    "spearman",
    "pearson",
]


@dataclass(frozen=True, eq=False)
class OfflineOnline:
    """``pairs``: one row per variant x offline metric x online metric; ``agreement``: per
    (offline metric, online metric) across all pairs; ``skipped``: why experiments are absent."""

    pairs: pd.DataFrame
    agreement: pd.DataFrame
    skipped: tuple[str, ...]


def _offline(store: Store, run_id: int) -> tuple[pd.Series, int]:
    run = get_run(store, run_id)
    return run_metrics(store, run)["value"].astype(float), run.version_id


def _pairs(store: Store, experiment: Experiment) -> pd.DataFrame:
    result = analyze_stored(store, experiment.name)
    control = result.spec.control
    base, base_version = _offline(store, experiment.runs[control])  # type: ignore[arg-type]
    frames = []
    for variant, run_id in experiment.runs.items():
        if variant == control or run_id is None:
            continue
        values, version = _offline(store, run_id)
        shared = base.index.intersection(values.index)
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = values[shared] / base[shared] - 1
        offline = pd.DataFrame(
            {
                "offline_metric": shared,
                "offline_control": base[shared].to_numpy(),
                "offline_variant": values[shared].to_numpy(),
                "offline_delta": delta.to_numpy(),
            }
        )
        online = result.lifts[result.lifts["variant"] == variant].rename(
            columns={
                "metric": "online_metric",
                "lift": "online_lift",
                "ci_low": "online_ci_low",
                "ci_high": "online_ci_high",
                "significant": "online_significant",
            }
        )
        online = online.assign(
            experiment=experiment.name,
            run=run_id,
            control_run=experiment.runs[control],
            same_data=version == base_version,
        )
        frames.append(online.merge(offline, how="cross"))
    return pd.concat(frames, ignore_index=True)[PAIR_COLUMNS] if frames else _empty(PAIR_COLUMNS)


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in columns})


def _agreement(pairs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (offline, online), group in pairs.groupby(["offline_metric", "online_metric"], sort=True):
        x, y = group["offline_delta"].to_numpy(float), group["online_lift"].to_numpy(float)
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        varied = len(x) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0
        rows.append(
            {
                "offline_metric": offline,
                "online_metric": online,
                "pairs": len(x),
                "sign_agreement": float(np.mean(np.sign(x) == np.sign(y))) if len(x) else np.nan,
                "spearman": float(stats.spearmanr(x, y).statistic) if varied else np.nan,
                "pearson": float(stats.pearsonr(x, y).statistic) if varied else np.nan,
            }
        )
    frame = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    return frame.sort_values(
        ["online_metric", "spearman", "sign_agreement"],
        ascending=[True, False, False],
        ignore_index=True,
    )


def offline_vs_online(store: Store) -> OfflineOnline:
    """Pairs and agreement across every stored experiment with linked runs."""
    frames, skipped = [], []
    for experiment in list_experiments(store):
        control = str(experiment.spec.get("control"))
        linked = [v for v, r in experiment.runs.items() if r is not None and v != control]
        if experiment.runs.get(control) is None or not linked:
            skipped.append(
                f"{experiment.name}: link the control {control!r} and at least one other "
                "variant to runs to compare them."
            )
            continue
        frames.append(_pairs(store, experiment))
    pairs = pd.concat(frames, ignore_index=True) if frames else _empty(PAIR_COLUMNS)
    return OfflineOnline(pairs, _agreement(pairs), tuple(skipped))
