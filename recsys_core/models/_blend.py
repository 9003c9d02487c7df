"""Shared pieces of model blends and wrappers: score normalisation, flags, progress shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import scipy.stats

from recsys_core.errors import InputError
from recsys_core.models.base import Recommender
from recsys_core.progress import Progress

Normalisation = Literal["minmax", "zscore", "rank"]

UNITS = 1000  # progress units per component, so each component fills an equal share


class InstanceFlag:
    """A capability flag: a plain bool on the class, computed from the config on an instance.

    Wrappers (hybrids, re-rankers) only know whether they explain, are personalised or score
    cold items once they know their components; code that reads the flag from the class (the
    registry, a page listing models) still gets a bool, the conservative default.
    """

    def __init__(self, default: bool, compute: Callable[[Any], bool]) -> None:
        self.default = default
        self.compute = compute

    def __get__(self, obj: object, owner: type | None = None) -> bool:
        return self.default if obj is None else self.compute(obj)


def normalise_scores(scores: np.ndarray, method: Normalisation) -> np.ndarray:
    """Each row on a common scale; NaN and infinite scores get the row's lowest value.

    minmax maps the row to [0, 1] (a constant row to 0), zscore to mean 0 and standard
    deviation 1 (a constant row to 0), rank to ``(rank - 1) / (n - 1)`` with tied scores
    sharing their average rank, best item 1.

    Returns:
        float32 array of the same shape.
    """
    s = np.asarray(scores, dtype=np.float32)
    finite = np.isfinite(s)
    if method == "rank":
        ranks = scipy.stats.rankdata(np.where(finite, s, -np.inf), method="average", axis=1)
        n_missing = (~finite).sum(axis=1, keepdims=True)
        span = np.maximum(finite.sum(axis=1, keepdims=True) - 1, 1)
        out = ((ranks - n_missing - 1) / span).astype(np.float32)
    else:
        shift, scale = shift_scale(s, method)
        out = ((s - shift) / scale).astype(np.float32)
    lowest = np.where(finite, out, np.inf).min(axis=1, keepdims=True)
    lowest[~np.isfinite(lowest)] = 0.0
    return np.where(finite, out, lowest).astype(np.float32)


def shift_scale(scores: np.ndarray, method: Literal["minmax", "zscore"]) -> tuple[Any, Any]:
    """Per-row ``(shift, scale)`` with normalised = (score - shift) / scale, over finite scores.

    A row whose finite scores are all equal (to float32 precision) or absent gets scale 1, so
    it normalises to 0.
    """
    finite = np.isfinite(scores)
    count = np.maximum(finite.sum(axis=1, keepdims=True), 1)
    if method == "minmax":
        shift = np.where(finite, scores, np.inf).min(axis=1, keepdims=True).astype(np.float64)
        top = np.where(finite, scores, -np.inf).max(axis=1, keepdims=True).astype(np.float64)
        scale = top - shift
    else:
        shift = np.where(finite, scores, 0.0).sum(axis=1, keepdims=True, dtype=np.float64) / count
        dev = np.where(finite, scores - shift, 0.0)
        scale = np.sqrt((dev * dev).sum(axis=1, keepdims=True) / count)
    # float32 noise on a constant row must not be blown up to the whole [0, 1] range
    size = np.where(finite, np.abs(scores), 0.0).max(axis=1, keepdims=True)
    flat = ~np.isfinite(shift) | ~(scale > 1e-6 * size)
    return np.where(np.isfinite(shift), shift, 0.0), np.where(flat, 1.0, scale)


class ShareProgress:
    """Forwards one component's progress as its share of the whole hybrid fit."""

    def __init__(self, progress: Progress, index: int, count: int, label: str) -> None:
        self.progress, self.index, self.count, self.label = progress, index, count, label

    def __call__(self, done: int, total: int, message: str = "") -> None:
        frac = min(done / total, 1.0) if total else 0.0
        where = f"component {self.index + 1}/{self.count} ({self.label})"
        text = f"{where}: {message}" if message else where
        self.progress(round((self.index + frac) * UNITS), self.count * UNITS, text)


def check_same_training(models: Sequence[Recommender]) -> None:
    """Blending is only meaningful (and leak-free) for models of one training set."""
    unfitted = [m.name for m in models if not m.fitted]
    if unfitted:
        raise InputError(f"Models {unfitted} are not fitted; fit them (or load their runs) first.")
    first = models[0].train_
    for other in (m.train_ for m in models[1:]):
        same_ids = np.array_equal(
            np.asarray(first.user_ids, dtype=str), np.asarray(other.user_ids, dtype=str)
        ) and np.array_equal(
            np.asarray(first.item_ids, dtype=str), np.asarray(other.item_ids, dtype=str)
        )
        if not same_ids:
            raise InputError(
                "These models were fitted on different user or item id spaces: runs from "
                "different datasets or versions cannot be blended. Pick runs of one dataset "
                "version."
            )
        a, b = first.matrix, other.matrix
        # compare which pairs were trained on, not values: a model may keep its training
        # matrix transformed (ItemKNN binarises it), which is still the same split
        same_train = np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
        if not same_train:
            raise InputError(
                "These models were fitted on different training interactions (another split, "
                "split seed or cleaning): a blend of them would see test data of one in the "
                "training data of another. Pick runs that share the split."
            )
