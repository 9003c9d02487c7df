"""Hyper-parameter search with Optuna, scored on a validation side carved from train."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from db import Store
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.evaluation import evaluate
from recsys_core.evaluation.ranking import accuracy_metrics
from recsys_core.jobs.datasets import load_interactions
from recsys_core.jobs.runs import RunSpec, split_for
from recsys_core.models.base import Recommender
from recsys_core.models.registry import make_model
from recsys_core.progress import Progress, report
from recsys_core.splitting import Split
from recsys_core.splitting.configs import RandomHoldout, SplitConfig
from recsys_core.tuning_space import (
    ChoicesOverride,
    Override,
    RangeOverride,
    search_space,
    space_table,
    table_overrides,
)
from recsys_core.tuning_storage import (
    OPTUNA_SCHEMA,
    OPTUNA_URL_ENV,
    optuna_storage_url,
    storage_lock,
)

__all__ = [
    "OPTUNA_SCHEMA",
    "OPTUNA_URL_ENV",
    "ChoicesOverride",
    "RangeOverride",
    "TuneResult",
    "TuneSpec",
    "best_run_spec",
    "metric_k",
    "optuna_storage_url",
    "parse_tune_spec",
    "search_space",
    "space_table",
    "table_overrides",
    "trials_frame",
    "tune",
    "tuning_split",
    "validated",
    "validation_value",
]


class TuneSpec(BaseModel):
    """Everything that determines a search: same spec and seed, same trials."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="Dataset name.")
    version: int | None = Field(default=None, ge=1, description="Dataset version; latest if unset.")
    model: str = Field(description="Registry name of the model, e.g. 'ease'.")
    n_trials: int = Field(ge=1, description="Trials this call runs (per worker on a shared study).")
    metric: str = Field(default="NDCG@10", description="Accuracy metric maximised, e.g. Recall@20.")
    split: SplitConfig = Field(
        default_factory=RandomHoldout, description="The real split; its test side is never used."
    )
    validation_fraction: float = Field(
        default=0.2, gt=0.0, lt=1.0, description="Share of train carved out to score trials on."
    )
    seed: int = Field(default=42, description="Seed for the split, the sampler and the models.")
    overrides: dict[str, Override] = Field(
        default_factory=dict, description="Ranges or choices replacing the schema's defaults."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Fixed, unsearched params.")
    timeout_s: float | None = Field(default=None, gt=0, description="Stop starting trials after.")
    study: str | None = Field(
        default=None, description="Study name: kept in Optuna's storage and resumable if set."
    )
    start_at_defaults: bool = Field(
        default=True,
        description="A new study's first trial is the config's defaults, so the best trial is "
        "never worse than the defaults on validation.",
    )


@dataclass(frozen=True)
class TuneResult:
    """The outcome of a search.

    Attributes:
        best_params: searched values of the best trial (fixed params not included).
        best_value: its validation metric.
        trials: one row per trial: number, value, one column per param, duration_s, state,
            message (why a trial was pruned).
        param_importances: fANOVA importance per param (sums to 1); empty below two trials.
        metric: the metric label maximised.
        n_fit, n_validation: interactions the trials were fitted and scored on.
        study_name: Optuna's name for the study.
        cancelled: the search was stopped before its last trial (``stop`` in :func:`tune`).
    """

    best_params: dict[str, Any]
    best_value: float
    trials: pd.DataFrame
    param_importances: dict[str, float]
    metric: str
    n_fit: int
    n_validation: int
    study_name: str
    cancelled: bool = False


_Spec = TypeVar("_Spec", bound=BaseModel)


class _Stopped(Exception):
    """Raised inside a fit by its progress callback once the search is asked to stop."""


def validated(cls: type[_Spec], values: dict[str, Any], what: str) -> _Spec:
    """``cls`` from ``values``, or one InputError naming every problem ("Invalid {what}: ...")."""
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise InputError(f"Invalid {what}: " + "; ".join(parts) + ".") from None


def parse_tune_spec(values: dict[str, Any]) -> TuneSpec:
    """Validate a spec and its search space, with one InputError naming every problem."""
    spec = validated(TuneSpec, values, "tuning settings")
    check_spec(spec)
    return spec


def check_spec(spec: TuneSpec) -> dict[str, BaseDistribution]:
    """The search space of a spec, after checking the metric and the fixed params."""
    metric_k(spec.metric)
    space = search_space(spec.model, spec.overrides, spec.params)
    make_model(spec.model, spec.params)  # an unknown or bad fixed param fails before any trial
    return space


def metric_k(metric: str) -> int:
    """K of an accuracy metric label ("NDCG@10" -> 10); InputError for an unknown label."""
    match = re.fullmatch(r"[^@]+@(\d+)", metric)
    labels = [m.label for m in accuracy_metrics([int(match.group(1))])] if match else []
    if not match or metric not in labels or int(match.group(1)) < 1:
        example = ", ".join(m.label for m in accuracy_metrics([10]))
        raise InputError(f"Unknown metric {metric!r}; use an accuracy metric such as {example}.")
    return int(match.group(1))


def tuning_split(inter: Interactions, spec: TuneSpec) -> Split:
    """Train-minus-validation as ``train`` and the validation side as ``test``.

    The real split is made first with the run's seed, so its test side is exactly the one a
    run of the best config is evaluated on; trials never see it.
    """
    config = spec.split.model_copy(update={"validation_fraction": spec.validation_fraction})
    parts = split_for(inter, config, spec.seed)
    if parts.validation is None or not len(parts.validation):
        raise InputError("The validation side is empty: raise validation_fraction.")
    return Split(parts.train, parts.validation, None, config)


def validation_value(model: Recommender, parts: Split, metric: str, seed: int) -> float:
    """``metric`` of a model fitted on ``parts.train``, scored on ``parts.test`` (validation)."""
    result = evaluate({"model": model}, parts, (metric_k(metric),), random_state=seed)
    return float(result.summary["value"].astype(float).to_dict()[metric])


def tune(
    store: Store,
    spec: TuneSpec,
    progress: Progress | None = None,
    *,
    storage_url: str | None = None,
    stop: Callable[[], bool] | None = None,
    on_trial: Callable[[pd.DataFrame], None] | None = None,
    detail: bool = False,
    parts: Split | None = None,
    per_user: dict[int, np.ndarray] | None = None,
) -> TuneResult:
    """Run ``spec.n_trials`` trials (TPE, seeded) and summarise the whole study.

    Each trial fits on train-minus-validation and scores ``spec.metric`` on the validation
    side with :func:`evaluate`. A trial whose fit raises InputError is pruned with its
    message; any other error fails the trial and is raised. Progress is reported per trial.
    A timeout stops starting new trials (the first one always runs).

    Args:
        storage_url: Optuna storage; default in-memory, or :func:`optuna_storage_url` when
            ``spec.study`` names a study (workers sharing that name share its trials).
        per_user: filled with each completed trial's per-user validation values of
            ``spec.metric`` by trial number (users in one fixed order), so a caller can tell
            a real gain over the defaults trial from the noise of one validation split.
        stop: asked before each trial and during each fit (through the model's progress):
            once it returns True the running fit is abandoned (its trial recorded as
            pruned, "cancelled") and the result covers the trials completed so far.
        on_trial: called with :func:`trials_frame` of the study after every trial, so a
            caller can show the trials as they come.
        detail: also pass each fit's own progress on ("trial 3/20: epoch 2/10"), for a
            screen where one trial can take a while; off for line-per-report callers.
        parts: the :func:`tuning_split` of this spec when the caller made it already (one
            split shared by the searches of several families); made here otherwise.

    Raises:
        InputError: bad spec, an empty validation side, or no trial completed.
    """
    space = check_spec(spec)
    k = metric_k(spec.metric)
    if parts is None:
        parts = tuning_split(load_interactions(store, spec.dataset, spec.version), spec)
    study = _study(store, spec, storage_url)
    if spec.start_at_defaults and not study.trials:
        study.enqueue_trial(_defaults_in(spec.model, space))
    started = time.monotonic()
    report(progress, 0, spec.n_trials, "starting")
    cancelled = False
    for n in range(spec.n_trials):
        if n and spec.timeout_s is not None and time.monotonic() - started > spec.timeout_s:
            break
        cancelled = stop is not None and stop()
        if cancelled:
            break
        label = f"trial {n + 1}/{spec.n_trials}"
        watch = _fit_watch(stop, progress if detail else None, n, spec.n_trials, label)
        cancelled = not _trial(study, space, spec, parts, k, watch, per_user)
        if on_trial is not None:
            on_trial(trials_frame(study.trials))
        if cancelled:
            break
        best = _best_value(study)
        report(progress, n + 1, spec.n_trials, f"trial {n + 1}/{spec.n_trials}, best {best}")
    return _result(study, spec, parts, cancelled)


def _study(store: Store, spec: TuneSpec, storage_url: str | None) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # progress goes through our callback
    url = storage_url or (optuna_storage_url(store) if spec.study else None)
    identity = {"dataset": spec.dataset, "model": spec.model, "metric": spec.metric}
    with storage_lock(url):
        study = optuna.create_study(
            study_name=spec.study,
            storage=optuna.storages.RDBStorage(url) if url else None,
            sampler=optuna.samplers.TPESampler(seed=spec.seed),
            direction="maximize",
            load_if_exists=True,
        )
        known = study.user_attrs.get("recsys")
        if known is None:
            study.set_user_attr("recsys", identity)
    if known is not None and known != identity:
        raise InputError(
            f"Study {spec.study!r} tunes model {known['model']!r} on dataset "
            f"{known['dataset']!r} for {known['metric']}, not model {spec.model!r} on dataset "
            f"{spec.dataset!r} for {spec.metric}: pick another study name."
        )
    return study


def _defaults_in(model: str, space: dict[str, BaseDistribution]) -> dict[str, Any]:
    """The config's default of every searched param that lies inside its distribution."""
    defaults = make_model(model, {}).config.model_dump()
    return {n: defaults[n] for n, d in space.items() if n in defaults and _inside(d, defaults[n])}


def _inside(dist: BaseDistribution, value: Any) -> bool:
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):  # a categorical without that value
        return False


def _trial(
    study: optuna.Study,
    space: dict[str, BaseDistribution],
    spec: TuneSpec,
    parts: Split,
    k: int,
    watch: Progress | None = None,
    per_user: dict[int, np.ndarray] | None = None,
) -> bool:
    """One trial, told to the study; False when ``watch`` (see ``_fit_watch``) cut its fit
    short."""
    trial = study.ask(space)
    try:
        params = {"random_state": spec.seed, **spec.params, **trial.params}
        try:
            model = make_model(spec.model, params).fit(parts.train, progress=watch)
        except (InputError, _Stopped) as exc:
            stopped = isinstance(exc, _Stopped)
            trial.set_user_attr("message", "cancelled" if stopped else str(exc))
            study.tell(trial, state=TrialState.PRUNED)
            return not stopped
        except ArithmeticError as exc:
            # Settings that make the fit diverge (BPR at a high learning rate on ml-100k-like
            # data: NaN factors, then numba's ZeroDivisionError) are a result of the search,
            # not a crash: one such trial used to end a whole Find the best model run.
            message = f"diverged ({type(exc).__name__}: {exc}): these settings do not train"
            trial.set_user_attr("message", message)
            study.tell(trial, state=TrialState.PRUNED)
            return True
        result = evaluate({spec.model: model}, parts, (k,), random_state=spec.seed)
        value = float(result.summary["value"].astype(float).to_dict()[spec.metric])
        if per_user is not None:
            per_user[trial.number] = result.per_user[spec.metric].to_numpy(dtype=np.float64)
    except BaseException:
        study.tell(trial, state=TrialState.FAIL)  # a crash is a bug: record it, then raise
        raise
    study.tell(trial, value)
    return True


def _fit_watch(
    stop: Callable[[], bool] | None,
    progress: Progress | None,
    n: int,
    n_trials: int,
    label: str,
) -> Progress | None:
    """A fit's progress callback: abandons the fit once ``stop`` says so, and passes the
    fit's own progress on to ``progress`` as trial ``n`` of ``n_trials`` (when given)."""
    if stop is None and progress is None:
        return None

    def watch(done: int, total: int, message: str = "") -> None:
        if stop is not None and stop():
            raise _Stopped
        step = f" ({done}/{total})" if total else ""
        report(progress, n, n_trials, f"{label}: {message or 'fitting'}{step}")

    return watch


def _best_value(study: optuna.Study) -> str:
    done = [t.value for t in study.trials if t.state == TrialState.COMPLETE]
    return "none yet" if not done else f"{max(v for v in done if v is not None):.4f}"


def _result(
    study: optuna.Study, spec: TuneSpec, parts: Split, cancelled: bool = False
) -> TuneResult:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete and cancelled:
        raise InputError("The search was cancelled before any trial completed.")
    if not complete:
        reasons = {str(t.user_attrs.get("message", t.state.name)) for t in study.trials}
        raise InputError("No trial completed: " + "; ".join(sorted(reasons)))
    best = study.best_trial
    return TuneResult(
        best_params=dict(best.params),
        best_value=float(best.value or 0.0),
        trials=trials_frame(study.trials),
        param_importances=_importances(study, complete, spec.seed),
        metric=spec.metric,
        n_fit=len(parts.train),
        n_validation=len(parts.test),
        study_name=study.study_name,
        cancelled=cancelled,
    )


def trials_frame(trials: list[FrozenTrial]) -> pd.DataFrame:
    """One row per trial: number, value, params..., duration_s, state, message."""
    rows = []
    for t in trials:
        end, start = t.datetime_complete, t.datetime_start
        duration = (end - start).total_seconds() if end and start else None
        rows.append(
            {"number": t.number, "value": t.value, **t.params, "duration_s": duration,
             "state": t.state.name.lower(), "message": t.user_attrs.get("message", "")}
        )  # fmt: skip
    frame = pd.DataFrame(rows)
    tail = ["duration_s", "state", "message"]
    return frame[[c for c in frame.columns if c not in tail] + tail]


def _importances(study: optuna.Study, complete: list[FrozenTrial], seed: int) -> dict[str, float]:
    """fANOVA importances, seeded; they need two completed trials with distinct values."""
    if len(complete) < 2 or len({t.value for t in complete}) < 2:
        return {}
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    return {
        name: float(v)
        for name, v in optuna.importance.get_param_importances(study, evaluator=evaluator).items()
    }


def best_run_spec(spec: TuneSpec, result: TuneResult, label: str | None = None) -> RunSpec:
    """A normal run of the best config on the real split (its test side, at last)."""
    return RunSpec(
        dataset=spec.dataset,
        version=spec.version,
        model=spec.model,
        params={**spec.params, **result.best_params},
        split=spec.split,
        seed=spec.seed,
        label=label or f"{spec.model} (tuned)",
    )
