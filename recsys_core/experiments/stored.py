"""Experiments in the store: import a validated log in one transaction, list, link, re-read."""

from __future__ import annotations

from typing import Any

from db import Store
from db.experiments import Experiment, ExperimentRepository
from recsys_core.errors import InputError
from recsys_core.experiments.analysis import AnalysisSpec, ExperimentResult, analyze
from recsys_core.experiments.log import ASSIGNED, USER, VARIANT, ExperimentLog
from recsys_core.jobs.runs import get_run

__all__ = [
    "analyze_stored",
    "delete_experiment",
    "get_experiment",
    "import_experiment",
    "link_run",
    "list_experiments",
    "load_log",
]


def import_experiment(
    store: Store,
    name: str,
    log: ExperimentLog,
    spec: AnalysisSpec,
    *,
    description: str = "",
    source: dict[str, Any] | None = None,
) -> Experiment:
    """Store the log's per-user totals and the analysis settings, all or nothing.

    The settings are checked by analysing once first, so a stored experiment always reads.

    Raises:
        InputError: the name is taken or empty, or the settings do not fit the log.
    """
    name = name.strip()
    if not name:
        raise InputError("Give the experiment a name.")
    analyze(log, spec)
    sizes = log.users[VARIANT].value_counts().sort_index()
    counts = {str(v): int(n) for v, n in sizes.items()}
    row = {
        "name": name,
        "description": description,
        "spec": spec.model_dump(mode="json"),
        "metrics": list(log.metrics),
        "pre": dict(log.pre),
        "source": {"file": log.source, **(source or {})},
        "n_users": len(log.users),
        "n_rows": log.n_rows,
    }
    with store.session(purpose=f"the import of experiment {name!r}") as s:
        repo = ExperimentRepository(s)
        if repo.get(name) is not None:
            raise InputError(f"An experiment named {name!r} exists already; pick another name.")
        experiment_id = repo.create(row, counts)
        repo.add_users(experiment_id, log.users, [*log.metrics, *log.pre.values()])
    return get_experiment(store, name)


def list_experiments(store: Store) -> list[Experiment]:
    with store.session() as s:
        return ExperimentRepository(s).all()


def get_experiment(store: Store, name: str) -> Experiment:
    with store.session() as s:
        found = ExperimentRepository(s).get(name)
    if found is None:
        names = [e.name for e in list_experiments(store)]
        raise InputError(f"No experiment {name!r}; the stored ones are {names}.")
    return found


def delete_experiment(store: Store, name: str) -> None:
    experiment = get_experiment(store, name)
    with store.session() as s:
        ExperimentRepository(s).delete(experiment.id)


def link_run(store: Store, name: str, variant: str, run_id: int | None) -> Experiment:
    """Link a variant to the finished run that produced it offline (None unlinks).

    Raises:
        InputError: unknown experiment, variant or run, or the run did not finish.
    """
    experiment = get_experiment(store, name)
    if variant not in experiment.counts:
        raise InputError(
            f"Experiment {name!r} has no variant {variant!r}; its variants are "
            f"{list(experiment.counts)}."
        )
    if run_id is not None:
        run = get_run(store, run_id)
        if run.status != "done":
            raise InputError(f"Run {run_id} is {run.status}; link a finished run.")
    with store.session() as s:
        ExperimentRepository(s).link(experiment.id, variant, run_id)
    return get_experiment(store, name)


def load_log(store: Store, name: str) -> tuple[ExperimentLog, AnalysisSpec]:
    """The stored per-user totals as a log, and the settings stored with them."""
    experiment = get_experiment(store, name)
    with store.session() as s:
        users = ExperimentRepository(s).users(experiment.id)
    columns = [USER, VARIANT, ASSIGNED, *experiment.metrics, *experiment.pre.values()]
    log = ExperimentLog(
        users[columns],
        tuple(experiment.metrics),
        dict(experiment.pre),
        str(experiment.source.get("file", name)),
        experiment.n_rows,
    )
    return log, AnalysisSpec.model_validate(experiment.spec)


def analyze_stored(store: Store, name: str, **overrides: Any) -> ExperimentResult:
    """Analyse a stored experiment with its stored settings (``overrides`` replace some)."""
    log, spec = load_log(store, name)
    if overrides:
        spec = AnalysisSpec.model_validate({**spec.model_dump(), **overrides})
    return analyze(log, spec)
