"""Run specs: everything that determines a run's numbers, validated before anything is stored."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.models.base import Recommender
from recsys_core.models.registry import make_model
from recsys_core.rerank import RerankConfig, Reranked
from recsys_core.splitting import Split, split
from recsys_core.splitting.configs import RandomHoldout, SplitConfig
from recsys_core.splitting.hashed import hashed_random_mask

#: Models and split protocols the Spark engine runs (recsys_core/engines/spark).
SPARK_MODELS = ("als", "most_popular", "item_knn")
SPARK_SPLITS = ("random", "temporal", "leave_last_n", "predefined")
#: Interactions up to which one machine is the better engine (BENCHMARKS.md, "Spark engine":
#: at the ML-20M shape local ALS fits in about a minute; Spark's fixed costs dominate below).
LOCAL_UP_TO = 25_000_000


def engine_advice(n_interactions: int) -> str:
    """Which engine suits a dataset of this size, in one sentence for the Train page."""
    if n_interactions <= LOCAL_UP_TO:
        return (
            f"{n_interactions:,} interactions fit one machine: the local engine is faster here "
            "(Spark adds tens of seconds of start-up and shuffles) and runs every model."
        )
    return (
        f"{n_interactions:,} interactions: past about {LOCAL_UP_TO // 1_000_000}M one machine "
        "runs short of memory for full evaluation; Spark (ALS, MostPopular, ItemKNN) scales out."
    )


class DerivedSpec(BaseModel):
    """A run made from finished runs: a weighted blend of them, or one of them re-ranked."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["blend", "rerank"] = Field(description="Blend several runs or re-rank one.")
    runs: list[int] = Field(min_length=1, description="Ids of the finished base runs.")
    weights: list[float] = Field(default_factory=list, description="Blend weight per run.")
    normalisation: Literal["minmax", "zscore", "rank"] = Field(
        default="minmax", description="Per-user score normalisation before blending."
    )
    rerank: dict[str, Any] | None = Field(default=None, description="Re-ranking plan (JSON).")
    n_candidates: int = Field(default=100, ge=1, le=5000, description="Candidates re-ranked.")


class RunSpec(BaseModel):
    """Everything that determines a run's numbers: same spec, same results."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="Dataset name.")
    version: int | None = Field(default=None, ge=1, description="Dataset version; latest if unset.")
    model: str = Field(description="Registry name of the model, e.g. 'ease'.")
    params: dict[str, Any] = Field(default_factory=dict, description="Model config values.")
    split: SplitConfig = Field(default_factory=RandomHoldout, description="Split protocol.")
    seed: int = Field(default=42, description="Seed for the split and the model.")
    ks: list[int] = Field(default=[5, 10, 20], min_length=1, description="Metric cut-offs K.")
    relevance_threshold: float | None = Field(
        default=None, description="Only test ratings >= this count as relevant; all if unset."
    )
    protocol: Literal["full", "sampled"] = Field(default="full", description="Ranking protocol.")
    n_recommendations: int = Field(default=50, ge=1, le=1000, description="Top-N stored per user.")
    explain_top: int = Field(
        default=3,
        ge=0,
        le=50,
        description="Ranks per user whose reason sentence is stored with the list (0 for none).",
    )
    label: str | None = Field(default=None, description="Display name; model name if unset.")
    derived: DerivedSpec | None = Field(
        default=None, description="Set for runs built from other runs (blend or re-rank)."
    )
    engine: Literal["local", "spark"] = Field(
        default="local",
        description="Where the run computes: this machine, or Spark ($RECSYS_SPARK_MASTER).",
    )

    def build_model(self) -> Recommender:
        """The configured model (seeded from ``seed`` unless params set random_state)."""
        return make_model(self.model, {"random_state": self.seed, **self.params})


def parse_spec(values: dict[str, Any]) -> RunSpec:
    """Validate a spec, turning pydantic's report into one InputError for the analyst."""
    try:
        spec = RunSpec.model_validate(values)
    except ValidationError as exc:
        parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise InputError("Invalid run: " + "; ".join(parts)) from None
    if min(spec.ks) < 1:
        raise InputError(f"k must be at least 1; got {min(spec.ks)}.")
    if spec.derived is None:
        spec.build_model()  # unknown model or parameter fails now, before anything is stored
    if spec.engine == "spark":
        _check_spark(spec)
    return spec


def _check_spark(spec: RunSpec) -> None:
    """What the Spark engine cannot run fails before anything is stored."""
    if spec.derived is not None or spec.model not in SPARK_MODELS:
        raise InputError(f"The Spark engine runs {', '.join(SPARK_MODELS)}; not {spec.model!r}.")
    if spec.split.kind not in SPARK_SPLITS or spec.split.validation_fraction > 0:
        raise InputError(
            f"The Spark engine splits by {', '.join(SPARK_SPLITS)}, without a validation side."
        )
    if spec.protocol != "full":
        raise InputError("The Spark engine evaluates by full ranking only.")


def split_for(inter: Interactions, config: SplitConfig, seed: int, engine: str = "local") -> Split:
    """A run's split; the predefined protocol takes the train/test column stored at import.

    Training and every reader of a finished run (pages, export, explain) go through here,
    so they see the same train and test sides. A random split on Spark is keyed by a hash
    (:mod:`recsys_core.splitting.hashed`), which a cluster computes row by row.
    """
    if engine == "spark" and isinstance(config, RandomHoldout):
        mask = hashed_random_mask(
            inter.users, inter.items, inter.n_users, inter.n_items, config.test_fraction, seed
        )
        return Split(inter.subset(np.flatnonzero(~mask)), inter.subset(mask), None, config)
    if config.kind != "predefined":
        return split(inter, config, seed)
    if inter.is_test is None:
        raise InputError(
            "This dataset has no train/test column: map one (role 'split') when importing "
            "to use the predefined split."
        )
    return split(inter, config, seed, is_test=inter.is_test)


def reranked(derived: DerivedSpec, base: Recommender) -> Reranked:
    """A re-ranked run's model: its base model wrapped in the stored plan."""
    return Reranked(base, RerankConfig.model_validate(derived.rerank or {}), derived.n_candidates)
