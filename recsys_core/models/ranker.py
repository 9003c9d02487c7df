"""The two-stage ranker model: generator candidates reordered by LightGBM LambdaRank."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError, RecsysError
from recsys_core.features.engineered import FeatureContext, feature_context
from recsys_core.models._lookup import make_model
from recsys_core.models._ranker_fallback import ClassifierScorer
from recsys_core.models._ranker_features import (
    Candidates,
    candidate_frame,
    candidates,
    feature_descriptions,
    generator_keys,
)
from recsys_core.models._ranker_history import HistoryContext, history_context
from recsys_core.models._ranker_reasons import NOT_CANDIDATE, candidate_reasons, shap_frame
from recsys_core.models.base import Recommender, RecommenderConfig
from recsys_core.models.explanation import Explanation
from recsys_core.models.popular import popularity_reasons
from recsys_core.models.priors import NOT_SEARCHED, prior
from recsys_core.progress import Progress, report
from recsys_core.splitting.configs import RandomHoldout
from recsys_core.splitting.splits import split

_MIRRORED = re.compile(r"^g(\d+)__(.+_)$")
_CTX_PREFIX = "fx_"
_HIST_PREFIX = "hx_"


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
    #: The LightGBM settings below were chosen on a validation side carved from MovieLens
    #: latest-small's training side (never its test side): with ~600 users the ranker has a
    #: few thousand positive rows, and LightGBM's defaults (31 leaves, 100 rounds at 0.1, 20
    #: rows a leaf) learn them by heart (validation NDCG@10 .200 against EASE's .218); small
    #: trees, slow shrinkage and row/column sampling reach .225.
    n_estimators: int = Field(
        300,
        ge=1,
        le=5000,
        description="Boosting rounds of the ranker.",
        json_schema_extra=prior(50, 1000, log=True),
    )
    learning_rate: float = Field(
        0.02,
        gt=0.0,
        le=1.0,
        description="Shrinkage per boosting round.",
        json_schema_extra=prior(0.005, 0.3, log=True),
    )
    num_leaves: int = Field(
        7,
        ge=2,
        le=1024,
        description="Leaves per tree of the ranker.",
        json_schema_extra=prior(3, 63, log=True),
    )
    min_child_samples: int = Field(
        300,
        ge=1,
        description="Fewest candidate rows per leaf: raise it against overfitting.",
        json_schema_extra=prior(10, 1000, log=True),
    )
    #: With the history features (models/_ranker_history.py) the trees find more to overfit:
    #: an L2 penalty of 30 on leaf values and 300 rows a leaf lift validation NDCG@10 over
    #: EASE from +1.6% to +2.8% (mean of four carves of ML-latest-small's train; 100 rows, no
    #: penalty before).
    reg: float = Field(
        30.0,
        ge=0.0,
        description="L2 penalty on the ranker's leaf values (LightGBM reg_lambda).",
        json_schema_extra=prior(0.1, 1000.0, log=True),
    )
    subsample: float = Field(
        0.8,
        gt=0.0,
        le=1.0,
        description="Share of candidate rows each tree is grown on (bagging).",
        json_schema_extra=prior(0.5, 1.0),
    )
    colsample_bytree: float = Field(
        0.8,
        gt=0.0,
        le=1.0,
        description="Share of the features each tree may split on.",
        json_schema_extra=prior(0.3, 1.0),
    )
    #: One fold by default: a second doubles the generator fits and moved validation NDCG@10
    #: by less than the fold seed does (.221-.223 for ease+als+content either way).
    n_folds: int = Field(
        1,
        ge=1,
        le=10,
        description=(
            "Times train is split again to make the ranker's training rows (each with its own "
            "seed and generator fits); more folds, more rows to learn from."
        ),
        json_schema_extra=NOT_SEARCHED,
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


class TwoStageRanker(Recommender):
    """Candidates from generators, reordered by LightGBM LambdaRank on engineered features.

    Fitting: the training data is split again (random holdout of ``validation_fraction``,
    ``n_folds`` times with different seeds); generators fitted on the rest propose candidates
    for the held-out users, the held-out pairs are the labels, and a LambdaRank model is
    trained on all folds' rows, grouped by (fold, user). The generators are then refitted on
    the whole training data and score the test candidates.

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
        steps = cfg.n_folds + 3
        parts = []
        for fold in range(cfg.n_folds):
            report(progress, fold + 1, steps, f"fitting generators on fit part {fold + 1}")
            parts.append(self._training_rows(train, cfg.random_state + fold))
        feats = pd.concat([f for f, _, _ in parts], ignore_index=True)
        labels = np.concatenate([lab for _, lab, _ in parts])
        if not labels.any():
            raise InputError(
                "No held-out validation pair is among the candidates, so the ranker has nothing "
                "to learn from; raise n_candidates or validation_fraction, or pick generators "
                "that fit this data better."
            )
        report(progress, cfg.n_folds + 1, steps, "training the ranker")
        groups = np.concatenate([g for _, _, g in parts])
        fallback, text = self._train_ranker(feats, labels, groups)
        self.booster_, self._booster = np.array(text), fallback
        self.feature_names_ = np.array(list(feats.columns), dtype=str)
        report(progress, cfg.n_folds + 2, steps, "refitting generators on all training data")
        self._generators = [g.fit(train) for g in self._build_generators()]
        ctx = feature_context(train)
        for key, value in ctx.arrays().items():
            setattr(self, f"{_CTX_PREFIX}{key}_", value)
        for key, value in history_context(train).arrays().items():
            setattr(self, f"{_HIST_PREFIX}{key}_", value)
        self.popularity_ = np.bincount(train.items, minlength=train.n_items).astype(np.float32)
        self._mirror()
        report(progress, steps, steps, "ranker fitted")

    def _training_rows(
        self, train: Interactions, seed: int
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """One fold of the ranker's training rows: features, labels, group sizes.

        Train is split again (``validation_fraction`` of each user's pairs, seeded); the
        generators fitted on the rest propose candidates for the held-out users, and the
        held-out pairs are the labels, so no generator has seen a label it helps predict.
        """
        cfg = self.config
        val_split = split(train, RandomHoldout(test_fraction=cfg.validation_fraction), seed)
        gens = [g.fit(val_split.train) for g in self._build_generators()]
        val_users = np.unique(val_split.test.users)
        cand = candidates(gens, val_users, cfg.n_candidates)
        history = (history_context(val_split.train), val_split.train.matrix)
        feats = candidate_frame(feature_context(val_split.train), cand, gens, history)
        truth = np.unique(
            val_split.test.users.astype(np.int64) * train.n_items + val_split.test.items
        )
        labels = np.isin(cand.users * train.n_items + cand.items, truth).astype(np.int32)
        return feats, labels, np.unique(cand.users, return_counts=True)[1]

    def _build_generators(self) -> list[Recommender]:
        return [
            make_model(s.model, {"random_state": self.config.random_state, **s.params})
            for s in self.config.generators
        ]

    def rows_scorer(self, feats: pd.DataFrame, labels: np.ndarray, groups: np.ndarray) -> Any:
        """A second stage trained on the given candidate rows with this config's settings (it
        has ``predict(feats)``); the model itself is left as it was. Find the best model
        trains it on some validation users and scores the others, to judge the ranker on the
        same generators and users as the families it competes with."""
        fallback, text = self._train_ranker(feats, labels, groups)
        if fallback is not None:
            return fallback
        import lightgbm as lgb

        return lgb.Booster(model_str=text)

    def _train_ranker(
        self, feats: pd.DataFrame, labels: np.ndarray, groups: np.ndarray
    ) -> tuple[Any, str]:
        """A LambdaRank model grouped by user (``groups``: consecutive rows per query), as
        ``(None, LightGBM text)``; the booster is read back from the text when needed.

        Without lightgbm, a scikit-learn classifier of "is a validation hit" stands in; it
        ranks by probability and cannot be saved (sklearn models need pickle), so it comes
        back itself, with empty text.
        """
        cfg = self.config
        try:
            import lightgbm as lgb
        except ImportError:
            return ClassifierScorer(cfg, feats, labels), ""
        model = lgb.LGBMRanker(
            objective="lambdarank",
            n_estimators=cfg.n_estimators,
            learning_rate=cfg.learning_rate,
            num_leaves=cfg.num_leaves,
            min_child_samples=cfg.min_child_samples,
            reg_lambda=cfg.reg,
            subsample=cfg.subsample,
            subsample_freq=1 if cfg.subsample < 1.0 else 0,
            colsample_bytree=cfg.colsample_bytree,
            random_state=cfg.random_state,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
            verbose=-1,
        )
        model.fit(feats, labels, group=groups)
        return None, str(model.booster_.model_to_string())

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

    def history(self) -> HistoryContext:
        """The history tables (times, latest items) learned on the full training data."""
        self._train()
        names = HistoryContext.__dataclass_fields__
        return HistoryContext(**{f: getattr(self, f"{_HIST_PREFIX}{f}_") for f in names})

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
    def test_candidates(self, users: np.ndarray) -> Candidates:
        """The test-time candidates of user indices (generators fitted on all of train)."""
        return candidates(self.generators(), users, self.config.n_candidates)

    def features_of(self, cand: Candidates, rows: np.ndarray | None = None) -> pd.DataFrame:
        """The feature matrix of test-time candidates, checked against the trained one's
        columns; ``rows`` (positions in ``cand``): only those rows, the same values (reasons
        for a few pairs need a few percent of the candidates' rows)."""
        history = (self.history(), self._train().matrix)
        feats = candidate_frame(self.context(), cand, self.generators(), history, rows)
        if list(feats.columns) != [str(c) for c in self.feature_names_]:
            raise RecsysError("The ranker's features changed since it was trained; refit it.")
        return feats

    def candidate_features(self, users: np.ndarray) -> tuple[Candidates, pd.DataFrame]:
        """The test-time candidates of user indices and their feature matrix."""
        cand = self.test_candidates(users)
        return cand, self.features_of(cand)

    # ------------------------------------------------------------------ contract
    def feature_rows(self, users: np.ndarray) -> pd.DataFrame:
        """The candidate feature rows of user indices (what SHAP explains)."""
        return self.candidate_features(users)[1]

    def feature_contributions(self, rows: pd.DataFrame) -> pd.DataFrame:
        """SHAP value of every feature of every row (they add up to the ranker's score)."""
        return shap_frame(self.booster(), rows)

    def feature_descriptions(self) -> dict[str, str]:
        """What each feature means, the generators' features named by their keys."""
        return feature_descriptions(list(self.candidate_models()))

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
