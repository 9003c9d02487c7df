"""Find the best model: every family searched within one time budget, the best ones run for real.

The search never sees the test side: one validation split is carved from the training side
(:func:`recsys_core.tuning.tuning_split`) and every family's trials are fitted on the rest and
scored on it. A tuned config replaces a family's defaults only when it beats them on that
side by more than the noise of one split (:func:`beats_defaults`). Families are ranked by
their validation value; the top ones are then trained on the whole training side as ordinary
runs, and a blend and a two-stage ranker over the best families follow (:mod:`._final`);
all are reported on test. The one to use is picked on validation alone, where every candidate
is judged on the same users with the same generator fits and nothing is credited with the
luck of its own pick (:mod:`._judge`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from db import Store
from recsys_core.errors import InputError
from recsys_core.jobs.datasets import load_interactions
from recsys_core.models.registry import REGISTRY
from recsys_core.progress import Progress, report
from recsys_core.splitting import Split
from recsys_core.tuning import (
    TuneResult,
    TuneSpec,
    metric_k,
    tune,
    tuning_split,
    validated,
)
from recsys_core.tuning_auto._final import Family, FinalRun, choose, final_runs, ranker_params
from recsys_core.tuning_auto._judge import Cancelled, cross_fitted, judge_final, weight_grid
from recsys_core.tuning_auto._spec import AutoSpec

__all__ = [
    "CHEAP",
    "DEEP",
    "AutoResult",
    "AutoSpec",
    "FinalRun",
    "beats_defaults",
    "choose",
    "cross_fitted",
    "families_for",
    "find_best",
    "parse_auto_spec",
    "weight_grid",
]

#: Strong, cheap families first: on MovieLens-like data they lead, and each trial is seconds.
CHEAP = ("ease", "rp3beta", "item_knn", "ials", "als", "slim", "user_knn", "bpr")
#: Deep families join only when the budget leaves each of them several minutes.
DEEP = ("multvae", "neumf", "two_tower")
DEEP_FROM_MINUTES = 30.0
#: A family's running trial is abandoned once the family has used this multiple of its share.
OVERRUN = 1.5
#: One-sided error rate of the test "the tuned config beats the defaults", shared by all of
#: a family's trials (Bonferroni): the best of 40 trials on one validation split looks better
#: than it is (last session's tuned ALS gained on validation and lost .028 NDCG@10 on test).
NOISE_ALPHA = 0.05


@dataclass(frozen=True)
class AutoResult:
    """What an automatic search found.

    Attributes:
        families: one row per family, best first: rank, model, validation (best trial's
            value of ``metric``), trials (completed), seconds, params (JSON of the best trial),
            note (why a family has no value or was cut short).
        runs: one row per final run: label, kind (model / blend / ranker), model, run_id,
            validation, test (``metric`` on the real test side), status, chosen (the run
            with the best validation value: the one to use; test never decides it).
        metric: the metric label.
        n_fit, n_validation: interactions the trials were fitted and scored on.
        cancelled: stopped by the analyst; the tables cover what finished.
        seconds: wall time of the whole search.
        overrun_s: how far ``seconds`` went past the budget (0 within it): the final runs
            are not cut for time, since a half-trained model would say nothing.
    """

    families: pd.DataFrame
    runs: pd.DataFrame
    metric: str
    n_fit: int
    n_validation: int
    cancelled: bool
    seconds: float
    overrun_s: float = 0.0


def parse_auto_spec(values: dict[str, Any]) -> AutoSpec:
    """Validate a spec with one InputError naming every problem."""
    spec = validated(AutoSpec, values, "search settings")
    metric_k(spec.metric)
    return spec


def families_for(spec: AutoSpec) -> list[str]:
    """The families searched: the analyst's list, or the cheap ones (+ deep on a long budget)."""
    if spec.families:
        return list(spec.families)
    deep = [f for f in DEEP if f in REGISTRY] if spec.budget_minutes >= DEEP_FROM_MINUTES else []
    return [*CHEAP, *deep]


def _family_spec(spec: AutoSpec, model: str, seconds: float) -> TuneSpec:
    return TuneSpec(
        dataset=spec.dataset, version=spec.version, model=model, n_trials=spec.max_trials,
        metric=spec.metric, split=spec.split, validation_fraction=spec.validation_fraction,
        seed=spec.seed, timeout_s=max(seconds, 1e-3),
    )  # fmt: skip


def find_best(
    store: Store,
    spec: AutoSpec,
    progress: Progress | None = None,
    *,
    stop: Callable[[], bool] | None = None,
    on_update: Callable[[pd.DataFrame, pd.DataFrame], None] | None = None,
) -> AutoResult:
    """Search every family, rank them on validation, then run the best ones on the test side.

    Each family gets an equal share of the search time still left (a family that finishes
    its trials early leaves its time to the rest); a trial running past ``OVERRUN`` times
    its family's share is abandoned, except the first (the defaults): every family gets its
    defaults' value, even once the search time is spent. ``stop`` cancels at once (the
    running fit or run is abandoned); ``on_update`` receives the families and runs tables
    after every step.

    Raises:
        InputError: a bad spec, an empty validation side, or no family completing a trial.
    """
    started = time.monotonic()
    families = families_for(spec)
    inter = load_interactions(store, spec.dataset, spec.version)
    parts = tuning_split(inter, _family_spec(spec, families[0], 1.0))
    steps = len(families) + spec.top_n + 3
    rows: list[dict[str, Any]] = []
    cancelled = False
    search_until = started + spec.search_share * spec.budget_minutes * 60.0
    for i, model in enumerate(families):
        if stop is not None and stop():
            cancelled = True
            break
        share = (search_until - time.monotonic()) / (len(families) - i)
        report(progress, i, steps, f"searching {model} ({i + 1}/{len(families)})")
        rows.append(_search(store, spec, model, parts, share, stop, progress, (i, steps)))
        cancelled = stop is not None and stop()
        if on_update is not None:
            on_update(_families_frame(rows, spec.metric), _runs_frame([], spec.metric))
    table = _families_frame(rows, spec.metric)
    done: list[FinalRun] = []
    if not cancelled:
        done = _final_stage(store, spec, table, (parts, inter), stop, progress, on_update)
        cancelled = stop is not None and stop()
    report(progress, steps, steps, "cancelled" if cancelled else "done")
    seconds = time.monotonic() - started
    return AutoResult(
        families=table, runs=_runs_frame(done, spec.metric), metric=spec.metric,
        n_fit=len(parts.train), n_validation=len(parts.test), cancelled=cancelled,
        seconds=seconds, overrun_s=max(seconds - spec.budget_minutes * 60.0, 0.0),
    )  # fmt: skip


def _final_stage(
    store: Store,
    spec: AutoSpec,
    table: pd.DataFrame,
    data: tuple[Split, Any],
    stop: Callable[[], bool] | None,
    progress: Progress | None,
    on_update: Callable[[pd.DataFrame, pd.DataFrame], None] | None,
) -> list[FinalRun]:
    """The blend and the ranker judged on validation (:func:`._judge.judge_final`), then the
    runs on the real split; cancelled while judging: no run."""
    parts, inter = data
    ranked = table[table["validation"].notna()]
    if ranked.empty:
        raise InputError("No family completed a trial: " + "; ".join(table["note"]))
    columns = zip(ranked["model"], ranked["params"], ranked["validation"], strict=True)
    families: list[Family] = [(str(m), json.loads(str(p)), float(v)) for m, p, v in columns]
    top = families[: spec.top_n]
    steps = len(table) + spec.top_n + 3
    params = ranker_params(families, inter, spec.ranker_generators) if len(families) > 1 else None
    try:
        step = (len(table) + 1, steps)
        blend, ranker = judge_final(top, params, parts, spec, stop, progress, step)
    except Cancelled:
        return []

    def update(runs: list[FinalRun]) -> None:
        if on_update is not None:
            on_update(table, _runs_frame(runs, spec.metric))

    return final_runs(
        store, spec, top, blend, ranker, stop=stop, progress=progress,
        step=(len(table) + 2, steps), on_run=update,
    )  # fmt: skip


def _search(
    store: Store,
    spec: AutoSpec,
    model: str,
    parts: Split,
    seconds: float,
    stop: Callable[[], bool] | None,
    progress: Progress | None,
    step: tuple[int, int],
) -> dict[str, Any]:
    """One family's search within ``seconds`` (none left: its defaults trial only); a row of
    the families table."""
    row: dict[str, Any] = {"model": model, "validation": np.nan, "trials": 0, "params": "{}"}
    late = "no search time left: defaults only" if seconds <= 0 else ""
    seconds = max(seconds, 1e-3)
    t0 = time.monotonic()
    hard = t0 + OVERRUN * seconds

    per_user: dict[int, np.ndarray] = {}

    def family_stop() -> bool:
        # The defaults trial is never cut for time: without it the family has no value, can
        # neither be ranked nor feed the ranker (a loaded machine cut SLIM's this way).
        return (stop is not None and stop()) or (bool(per_user) and time.monotonic() > hard)

    def relay(done: int, total: int, message: str = "") -> None:
        report(progress, step[0], step[1], f"{model}: {message}")

    try:
        result = tune(
            store, _family_spec(spec, model, seconds), relay, stop=family_stop, parts=parts,
            detail=True, per_user=per_user,
        )  # fmt: skip
    except InputError as exc:
        return {**row, "seconds": time.monotonic() - t0, "note": str(exc)}
    complete = int((result.trials["state"] == "complete").sum())
    cut = result.cancelled and not (stop is not None and stop())
    params, value, note = _kept(result, per_user)
    if cut:
        note = "; ".join(filter(None, [note, "its last trial overran its time share"]))
    note = "; ".join(filter(None, [late, note]))
    return {
        **row, "validation": value, "trials": complete, "params": json.dumps(params),
        "seconds": time.monotonic() - t0, "note": note,
    }  # fmt: skip


def beats_defaults(defaults: np.ndarray, tuned: np.ndarray, n_trials: int) -> tuple[bool, float]:
    """Whether a tuned config's per-user validation values beat the defaults' by more than
    noise, and the mean gain it has to exceed.

    A paired one-sided z-test on the per-user differences (same users, same split), at
    ``NOISE_ALPHA`` shared by the ``n_trials - 1`` configs compared with the defaults: the
    more trials, the higher the bar, since the best of many noisy values is flattered by the
    pick. Fewer than two users never clear it.
    """
    diff = np.asarray(tuned, dtype=np.float64) - np.asarray(defaults, dtype=np.float64)
    if len(diff) < 2:
        return False, float("inf")
    z = float(norm.ppf(1.0 - NOISE_ALPHA / max(n_trials - 1, 1)))
    bar = z * float(diff.std(ddof=1)) / np.sqrt(len(diff))
    return bool(diff.mean() > bar), bar


def _kept(result: TuneResult, per_user: dict[int, np.ndarray]) -> tuple[dict[str, Any], float, str]:
    """The best trial's params and value, or the defaults ({}) and the defaults trial's value
    (trial 0, enqueued first) when the best does not clear :func:`beats_defaults`."""
    done = result.trials[result.trials["state"] == "complete"]
    values, numbers = done["value"].to_numpy(dtype=float), done["number"].to_numpy()
    best = int(numbers[np.argmax(values)])
    if best == 0 or 0 not in per_user or best not in per_user:
        return ({} if best == 0 else result.best_params), result.best_value, ""
    first = float(values[numbers == 0][0])
    wins, bar = beats_defaults(per_user[0], per_user[best], len(done))
    if wins:
        return result.best_params, result.best_value, ""
    gain = result.best_value - first
    note = (
        f"tuned {result.best_value:.4f} (+{gain:.4f}) is within noise (+{bar:.4f}): defaults kept"
    )
    return {}, first, note


def _families_frame(rows: list[dict[str, Any]], metric: str) -> pd.DataFrame:
    columns = ["model", "validation", "trials", "seconds", "params", "note"]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sort_values("validation", ascending=False, na_position="last", kind="stable")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame.reset_index(drop=True)


def _runs_frame(runs: list[FinalRun], metric: str) -> pd.DataFrame:
    columns = ["label", "kind", "model", "run_id", "validation", "test", "status"]
    frame = pd.DataFrame([vars(r) for r in runs], columns=columns)
    return frame.assign(chosen=choose(frame))
