"""The final stage of Find the best model: runs on the real split, and the pick among them.

The top families run as ordinary runs, then their blend and a two-stage ranker over the best
families. Which of them the analyst should use is decided on the validation side carved from
train (the same side the families were ranked on), never on test: each run's test value is
reported beside it, and the pick is marked ``chosen``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from db import Store
from db.runs import RUNNING, Run, RunRepository, run_heartbeat
from recsys_core.data.interactions import Interactions
from recsys_core.jobs import runs as jobs
from recsys_core.jobs.datasets import resolve
from recsys_core.jobs.derived import derive_spec
from recsys_core.jobs.summary import run_summary
from recsys_core.progress import Progress, report
from recsys_core.tuning import metric_k
from recsys_core.tuning_auto._spec import AutoSpec

__all__ = ["Family", "FinalRun", "choose", "final_runs", "ranker_params", "run_spec"]

#: (family, params, validation value) of one searched family.
Family = tuple[str, dict[str, Any], float]


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


def ranker_params(ranked: list[Family], inter: Interactions, n_generators: int) -> dict[str, Any]:
    """The ranker built as the hand-configured one that beat EASE on ML-latest-small (.3844
    against .3727 with seven generators, .3717 with three): the ``n_generators`` best families
    with the params the search kept, plus the content model when the items carry metadata
    (it sees what no collaborative family does); LightGBM at the ranker's validated defaults
    and its history features on."""
    generators = [{"model": name, "params": params} for name, params, _ in ranked[:n_generators]]
    meta = inter.item_features
    if meta is not None and len(meta.columns) and "content" not in [g["model"] for g in generators]:
        generators.append({"model": "content", "params": {}})
    return {"generators": generators}


def choose(runs: pd.DataFrame) -> pd.Series:
    """True on the finished run with the best validation value (the first on a tie: singles
    run first and are the cheapest to serve); the test column is never looked at."""
    values = runs["validation"].to_numpy(dtype=float)
    values = np.where(runs["status"].to_numpy() == "done", values, np.nan)
    chosen = np.zeros(len(runs), dtype=bool)
    if np.isfinite(values).any():
        chosen[int(np.nanargmax(values))] = True
    return pd.Series(chosen, index=runs.index)


def final_runs(
    store: Store,
    spec: AutoSpec,
    top: list[Family],
    blend: tuple[list[float], float] | None,
    ranker: tuple[dict[str, Any], float] | None,
    *,
    stop: Callable[[], bool] | None = None,
    progress: Progress | None = None,
    step: tuple[int, int] = (0, 1),
    on_run: Callable[[list[FinalRun]], None] | None = None,
) -> list[FinalRun]:
    """The top families as runs on the real split, then their blend and the ranker.

    Runs are ordinary stored runs (the Compare page lists them); each is trained on the whole
    training side and scored on the test side. Cancelling
    abandons the running one.
    """
    done: list[FinalRun] = []

    def run(kind: str, run_spec_: jobs.RunSpec, validation: float) -> Run:
        report(progress, step[0] + len(done), step[1], f"training {run_spec_.label} as a run")
        finished = _watched_run(store, run_spec_, stop)
        test = run_summary(finished).metrics.get(spec.metric) if finished.status == "done" else None
        done.append(FinalRun(
            finished.label, kind, run_spec_.model, finished.id, validation,
            np.nan if test is None else float(test), finished.status,
        ))  # fmt: skip
        if on_run is not None:
            on_run(list(done))
        return finished

    ids = []
    for rank, (name, params, value) in enumerate(top, start=1):
        finished = run("model", run_spec(spec, name, params, f"{name} (auto #{rank})"), value)
        if finished.status == "done":
            ids.append(finished.id)
        if stop is not None and stop():
            return done
    if blend is not None and len(ids) == len(top):
        blend_spec = derive_spec(store, "blend", ids, weights=blend[0], label="blend (auto)")
        run("blend", blend_spec, blend[1])
    if ranker is not None and not (stop is not None and stop()):
        run("ranker", run_spec(spec, "ranker", ranker[0], "ranker (auto)"), ranker[1])
    return done


def run_spec(spec: AutoSpec, model: str, params: dict[str, Any], label: str) -> jobs.RunSpec:
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
