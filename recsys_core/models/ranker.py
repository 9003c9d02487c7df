"""The two-stage ranker model: generator candidates reordered by LightGBM LambdaRank."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError, RecsysError
from recsys_core.features.engineered import FeatureContext, feature_context, features_from_context
from recsys_core.models._lookup import make_model
from recsys_core.models._ranker_reasons import NOT_CANDIDATE, candidate_reasons, shap_frame
from recsys_core.models.base import Recommender, RecommenderConfig
from recsys_core.models.explanation import Explanation
from recsys_core.models.popular import popularity_reasons
from recsys_core.models.priors import prior
from recsys_core.progress import Progress, report
from recsys_core.splitting.configs import RandomHoldout
from recsys_core.splitting.splits import split

_MIRRORED = re.compile(r"^g(\d+)__(.+_)$")
_CTX_PREFIX = "fx_"


class GeneratorSpec(BaseModel):
    """One candidate generator: a registry model and its parameters ("item_knn" works too)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Registry key of the generator, e.g. 'item_knn'.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="The generator's own parameters; empty = defaults."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        return {"model": data.strip()} if isinstance(data, str) else data


def _default_generators() -> list[GeneratorSpec]:
    return [GeneratorSpec(model="item_knn"), GeneratorSpec(model="most_popular")]


class TwoStageConfig(RecommenderConfig):
    """Generators, candidate list length, LightGBM ranker size and the validation window."""

    generators: list[GeneratorSpec] = Field(
        default_factory=_default_generators,
        description="Models whose top lists are merged into the candidates, e.g. ['item_knn'].",
    )
    n_candidates: int = Field(
        50,
        ge=1,
        le=5000,
        description="Top items taken per generator.",
        json_schema_extra=prior(20, 200, log=True),
    )
    n_estimators: int = Field(
        100,
        ge=1,
        le=5000,
        description="Boosting rounds of the ranker.",
        json_schema_extra=prior(50, 500, log=True),
    )
    learning_rate: float = Field(
        0.1,
        gt=0.0,
        le=1.0,
        description="Shrinkage per boosting round.",
        json_schema_extra=prior(0.01, 0.3, log=True),
    )
    num_leaves: int = Field(
        31,
        ge=2,
        le=1024,
        description="Leaves per tree of the ranker.",
        json_schema_extra=prior(7, 127, log=True),
    )
    min_child_samples: int = Field(
        20, ge=1, description="Fewest candidate rows per leaf: raise it against overfitting."
    )
    validation_fraction: float = Field(
        0.2,
        gt=0.0,
        lt=1.0,
        description=(
            "Share of each user's training pairs held out to train the ranker on; the test "
            "window is never seen by it."
        ),
    )

    @model_validator(mode="after")
    def _check_generators(self) -> TwoStageConfig:
        if not self.generators:
            raise ValueError("give at least one candidate generator (e.g. 'item_knn')")
        for spec in self.generators:
            if spec.model == "ranker":
                raise ValueError("a ranker cannot generate its own candidates")
            make_model(spec.model, spec.params)
        return self


@dataclass(frozen=True)
class Candidates:
    """Candidate pairs sorted by (user, item), with each generator's score and rank."""

    users: np.ndarray
    items: np.ndarray
    scores: dict[str, np.ndarray]
    ranks: dict[str, np.ndarray]


def generator_keys(models: Sequence[Recommender]) -> list[str]:
    """Feature-name key per generator: its name, numbered when a name repeats."""
    names = [m.name for m in models]
    return [n if names.count(n) == 1 else f"{n}{i}" for i, n in enumerate(names)]


def candidates(models: Sequence[Recommender], users: np.ndarray, n: int) -> Candidates:
    """The union of each model's top-``n`` unseen items per user (vectorised merge).

    Raises:
        InputError: when no generator is given.
    """
    if not models:
        raise InputError("A two-stage ranker needs at least one candidate generator model.")
    users = np.asarray(users, dtype=np.int64)
    n_items = models[0].n_items
    tops = [m.topk(users, n) for m in models]
    codes_per = []
    for items, _ in tops:
        ok = items >= 0
        codes_per.append(np.repeat(users, ok.sum(axis=1)) * n_items + items[ok])
    codes = np.unique(np.concatenate(codes_per))
    scores, ranks = {}, {}
    for key, (items, vals), own in zip(generator_keys(models), tops, codes_per, strict=True):
        ok = items >= 0
        order = np.argsort(own, kind="stable")
        pos = np.searchsorted(own[order], codes)
        pos = np.minimum(pos, max(len(own) - 1, 0))
        hit = own[order][pos] == codes if len(own) else np.zeros(len(codes), bool)
        flat_scores = vals[ok][order]
        flat_ranks = (np.nonzero(ok)[1] + 1)[order]
        scores[key] = np.where(hit, flat_scores[pos] if len(own) else 0.0, np.nan)
        ranks[key] = np.where(hit, flat_ranks[pos] if len(own) else 0, n + 1).astype(np.float64)
    return Candidates(codes // n_items, codes % n_items, scores, ranks)


class TwoStageRanker(Recommender):
    """Candidates from generators, reordered by LightGBM LambdaRank on engineered features.

    Fitting: the training data is split again (random holdout of ``validation_fraction``);
    generators fitted on the rest propose candidates for the held-out users, the held-out
    pairs are the labels, and a LambdaRank model is trained grouped by user. The generators
    are then refitted on the whole training data and score the test candidates.

    Scores: the ranker's score for candidates. Other items get finite scores strictly below
    every candidate of the user (ordered by popularity) so full-catalogue rankings stay
    defined, as the Recommender contract needs.
    """

    name: ClassVar[str] = "ranker"
    config_class: ClassVar[type[RecommenderConfig]] = TwoStageConfig
    ranks_candidates: ClassVar[bool] = True
    config: TwoStageConfig

    def __init__(self, config: RecommenderConfig | None = None, **params: Any) -> None:
        super().__init__(config, **params)
        self._generators: list[Recommender] | None = None
        self._booster: Any = None

    # ------------------------------------------------------------------ fitting
    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        self._generators, self._booster = None, None
        cfg = self.config
        val_split = split(
            train, RandomHoldout(test_fraction=cfg.validation_fraction), cfg.random_state
        )
        report(progress, 1, 4, "fitting generators on the fit part")
        gens = [g.fit(val_split.train) for g in self._build_generators()]
        val_users = np.unique(val_split.test.users)
        cand = candidates(gens, val_users, cfg.n_candidates)
        feats = self._features(feature_context(val_split.train), cand)
        truth = np.unique(
            val_split.test.users.astype(np.int64) * train.n_items + val_split.test.items
        )
        labels = np.isin(cand.users * train.n_items + cand.items, truth).astype(np.int32)
        if not labels.any():
            raise InputError(
                "No held-out validation pair is among the candidates, so the ranker has nothing "
                "to learn from; raise n_candidates or validation_fraction, or pick generators "
                "that fit this data better."
            )
        report(progress, 2, 4, "training the ranker")
        self.booster_ = np.array(self._train_ranker(feats, labels, cand.users))
        self.feature_names_ = np.array(list(feats.columns), dtype=str)
        report(progress, 3, 4, "refitting generators on all training data")
        self._generators = [g.fit(train) for g in self._build_generators()]
        ctx = feature_context(train)
        for key, value in ctx.arrays().items():
            setattr(self, f"{_CTX_PREFIX}{key}_", value)
        self.popularity_ = np.bincount(train.items, minlength=train.n_items).astype(np.float32)
        self._mirror()
        report(progress, 4, 4, "ranker fitted")

    def _build_generators(self) -> list[Recommender]:
        return [
            make_model(s.model, {"random_state": self.config.random_state, **s.params})
            for s in self.config.generators
        ]

    def _train_ranker(self, feats: pd.DataFrame, labels: np.ndarray, users: np.ndarray) -> str:
        """A LambdaRank model grouped by user (rows are sorted by user), as LightGBM text.

        Without lightgbm, a scikit-learn classifier of "is a validation hit" stands in; it
        ranks by probability and cannot be saved (sklearn models need pickle), so the text
        is empty.
        """
        cfg = self.config
        try:
            import lightgbm as lgb
        except ImportError:
            self._booster = _ClassifierScorer(cfg, feats, labels)
            return ""
        groups = np.unique(users, return_counts=True)[1]
        model = lgb.LGBMRanker(
            objective="lambdarank",
            n_estimators=cfg.n_estimators,
            learning_rate=cfg.learning_rate,
            num_leaves=cfg.num_leaves,
            min_child_samples=cfg.min_child_samples,
            random_state=cfg.random_state,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
            verbose=-1,
        )
        model.fit(feats, labels, group=groups)
        return str(model.booster_.model_to_string())

    # ------------------------------------------------------------------ state
    def _mirror(self) -> None:
        for key in [k for k in vars(self) if _MIRRORED.match(k)]:
            delattr(self, key)
        for index, gen in enumerate(self._generators or ()):
            for key, value in vars(gen).items():
                if key.endswith("_") and not key.startswith("_") and key != "train_":
                    setattr(self, f"g{index}__{key}", value)

    def generators(self) -> list[Recommender]:
        """The fitted generators, rebuilt from the mirrored state after :meth:`load`."""
        if self._generators is None:
            train = self._train()
            gens = self._build_generators()
            for key, value in vars(self).items():
                if match := _MIRRORED.match(key):
                    setattr(gens[int(match[1])], match[2], value)
            for gen in gens:
                gen.train_ = train
            self._generators = gens
        return self._generators

    def booster(self) -> Any:
        """The LightGBM booster, read back from its saved text."""
        if self._booster is None:
            import lightgbm as lgb

            self._train()
            self._booster = lgb.Booster(model_str=str(self.booster_))
        return self._booster

    def context(self) -> FeatureContext:
        """The feature tables learned on the full training data."""
        self._train()
        return FeatureContext(
            **{f: getattr(self, f"{_CTX_PREFIX}{f}_") for f in FeatureContext.__dataclass_fields__}
        )

    def save(self, path: Any) -> None:
        """As :meth:`Recommender.save`, after refreshing the mirrored generator state.

        Raises:
            InputError: for a ranker trained by the scikit-learn fallback (no lightgbm).
        """
        if self.fitted and not str(self.booster_):
            raise InputError(
                "This ranker was trained with the scikit-learn fallback because lightgbm is "
                "not installed; it cannot be saved without pickle. Install lightgbm>=4 and refit."
            )
        self.generators()
        self._mirror()
        super().save(path)

    # ------------------------------------------------------------------ scoring
    def _features(self, ctx: FeatureContext, cand: Candidates) -> pd.DataFrame:
        return features_from_context(ctx, cand.users, cand.items, cand.scores, cand.ranks)

    def candidate_features(self, users: np.ndarray) -> tuple[Candidates, pd.DataFrame]:
        """The test-time candidates of user indices and their feature matrix."""
        cand = candidates(self.generators(), users, self.config.n_candidates)
        feats = self._features(self.context(), cand)
        if list(feats.columns) != [str(c) for c in self.feature_names_]:
            raise RecsysError("The ranker's features changed since it was trained; refit it.")
        return cand, feats

    # ------------------------------------------------------------------ contract
    def feature_rows(self, users: np.ndarray) -> pd.DataFrame:
        """The candidate feature rows of user indices (what SHAP explains)."""
        return self.candidate_features(users)[1]

    def feature_contributions(self, rows: pd.DataFrame) -> pd.DataFrame:
        """SHAP value of every feature of every row (they add up to the ranker's score)."""
        return shap_frame(self.booster(), rows)

    def candidate_models(self) -> dict[str, Recommender]:
        """The fitted generators by feature-name key (numbered when a name repeats)."""
        gens = self.generators()
        return dict(zip(generator_keys(gens), gens, strict=True))

    def explain_many(
        self, users: np.ndarray, items: np.ndarray, names: np.ndarray, n: int = 5
    ) -> list[Explanation]:
        """SHAP features for candidates; an item outside them is explained by popularity."""
        u, i = self._pairs(users, items)
        found = candidate_reasons(self, (u, i), n)
        missing = np.array([p for p, e in enumerate(found) if e is None], dtype=np.int64)
        if len(missing):
            rest = popularity_reasons(self, (u[missing], i[missing]), self.popularity_)
            for at, expl in zip(missing, rest, strict=True):
                found[at] = replace(expl, sentence=NOT_CANDIDATE + expl.sentence)
        return [e for e in found if e is not None]

    def explain_one(self, user: int, item: int, names: np.ndarray, n: int = 5) -> Explanation:
        """The same path for one pair: the SHAP values are computed per row either way."""
        return self.explain_many(np.array([user]), np.array([item]), names, n)[0]

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        uniq, inverse = np.unique(users, return_inverse=True)
        cand, feats = self.candidate_features(uniq)
        pred = np.zeros(0, dtype=np.float64)
        if len(feats):
            pred = np.asarray(self.booster().predict(feats), dtype=np.float64)
        row = np.searchsorted(uniq, cand.users)
        floor = np.full(len(uniq), np.inf)
        np.minimum.at(floor, row, pred)
        floor[np.isinf(floor)] = 0.0
        # Below every candidate of the user, popular items first: finite, so full rankings work.
        pop = self.popularity_.astype(np.float64) / (float(self.popularity_.max()) + 1.0)
        out = floor[:, None] - 2.0 + pop[None, :]
        out[row, cand.items] = pred
        out = out[inverse].astype(np.float32)
        return out if items is None else out[:, items]


class _ClassifierScorer:
    """The fallback second stage: P(validation hit) from HistGradientBoostingClassifier."""

    def __init__(self, cfg: TwoStageConfig, feats: pd.DataFrame, labels: np.ndarray) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.model = HistGradientBoostingClassifier(
            max_iter=cfg.n_estimators,
            learning_rate=cfg.learning_rate,
            max_leaf_nodes=cfg.num_leaves,
            min_samples_leaf=cfg.min_child_samples,
            random_state=cfg.random_state,
        ).fit(_filled(feats), labels)

    def predict(self, feats: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(_filled(feats))[:, 1], dtype=np.float64)


def _filled(feats: pd.DataFrame) -> np.ndarray:
    """NaN ("unknown") as -1: scikit-learn's binning fails on an all-missing column."""
    return np.nan_to_num(feats.to_numpy(dtype=np.float64), nan=-1.0)
