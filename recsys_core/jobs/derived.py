"""Runs built from finished runs: blends (Hybrid.from_fitted) and re-rankings (Reranked).

Both reuse the base runs' split, so their numbers are comparable and no model sees test data.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from pydantic import ValidationError

from db import Store
from db.runs import Run
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.jobs.artifacts import get_run, load_model
from recsys_core.jobs.spec import DerivedSpec, RunSpec, parse_spec, reranked
from recsys_core.models.base import Recommender
from recsys_core.models.hybrid import Hybrid
from recsys_core.rerank import RerankConfig

_SHARED = ("dataset", "version", "split", "seed", "ks", "relevance_threshold", "protocol",
           "n_recommendations")  # fmt: skip


def derive_spec(
    store: Store,
    kind: Literal["blend", "rerank"],
    run_ids: list[int],
    *,
    weights: list[float] | None = None,
    normalisation: str = "minmax",
    rerank: dict[str, Any] | None = None,
    n_candidates: int = 100,
    label: str | None = None,
) -> RunSpec:
    """A spec for a blend of ``run_ids`` or a re-ranking of one run, checked before storing."""
    runs = [get_run(store, rid) for rid in run_ids]
    _check_bases(kind, runs)
    if kind == "blend":
        weights = weights or [1.0] * len(runs)
        if len(weights) != len(runs):
            raise InputError(f"Give one weight per run: {len(runs)} runs, {len(weights)} weights.")
    else:
        try:
            RerankConfig.model_validate(rerank or {})
        except ValidationError as exc:
            raise InputError(
                f"Invalid re-ranking plan: {exc.errors()[0]['msg']} at "
                f"{'.'.join(map(str, exc.errors()[0]['loc']))}."
            ) from None
    base = runs[0].spec
    derived = {
        "kind": kind,
        "runs": run_ids,
        "weights": weights or [],
        "normalisation": normalisation,
        "rerank": rerank,
        "n_candidates": n_candidates,
    }
    default = (
        "blend of " + " + ".join(f"#{r.id}" for r in runs)
        if kind == "blend"
        else f"{runs[0].label} re-ranked (#{runs[0].id})"
    )
    return parse_spec(
        {
            **{k: base[k] for k in _SHARED if k in base},
            "model": "hybrid" if kind == "blend" else "rerank",
            "label": label or default,
            "derived": derived,
        }
    )


def _check_bases(kind: str, runs: list[Run]) -> None:
    if kind == "rerank" and len(runs) != 1:
        raise InputError("Re-rank exactly one run.")
    if kind == "blend" and len(runs) < 2:
        raise InputError("Blend at least two runs.")
    unfinished = [r.id for r in runs if r.status != "done"]
    if unfinished:
        raise InputError(f"Runs {unfinished} are not finished; only done runs can be combined.")
    keys = {(r.version_id, str(r.spec.get("split")), r.spec.get("seed")) for r in runs}
    if len(keys) > 1:
        raise InputError(
            "These runs come from different datasets, versions or splits and cannot be "
            "combined: their models saw different training data. Pick runs of one dataset "
            "version trained with the same split and seed."
        )


def derived_model(store: Store, derived: DerivedSpec, train: Interactions) -> Recommender:
    """The fitted model of a derived run, from its base runs' stored models."""
    bases = [load_model(get_run(store, rid), store) for rid in derived.runs]
    for model in bases:
        if model.n_users != train.n_users or model.n_items != train.n_items:
            raise InputError("A base run's model does not match this split: retrain it.")
        # model files keep arrays only; give back the side tables re-ranking rules read
        model.train_ = replace(
            model.train_, item_features=train.item_features, user_features=train.user_features
        )
    if derived.kind == "blend":
        return Hybrid.from_fitted(bases, derived.weights, derived.normalisation)
    return reranked(derived, bases[0])
