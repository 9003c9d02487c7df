"""Find the best model: every family searched within one time budget, the best ones run for real.

The search never sees the test side: one validation split is carved from the training side
(:func:`recsys_core.tuning.tuning_split`) and every family's trials are fitted on the rest and
scored on it. Families are ranked by their best validation value; the top ones are then
trained on the whole training side as ordinary runs, and a blend (weights picked on the same
validation side) and a two-stage ranker of them follow, so each is reported on test.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from db import Store
from db.runs import RUNNING, Run, RunRepository, run_heartbeat
from recsys_core.errors import InputError
from recsys_core.evaluation import evaluate
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.datasets import load_interactions, resolve
from recsys_core.jobs.derived import derive_spec
from recsys_core.jobs.summary import run_summary
from recsys_core.models.hybrid import Hybrid
from recsys_core.models.registry import REGISTRY, make_model
from recsys_core.progress import Progress, report
from recsys_core.splitting import Split
from recsys_core.splitting.configs import RandomHoldout, SplitConfig
from recsys_core.tuning import TuneSpec, metric_k, tune, tuning_split, validated

__all__ = [
    "CHEAP",
    "DEEP",
    "AutoResult",
    "AutoSpec",
    "FinalRun",
    "families_for",
    "find_best",
    "parse_auto_spec",
]

#: Strong, cheap families first: on MovieLens-like data they lead, and each trial is seconds.
CHEAP = ("ease", "rp3beta", "item_knn", "ials", "als", "slim", "user_knn", "bpr")
#: Deep families join only when the budget leaves each of them several minutes.
DEEP = ("multvae", "neumf", "two_tower")
DEEP_FROM_MINUTES = 30.0
#: A family's running trial is abandoned once the family has used this multiple of its share.
OVERRUN = 1.5


class AutoSpec(BaseModel):
    """Everything that determines an automatic search: same spec and seed, same trials."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="Dataset name.")
    version: int | None = Field(default=None, ge=1, description="Dataset version; latest if unset.")
    budget_minutes: float = Field(gt=0.0, le=24 * 60, description="Time for the whole search.")
    metric: str = Field(default="NDCG@10", description="Validation metric families are ranked by.")
    split: SplitConfig = Field(
        default_factory=RandomHoldout,
        description="The real split; its test side is never tuned on.",
    )
    validation_fraction: float = Field(
        default=0.2, gt=0.0, lt=1.0, description="Share of train carved out to score trials on."
    )
    seed: int = Field(default=42, description="Seed for the split, the samplers and the models.")
    families: list[str] | None = Field(
        default=None, description="Families searched, in order; empty: cheap strong ones first."
    )
    top_n: int = Field(default=3, ge=1, le=5, description="Best families trained as runs.")
    max_trials: int = Field(default=40, ge=1, le=1000, description="Trials per family at most.")
    search_share: float = Field(
        default=0.6, gt=0.0, lt=1.0, description="Share of the budget spent searching."
    )

    @field_validator("families")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        unknown = [f for f in value or [] if f not in REGISTRY]
        if unknown:
            raise ValueError(f"unknown families {unknown}; choose from {', '.join(REGISTRY)}")
        if value is not None and not value:
            raise ValueError("give at least one family")
        return value


@dataclass(frozen=True)
class AutoResult:
    """What an automatic search found.

    Attributes:
        families: one row per family, best first: rank, model, validation (best trial's
            value of ``metric``), trials (completed), seconds, params (JSON of the best trial),
            note (why a family has no value or was cut short).
        runs: one row per final run: label, kind (model / blend / ranker), model, run_id,
            validation, test (``metric`` on the real test side), status.
        metric: the metric label.
        n_fit, n_validation: interactions the trials were fitted and scored on.
        cancelled: stopped by the analyst; the tables cover what finished.
        seconds: wall time of the whole search.
    """

    families: pd.DataFrame
    runs: pd.DataFrame
    metric: str
    n_fit: int
    n_validation: int
    cancelled: bool
    seconds: float


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
    its family's share is abandoned. ``stop`` cancels at once (the running fit or run is
    abandoned); ``on_update`` receives the families and runs tables after every step.

    Raises:
        InputError: a bad spec, an empty validation side, or no family completing a trial.
    """
    started = time.monotonic()
    families = families_for(spec)
    inter = load_interactions(store, spec.dataset, spec.version)
    parts = tuning_split(inter, _family_spec(spec, families[0], 1.0))
    steps = len(families) + spec.top_n + 2
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
        ranked = table[table["validation"].notna()]
        if ranked.empty:
            raise InputError("No family completed a trial: " + "; ".join(table["note"]))
        head = ranked.head(spec.top_n)
        columns = zip(head["model"], head["params"], head["validation"], strict=True)
        top = [(str(m), json.loads(str(p)), float(v)) for m, p, v in columns]

        def update(runs: list[FinalRun]) -> None:
            if on_update is not None:
                on_update(table, _runs_frame(runs, spec.metric))

        weights = _blend_weights(top, parts, spec) if len(top) > 1 else None
        done = final_runs(
            store, spec, top, weights, stop=stop, progress=progress,
            step=(len(families), steps), on_run=update,
        )  # fmt: skip
        cancelled = stop is not None and stop()
    report(progress, steps, steps, "cancelled" if cancelled else "done")
    return AutoResult(
        families=table, runs=_runs_frame(done, spec.metric), metric=spec.metric,
        n_fit=len(parts.train), n_validation=len(parts.test), cancelled=cancelled,
        seconds=time.monotonic() - started,
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
    """One family's search within ``seconds``; a row of the families table."""
    row: dict[str, Any] = {"model": model, "validation": np.nan, "trials": 0, "params": "{}"}
    if seconds <= 0:
        return {**row, "seconds": 0.0, "note": "no search time left"}
    t0 = time.monotonic()
    hard = t0 + OVERRUN * seconds

    def family_stop() -> bool:
        return (stop is not None and stop()) or time.monotonic() > hard

    def relay(done: int, total: int, message: str = "") -> None:
        report(progress, step[0], step[1], f"{model}: {message}")

    try:
        result = tune(
            store, _family_spec(spec, model, seconds), relay, stop=family_stop, parts=parts,
            detail=True,
        )  # fmt: skip
    except InputError as exc:
        return {**row, "seconds": time.monotonic() - t0, "note": str(exc)}
    complete = int((result.trials["state"] == "complete").sum())
    cut = result.cancelled and not (stop is not None and stop())
    return {
        **row, "validation": result.best_value, "trials": complete,
        "params": json.dumps(result.best_params), "seconds": time.monotonic() - t0,
        "note": "its last trial overran its time share and was abandoned" if cut else "",
    }  # fmt: skip


def _families_frame(rows: list[dict[str, Any]], metric: str) -> pd.DataFrame:
    columns = ["model", "validation", "trials", "seconds", "params", "note"]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sort_values("validation", ascending=False, na_position="last", kind="stable")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame.reset_index(drop=True)


def _runs_frame(runs: list[FinalRun], metric: str) -> pd.DataFrame:
    columns = ["label", "kind", "model", "run_id", "validation", "test", "status"]
    return pd.DataFrame([vars(r) for r in runs], columns=columns)


def _weight_grid(n: int) -> list[tuple[float, ...]]:
    """Weight vectors on a simplex grid (tenths for two models, quarters for more), each
    giving at least two models a share: a blend, not one model alone."""
    steps = 10 if n == 2 else 4
    grid = [c for c in itertools.product(range(steps + 1), repeat=n) if sum(c) == steps]
    return [tuple(w / steps for w in c) for c in grid if sum(1 for w in c if w) >= 2]


def _blend_weights(
    top: list[tuple[str, dict[str, Any], float]], parts: Split, spec: AutoSpec
) -> tuple[list[float], float]:
    """The blend weights scoring best on the validation side, and that value.

    The top families are refitted with their best params on train-minus-validation (the
    fit side of the trials), so the weights are picked without the test side.
    """
    k = metric_k(spec.metric)
    models = [
        make_model(name, {"random_state": spec.seed, **params}).fit(parts.train)
        for name, params, _ in top
    ]
    best: tuple[list[float], float] = ([1.0] * len(models), -np.inf)
    for weights in _weight_grid(len(models)):
        blend = Hybrid.from_fitted(models, weights, random_state=spec.seed)
        result = evaluate({"blend": blend}, parts, (k,), random_state=spec.seed)
        value = float(result.summary["value"].astype(float).to_dict()[spec.metric])
        if value > best[1]:
            best = (list(weights), value)
    return best


# ---------------------------------------------------------------------- the final runs
@dataclass(frozen=True)
class FinalRun:
    """One run the search trained on the real split, with its validation and test values."""

    label: str
    kind: str
    model: str
    run_id: int
    validation: float
    test: float
    status: str


def final_runs(
    store: Store,
    spec: AutoSpec,
    top: list[tuple[str, dict[str, Any], float]],
    blend: tuple[list[float], float] | None,
    *,
    stop: Callable[[], bool] | None = None,
    progress: Progress | None = None,
    step: tuple[int, int] = (0, 1),
    on_run: Callable[[list[FinalRun]], None] | None = None,
) -> list[FinalRun]:
    """The top families as runs on the real split, then their blend and their ranker.

    Runs are ordinary stored runs (the Compare page lists them); each is trained on the whole
    training side and scored on the test side. Cancelling abandons the running one.
    """
    done: list[FinalRun] = []

    def run(kind: str, run_spec: jobs.RunSpec, validation: float) -> Run:
        report(progress, step[0] + len(done), step[1], f"training {run_spec.label} as a run")
        finished = _watched_run(store, run_spec, stop)
        test = run_summary(finished).metrics.get(spec.metric) if finished.status == "done" else None
        done.append(FinalRun(
            finished.label, kind, run_spec.model, finished.id, validation,
            np.nan if test is None else float(test), finished.status,
        ))  # fmt: skip
        if on_run is not None:
            on_run(list(done))
        return finished

    ids = []
    for rank, (name, params, value) in enumerate(top, start=1):
        label = f"{name} (auto #{rank})"
        finished = run("model", _run_spec(spec, name, params, label), value)
        if finished.status == "done":
            ids.append(finished.id)
        if stop is not None and stop():
            return done
    if blend is not None and len(ids) == len(top):
        blend_spec = derive_spec(store, "blend", ids, weights=blend[0], label="blend (auto)")
        run("blend", blend_spec, blend[1])
    if len(top) > 1 and not (stop is not None and stop()):
        generators = [{"model": name, "params": params} for name, params, _ in top]
        ranker = _run_spec(spec, "ranker", {"generators": generators}, "ranker (auto)")
        run("ranker", ranker, np.nan)
    return done


def _run_spec(spec: AutoSpec, model: str, params: dict[str, Any], label: str) -> jobs.RunSpec:
    """A run on the real split, reporting the searched metric's K besides 5, 10 and 20."""
    return jobs.RunSpec(
        dataset=spec.dataset, version=spec.version, model=model, params=params,
        split=spec.split, seed=spec.seed, ks=sorted({5, 10, 20, metric_k(spec.metric)}),
        label=label,
    )  # fmt: skip


def _watched_run(store: Store, spec: jobs.RunSpec, stop: Callable[[], bool] | None) -> Run:
    """Store a run as already running here (no background worker can claim it), execute it,
    and let a thread ask the store to cancel it once ``stop`` says so (the run checks at its
    next progress report)."""
    ds, version = resolve(store, spec.dataset, spec.version)
    spec = spec.model_copy(update={"version": version.version})
    with store.session() as s:
        run = RunRepository(s).create(
            status=RUNNING, worker="auto-search", dataset_id=ds.id, version_id=version.id,
            label=spec.label or spec.model, model=spec.model, spec=spec.model_dump(mode="json"),
        )  # fmt: skip
    finished = threading.Event()

    def watch() -> None:
        while stop is not None and not finished.is_set():
            if stop():
                with store.session() as s:
                    RunRepository(s).request_cancel(run.id)
                return
            finished.wait(0.25)

    thread = threading.Thread(target=watch, name=f"auto-run-{run.id}", daemon=True)
    thread.start()
    try:
        with run_heartbeat(store, run.id):
            return jobs.execute(store, run.id, worker="auto-search")
    finally:
        finished.set()
        thread.join()
