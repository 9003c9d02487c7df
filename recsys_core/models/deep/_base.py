"""The shared fit loop of the deep models: Keras trains, numpy scores from exported weights."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
from pydantic import Field

from recsys_core.data.interactions import Interactions
from recsys_core.models.base import Recommender, RecommenderConfig
from recsys_core.models.deep._keras import (
    JIT_MIN_ROWS,
    EpochMonitor,
    State,
    load_keras,
    prepare_backend,
    run_epochs,
)
from recsys_core.models.deep._validation import Holdout, carve_validation
from recsys_core.models.priors import NOT_SEARCHED, prior, prior_choices
from recsys_core.progress import Progress

#: Learned attributes that are bookkeeping, not weights (kept out of the scoring state).
_BOOKKEEPING = ("history_", "best_epoch_")


def embedding_size_field(
    default: int,
    description: str = "Size of the learned vectors.",
    prior_range: tuple[int, int] = (16, 256),
) -> Any:
    """The ``embedding_size`` field at a family's own default (bounds shared)."""
    return Field(
        default,
        ge=1,
        le=1024,
        description=description,
        json_schema_extra=prior(*prior_range, log=True),
    )


def epochs_field(default: int) -> Any:
    """The ``epochs`` field at a family's own default (bounds, help and prior shared)."""
    return Field(
        default,
        ge=1,
        le=1000,
        description="Most passes over the data; early stopping may end sooner.",
        json_schema_extra=prior(5, 100, log=True),
    )


def learning_rate_field(default: float) -> Any:
    """The ``learning_rate`` field at a family's own default."""
    return Field(
        default,
        gt=0.0,
        le=1.0,
        description="Adam step size; lower it if the loss jumps around.",
        json_schema_extra=prior(1e-4, 0.03, log=True),
    )


def batch_size_field(default: int, description: str) -> Any:
    """The ``batch_size`` field at a family's own default, with what one example is."""
    return Field(default, ge=2, le=65_536, description=description, json_schema_extra=NOT_SEARCHED)


def patience_field(default: int) -> Any:
    """The ``patience`` field at a family's own default."""
    return Field(
        default,
        ge=1,
        le=100,
        description="Epochs without a better validation NDCG before training stops.",
        json_schema_extra=NOT_SEARCHED,
    )


class DeepConfig(RecommenderConfig):
    """Training knobs every deep model shares (names shared with the other families)."""

    embedding_size: int = embedding_size_field(32)
    epochs: int = epochs_field(10)
    learning_rate: float = learning_rate_field(0.001)
    reg: float = Field(
        0.0,
        ge=0.0,
        le=10.0,
        description="L2 penalty on the embeddings used in each batch; raise it when overfitting.",
        json_schema_extra=prior_choices(0.0, 1e-4, 1e-3, 1e-2),
    )
    batch_size: int = batch_size_field(1024, "Training examples per gradient step.")
    validation_fraction: float = Field(
        0.1,
        ge=0.0,
        le=0.5,
        description=(
            "Share of each user's training pairs held out to pick the best epoch (early "
            "stopping on validation NDCG); see `refit` for what is trained after. "
            "0 trains on everything for exactly `epochs` epochs."
        ),
    )
    refit: bool = Field(
        True,
        description=(
            "After early stopping, train afresh on all the training data (validation pairs "
            "included) for the best epoch count, so those pairs teach the model too; costs "
            "that many epochs again. Off keeps the best epoch of the run without them."
        ),
        json_schema_extra=NOT_SEARCHED,
    )
    patience: int = patience_field(3)
    validation_k: int = Field(
        10, ge=1, le=1000, description="Cut-off K of the validation NDCG@K used for stopping."
    )
    num_threads: int = Field(
        0,
        ge=0,
        le=256,
        description=(
            "CPU threads for TensorFlow; 0 uses every core. Applies from the first deep fit "
            "of a process (TensorFlow cannot resize its thread pools later)."
        ),
    )


class DeepRecommender(Recommender):
    """Template for Keras models whose weights are exported to plain arrays after training.

    Subclasses build the network, draw each epoch's examples and export the weights; the
    base runs seeding, the self-carved validation split, the epoch loop with progress and
    early stopping, and keeps the best epoch's arrays as attributes ``<key>_`` (which the
    base class saves to ``.npz``). Scoring is numpy on those arrays, so a loaded model needs
    no TensorFlow at all and returns exactly what the fitted one did.
    """

    config: DeepConfig

    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        cfg = self.config
        keras = load_keras()
        prepare_backend(cfg.random_state, cfg.num_threads)
        fit_on, holdout = carve_validation(
            train, cfg.validation_fraction, cfg.validation_k, cfg.random_state
        )
        monitor = self._train_run(keras, fit_on, holdout, cfg.epochs, progress)
        self.history_ = monitor.history_array()
        self.best_epoch_ = monitor.best_epoch + 1
        if holdout is not None and cfg.refit:
            keras.utils.set_random_seed(cfg.random_state)  # the same start as the first run
            monitor = self._train_run(keras, train, None, self.best_epoch_, progress)
        assert monitor.best_state is not None  # the start or at least one epoch
        self._set_state(monitor.best_state)

    def _train_run(
        self,
        keras: Any,
        fit_on: Interactions,
        holdout: Holdout | None,
        epochs: int,
        progress: Progress | None,
    ) -> EpochMonitor:
        """Train a fresh network on ``fit_on``; the monitor holds the derived best state."""
        cfg = self.config
        constants = self._prepare(fit_on)
        rng = np.random.default_rng(cfg.random_state)
        net = self._build(keras, fit_on, constants)

        def validate(weights: State) -> float:
            assert holdout is not None
            state = self._derive({**constants, **weights})
            return holdout.ndcg(lambda users: self._validation_scores(state, users))

        monitor = EpochMonitor(
            epochs,
            cfg.patience,
            progress,
            None if holdout is None else validate,
            f"NDCG@{cfg.validation_k}",
        )
        if self._start_is_candidate():  # epoch 0: a refit of 0 epochs keeps it
            monitor.start(lambda: self._export(net))
        run_epochs(
            net,
            self._loss(keras),
            monitor,
            lambda _epoch: self._epoch_data(fit_on, constants, rng),
            lambda: self._export(net),
            cfg.batch_size,
            cfg.learning_rate,
            jit=self._rows_per_epoch(fit_on) >= JIT_MIN_ROWS,
        )
        assert monitor.best_state is not None  # the start or at least one epoch
        monitor.best_state = self._derive({**constants, **monitor.best_state})
        return monitor

    # ------------------------------------------------------------------ subclass hooks
    def _start_is_candidate(self) -> bool:
        """Whether the untrained network is itself a model worth keeping (epoch 0).

        True for networks that start from a solved model; early stopping then compares
        every epoch with the start, and a refit of best epoch 0 trains nothing.
        """
        return False

    def _prepare(self, fit_on: Interactions) -> State:
        """Constant arrays the network and the scorer need (e.g. encoded features)."""
        return {}

    @abstractmethod
    def _build(self, keras: Any, fit_on: Interactions, constants: State) -> Any:
        """The Keras network trained by the loop (outputs feed ``_loss``)."""

    @abstractmethod
    def _loss(self, keras: Any) -> Any:
        """The loss ``(targets, outputs) -> scalar`` minimised with Adam."""

    @abstractmethod
    def _rows_per_epoch(self, fit_on: Interactions) -> int:
        """Training rows one epoch feeds to Keras (decides whether XLA compiling pays)."""

    @abstractmethod
    def _epoch_data(
        self, fit_on: Interactions, constants: State, rng: np.random.Generator
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """One epoch's inputs and targets, shuffled by ``rng``."""

    @abstractmethod
    def _export(self, net: Any) -> State:
        """The trained weights as named float32 arrays."""

    def _derive(self, state: State) -> State:
        """Add arrays computed from the weights once (e.g. final tower outputs)."""
        return state

    @abstractmethod
    def _score_state(self, state: State, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        """Scores of ``users`` for all items (or ``items``) from a state dict, in numpy."""

    def _validation_scores(self, state: State, users: np.ndarray) -> np.ndarray:
        """All-item scores for early stopping, computed after every epoch while fitting.

        ``_score_state`` by default; a family whose scoring is heavy may use TensorFlow here,
        which is loaded while fitting anyway (a loaded model still scores in numpy).
        """
        return self._score_state(state, users, None)

    # ------------------------------------------------------------------ state
    def _set_state(self, state: State) -> None:
        """Replace the learned arrays by ``state`` (stale keys of an earlier fit go)."""
        for key in list(self._state()):
            delattr(self, f"{key}_")
        for key, value in state.items():
            setattr(self, f"{key}_", np.ascontiguousarray(value))

    def _state(self) -> State:
        """The learned arrays by key (attribute name without the trailing ``_``)."""
        return {
            key[:-1]: value
            for key, value in vars(self).items()
            if key.endswith("_")
            and not key.startswith("_")
            and key not in _BOOKKEEPING
            and isinstance(value, np.ndarray)
        }

    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        return self._score_state(self._state(), users, items)
