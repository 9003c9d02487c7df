"""The Recommender contract: a template-method base class every model family fills in."""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError, RecsysError
from recsys_core.models._topk import topk_rows
from recsys_core.progress import Progress

#: Bumped when the layout of saved files changes, so old files fail with a clear message.
FORMAT_VERSION = 1
_META_KEY = "__meta__"
_TRAIN_PREFIX = "train__"


class NotFittedError(RecsysError, RuntimeError):
    """A model was asked for scores or recommendations before :meth:`Recommender.fit`."""


class RecommenderConfig(BaseModel):
    """Hyper-parameters shared by every model; subclasses add their own documented fields.

    ``extra="forbid"`` makes a misspelt parameter an error instead of a silently ignored key.
    """

    model_config = ConfigDict(extra="forbid")

    random_state: int = Field(
        42, ge=0, description="Seed for every random choice, so a refit gives the same model."
    )


class Recommender(ABC):
    """Fit on :class:`Interactions`, then score, rank and recommend for users of that space.

    Subclasses write ``_fit(train, progress)`` and ``_score(users, items)``; this class does the
    shared work (argument checks, id mapping, masking seen items, top-k, save and load).
    ``__init__`` only stores the config, scikit-learn style; learned state ends in ``_``.
    Any public attribute ending in ``_`` that is a numpy array, a scipy sparse matrix or a
    plain number is saved and loaded by :meth:`save` / :meth:`load` without pickle.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[RecommenderConfig]] = RecommenderConfig
    supports_cold_items: ClassVar[bool] = False
    explains: ClassVar[bool] = False
    #: True where :meth:`explain_parts` splits only the part of the score the history accounts
    #: for (embedding models); explanations then say how large that part is.
    approximate_explanations: ClassVar[bool] = False
    predicts_ratings: ClassVar[bool] = False
    #: False for models whose ranking is the same for every user (popularity, random, biases).
    personalized: ClassVar[bool] = True

    def __init__(self, config: RecommenderConfig | None = None, **params: Any) -> None:
        base = {} if config is None else config.model_dump()
        # Validation happens here so a bad value fails at construction, not deep inside fit.
        self.config = self.config_class.model_validate({**base, **params})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Interactions, *, progress: Progress | None = None) -> Self:
        """Learn from ``train``; the model keeps it for seen-item filtering and the id maps.

        Raises:
            InputError: when ``train`` is empty or covers a single user or a single item, as
                no model can learn a ranking from that.
        """
        _check_train(train)
        self.train_ = train
        try:
            self._fit(train, progress)
        except BaseException:
            del self.train_  # a failed (or cancelled) fit must not leave a half-fitted model
            raise
        return self

    @abstractmethod
    def _fit(self, train: Interactions, progress: Progress | None) -> None:
        """Learn the model's state (attributes ending in ``_``) from ``train``."""

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`load`) has run."""
        return hasattr(self, "train_")

    @property
    def n_users(self) -> int:
        """Size of the training user index space."""
        return self._train().n_users

    @property
    def n_items(self) -> int:
        """Size of the training item index space (the catalogue)."""
        return self._train().n_items

    def _train(self) -> Interactions:
        if not self.fitted:
            raise NotFittedError(f"Model {self.name!r} is not fitted yet: call fit() first.")
        return self.train_

    # ------------------------------------------------------------------ scoring
    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """Scores of user indices for every item (or for ``items``), higher is better.

        Returns:
            Dense float32 array of shape ``[len(users), n_items]`` or ``[len(users), len(items)]``.
        """
        u = check_indices(users, self._train().n_users, "user")
        i = None if items is None else check_indices(items, self.n_items, "item")
        out = np.asarray(self._score(u, i), dtype=np.float32)
        expected = (len(u), self.n_items if i is None else len(i))
        if out.shape != expected:
            raise RecsysError(f"{self.name}: _score returned {out.shape}, expected {expected}.")
        return out

    @abstractmethod
    def _score(self, users: np.ndarray, items: np.ndarray | None) -> np.ndarray:
        """Dense scores for checked user indices; must return a fresh (writable) array."""

    def explain_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """History item indices and their additive contributions to ``score(user, item)``.

        Only models with ``explains = True`` implement it; the contributions sum to the score.
        """
        raise InputError(f"Model {self.name!r} cannot explain its recommendations.")

    def topk(
        self, users: np.ndarray, k: int, *, exclude_seen: bool = True, batch_size: int = 2048
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` items per user index, scored in batches to bound memory.

        Ties are broken by item index ascending so results never depend on batching. Seen
        items are masked when ``exclude_seen``; rows with fewer than ``k`` available items are
        padded with item -1 and score -inf.

        Returns:
            ``(items int32 [n, k], scores float32 [n, k])``.
        """
        if k < 1:
            raise InputError(f"k must be at least 1; got {k}.")
        u = check_indices(users, self._train().n_users, "user")
        items = np.full((len(u), k), -1, dtype=np.int32)
        scores = np.full((len(u), k), -np.inf, dtype=np.float32)
        seen = self._seen() if exclude_seen else None
        for start in range(0, len(u), max(1, batch_size)):
            batch = u[start : start + batch_size]
            s = self.score(batch)
            s[np.isnan(s)] = -np.inf
            if seen is not None:
                sub = seen[batch]
                s[np.repeat(np.arange(len(batch)), np.diff(sub.indptr)), sub.indices] = -np.inf
            idx, val = topk_rows(s, k)
            items[start : start + len(batch)] = idx
            scores[start : start + len(batch)] = val
        return items, scores

    def _seen(self) -> sp.csr_matrix:
        return self._train().matrix

    def recommend(self, users: Any, k: int, *, exclude_seen: bool = True) -> pd.DataFrame:
        """Top-``k`` recommendations for external user ids.

        Returns:
            A frame with columns user, item, score, rank (1-based), users in the order given.
            A user gets fewer than ``k`` rows when fewer unseen items exist.

        Raises:
            InputError: for ``k < 1`` or user ids that were not in the training data.
        """
        if not isinstance(k, int | np.integer) or k < 1:
            raise InputError(f"k (number of recommendations) must be a whole number ≥ 1; got {k}.")
        train = self._train()
        ids = np.asarray(users, dtype=str).ravel()
        idx = train.user_index(ids)
        if (idx < 0).any():
            bad = pd.unique(ids[idx < 0])
            raise InputError(
                f"{len(bad)} user id(s) are not in the training data of {self.name!r}, "
                f"e.g. {bad[:5].tolist()}; pick users from the training set."
            )
        k_eff = min(int(k), train.n_items)
        items, scores = self.topk(idx, k_eff, exclude_seen=exclude_seen)
        keep = items >= 0
        rows = np.nonzero(keep)[0]
        return pd.DataFrame(
            {
                Columns.user: ids[rows],
                Columns.item: np.asarray(train.item_ids, dtype=str)[items[keep]],
                Columns.score: scores[keep],
                Columns.rank: (np.nonzero(keep)[1] + 1).astype(np.int64),
            }
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: Path) -> None:
        """Write config, id maps, training matrix and learned arrays to one ``.npz`` file.

        Everything is stored as plain arrays (``allow_pickle=False`` on load) because pickle
        would run code from the file even when the store's checksum matches.
        """
        train = self._train()
        arrays, kinds = _state_arrays(self)
        arrays.update(_train_arrays(train))
        meta = {
            "format_version": FORMAT_VERSION,
            "model": self.name,
            "config": self.config.model_dump(mode="json"),
            "feedback": train.feedback,
            "state": kinds,
        }
        arrays[_META_KEY] = np.array(json.dumps(meta))
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)  # readers never see a half-written file

    @classmethod
    def load(cls, path: Path) -> Recommender:
        """Read a file written by :meth:`save`; ``Recommender.load`` picks the right class."""
        from recsys_core.models.registry import REGISTRY

        with np.load(Path(path), allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        meta = json.loads(str(arrays.pop(_META_KEY)))
        if meta.get("format_version") != FORMAT_VERSION:
            raise InputError(f"{path} was saved in an unsupported format: {meta!r:.80}.")
        model_cls = REGISTRY.get(meta["model"]) if cls is Recommender else cls
        if model_cls is None or model_cls.name != meta["model"]:
            raise InputError(f"{path} holds a {meta['model']!r} model, not {cls.name!r}.")
        model = model_cls(model_cls.config_class.model_validate(meta["config"]))
        model.train_ = _train_from_arrays(arrays, meta["feedback"])
        _restore_state(model, arrays, meta["state"])
        return model


# ---------------------------------------------------------------------- helpers
def _check_train(train: Interactions) -> None:
    if train.n_interactions == 0:
        raise InputError("The training data has no interactions; choose a larger split.")
    n_users = np.count_nonzero(np.bincount(train.users, minlength=train.n_users))
    n_items = np.count_nonzero(np.bincount(train.items, minlength=train.n_items))
    if n_users < 2 or n_items < 2:
        raise InputError(
            f"The training data has {n_users} user(s) and {n_items} item(s) with interactions; "
            "a recommender needs at least two of each. Check the filters and the split."
        )


def check_indices(values: Any, size: int, what: str) -> np.ndarray:
    """Integer indices as int64, checked to lie in ``[0, size)``."""
    arr = np.asarray(values).ravel()
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{what} indices must be integers; got dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= size):
        raise InputError(f"{what} indices must lie in [0, {size}); got {arr.min()}..{arr.max()}.")
    return arr


def order_contributions(items: np.ndarray, contrib: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop zero contributions and order by size, so the first reasons are the strongest."""
    keep = contrib != 0
    items, contrib = items[keep], contrib[keep]
    order = np.lexsort((items, -np.abs(contrib)))
    return items[order].astype(np.int64), contrib[order].astype(np.float64)


def _state_arrays(model: Recommender) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Learned attributes as plain arrays, with the kind needed to rebuild each one."""
    arrays: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for key, value in vars(model).items():
        if not key.endswith("_") or key.startswith("_") or key == "train_":
            continue
        if isinstance(value, np.generic):
            value = value.item()
        if sp.issparse(value):
            m = sp.csr_matrix(value)
            kinds[key] = "csr"
            arrays[f"{key}.data"], arrays[f"{key}.indices"] = m.data, m.indices
            arrays[f"{key}.indptr"], arrays[f"{key}.shape"] = m.indptr, np.array(m.shape)
        elif isinstance(value, np.ndarray) and value.dtype != object:
            kinds[key], arrays[key] = "ndarray", value
        elif isinstance(value, bool | int | float):
            kinds[key], arrays[key] = type(value).__name__, np.asarray(value)
        else:
            # Failing here beats a loaded model that silently lacks part of its state.
            raise RecsysError(f"{model.name}: cannot save learned attribute {key} ({type(value)}).")
    return arrays, kinds


def _restore_state(
    model: Recommender, arrays: dict[str, np.ndarray], kinds: dict[str, str]
) -> None:
    casts = {"bool": bool, "int": int, "float": float}
    for key, kind in kinds.items():
        if kind == "csr":
            parts = (arrays[f"{key}.data"], arrays[f"{key}.indices"], arrays[f"{key}.indptr"])
            value: Any = sp.csr_matrix(parts, shape=tuple(arrays[f"{key}.shape"]))
        elif kind == "ndarray":
            value = arrays[key]
        else:
            value = casts[kind](arrays[key].item())
        setattr(model, key, value)


def _train_arrays(train: Interactions) -> dict[str, np.ndarray]:
    m = train.matrix
    p = _TRAIN_PREFIX
    return {
        f"{p}data": m.data,
        f"{p}indices": m.indices,
        f"{p}indptr": m.indptr,
        f"{p}user_ids": np.asarray(train.user_ids, dtype=str),
        f"{p}item_ids": np.asarray(train.item_ids, dtype=str),
    }


def _train_from_arrays(arrays: dict[str, np.ndarray], feedback: Any) -> Interactions:
    """Rebuild the training space from its matrix: enough for scoring and seen-item masks."""
    p = _TRAIN_PREFIX
    indptr = arrays[f"{p}indptr"]
    users = np.repeat(np.arange(len(indptr) - 1, dtype=np.int32), np.diff(indptr))
    return Interactions(
        users=users,
        items=arrays[f"{p}indices"].astype(np.int32),
        values=arrays[f"{p}data"].astype(np.float32),
        user_ids=arrays[f"{p}user_ids"].astype(object),
        item_ids=arrays[f"{p}item_ids"].astype(object),
        feedback=feedback,
    )
