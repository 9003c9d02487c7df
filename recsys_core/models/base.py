"""The Recommender contract: a template-method base class every model family fills in."""

from __future__ import annotations

from abc import ABC, abstractmethod
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field
from threadpoolctl import ThreadpoolController

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError, RecsysError
from recsys_core.features import coverage_warnings
from recsys_core.models._history import history_row
from recsys_core.models._persist import read_model, restore, write_model
from recsys_core.models._reasons import history_many, history_one, none_many
from recsys_core.models._topk import topk_rows
from recsys_core.models.capabilities import Capabilities
from recsys_core.models.explanation import Explanation, PairParts, Permutable
from recsys_core.progress import Progress
from recsys_core.splitting.splits import Split


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
    explains_features: ClassVar[bool] = False
    has_item_vectors: ClassVar[bool] = False
    shuffles_features: ClassVar[bool] = False
    ranks_candidates: ClassVar[bool] = False
    #: True where :meth:`_score_history` folds in a history without refitting.
    folds_in: ClassVar[bool] = False

    @property
    def capabilities(self) -> Capabilities:
        """Everything this model offers beyond scores (the one place callers read it)."""
        return Capabilities(
            history_reasons=bool(self.explains),
            feature_reasons=bool(self.explains_features),
            item_vectors=bool(self.has_item_vectors),
            feature_groups=bool(self.shuffles_features),
            shap_features=bool(self.ranks_candidates),
            candidate_models=bool(self.ranks_candidates),
            cold_items=bool(self.supports_cold_items),
            history_scoring=bool(self.folds_in),
        )

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

    def score_history(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Scores of every item for a history the model was not trained on (a new user).

        A served run answers a fresh history without refitting: item-item families multiply
        the row by their weights, factor models solve the user's half-step against the fixed
        item factors. A training user's own row scores as :meth:`score` scores that user.

        Args:
            items: item indices of the history.
            weights: rating or weight per item (1 when omitted).

        Returns:
            float32 ``[n_items]``.
        """
        if not self.folds_in:
            raise InputError(f"The {self.name} model cannot score a history it was not fit on.")
        i = check_indices(items, self.n_items, "item")
        w = np.ones(len(i)) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
        if len(w) != len(i):
            raise InputError(f"One weight per history item: got {len(w)} for {len(i)} items.")
        row = history_row(i, w, self.n_items)
        return np.asarray(self._score_history(row), dtype=np.float32).ravel()

    def _score_history(self, row: sp.csr_matrix) -> np.ndarray:
        """Scores ``[n_items]`` of one ``1 x n_items`` history row (``folds_in`` families)."""
        raise InputError(f"The {self.name} model cannot score a history it was not fit on.")

    # ------------------------------------------------------------------ explaining
    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores of the pairs ``(users[p], items[p])`` as float64.

        This default takes them from full rows, a block of users at a time; families whose
        score of one pair is cheap (dot products) compute it per pair, so a pair scores the
        same in a batch of one as in a batch of thousands.
        """
        u = check_indices(users, self.n_users, "user")
        i = check_indices(items, self.n_items, "item")
        uniq, inverse = np.unique(u, return_inverse=True)
        out = np.empty(len(u), dtype=np.float64)
        order = np.argsort(inverse, kind="stable")
        cuts = np.searchsorted(inverse[order], np.arange(0, len(uniq) + 1024, 1024))
        for block, (lo, hi) in enumerate(pairwise(cuts)):
            rows = self.score(uniq[block * 1024 : (block + 1) * 1024])
            at = order[lo:hi]
            out[at] = rows[inverse[at] - block * 1024, i[at]]
        return out

    def explain_many(
        self, users: np.ndarray, items: np.ndarray, names: np.ndarray, n: int = 5
    ) -> list[Explanation]:
        """Why each pair ``(users[p], items[p])`` (indices) scores as it does.

        Families compute every pair's parts in one vectorised pass; the contributions of
        each explanation plus its residual equal its score exactly.

        Args:
            users: user indices.
            items: item indices, one per user index.
            names: display name of every catalogue item (see ``catalogue_names``).
            n: at most this many names in a sentence.

        One BLAS thread: the parts come from many small products (one per user), where
        OpenBLAS threads only spin and wait for each other; on the 2-core machine under load
        content reasons went from 1,500 to 4,200 per second with one thread.
        """
        pairs = self._pairs(users, items)
        with _one_blas_thread():
            scores = self.score_pairs(*pairs)
            if not self.explains:
                return none_many(self, pairs, scores)
            parts = self.history_parts_many(*pairs)
            phrases = self.feature_phrases(*pairs, min(n, 3)) if self.explains_features else None
        return history_many(self, pairs, scores, parts, names, n, phrases)

    def explain_one(self, user: int, item: int, names: np.ndarray, n: int = 5) -> Explanation:
        """The scalar reference of :meth:`explain_many`: one pair, through the per-pair parts."""
        u, i = (int(x[0]) for x in self._pairs(np.array([user]), np.array([item])))
        score = float(self.score_pairs(np.array([u]), np.array([i]))[0])
        if not self.explains:
            return none_many(self, (np.array([u]), np.array([i])), np.array([score]))[0]
        return history_one(self, u, i, score, names, n)

    def _pairs(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = check_indices(users, self._train().n_users, "user")
        i = check_indices(items, self.n_items, "item")
        if len(u) != len(i):
            raise InputError(f"Pairs need one item per user; got {len(u)} and {len(i)}.")
        return u, i

    def explain_parts(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray]:
        """History item indices and their additive contributions to ``score(user, item)``.

        Only models with ``explains = True`` implement it; the contributions sum to the score.
        """
        raise InputError(f"Model {self.name!r} cannot explain its recommendations.")

    def history_parts_many(self, users: np.ndarray, items: np.ndarray) -> PairParts:
        """:meth:`explain_parts` of every pair at once (history families, vectorised)."""
        raise InputError(f"Model {self.name!r} cannot explain its recommendations.")

    def explain_features(self, user: int, item: int, n: int = 5) -> list[tuple[str, float]]:
        """The item attributes adding most to the score (``explains_features`` families)."""
        return []

    def feature_phrases(self, users: np.ndarray, items: np.ndarray, n: int) -> list[str]:
        """Per pair, :meth:`explain_features` names joined for a sentence, vectorised."""
        return [""] * len(users)

    # ------------------------------------------------------------------ capabilities
    def item_vectors(self) -> np.ndarray:
        """Learned item vectors ``[n_items, d]`` (``has_item_vectors`` families)."""
        raise InputError(f"The {self.name} model has no item vectors to draw a map of.")

    def permutable(self, train: Interactions) -> Permutable:
        """Item feature groups and a scorer with some of them shuffled (``shuffles_features``)."""
        raise InputError(
            f"The {self.name} model uses no item features, so there is nothing to shuffle; "
            "permutation importance works for content, two_tower and fusion models."
        )

    def feature_rows(self, users: np.ndarray) -> pd.DataFrame:
        """Candidate feature rows of user indices (``ranks_candidates`` families)."""
        raise InputError(f"The {self.name} model has no candidate features to explain.")

    def feature_contributions(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Per row of :meth:`feature_rows`, each feature's signed part of the score (SHAP)."""
        raise InputError(f"The {self.name} model has no candidate features to explain.")

    def feature_descriptions(self) -> dict[str, str]:
        """What each column of :meth:`feature_rows` means, by name (``ranks_candidates``)."""
        return {}

    def candidate_models(self) -> dict[str, Recommender]:
        """Fitted models whose lists this one reorders, by label (``ranks_candidates``)."""
        return {}

    def report(self, split: Split) -> dict[str, Any]:
        """What the family itself can tell about a fit, stored with a run's summary.

        Every model says whether it ranks cold items (with the item table's coverage
        warnings when it does); families add their own (encoders, gates and ablation).
        """
        out: dict[str, Any] = {"supports_cold_items": bool(self.supports_cold_items)}
        out.update(self._report(split))
        if self.supports_cold_items and split.train.item_features is not None:
            out["warnings"] = coverage_warnings(split.train)
        return out

    def _report(self, split: Split) -> dict[str, Any]:
        return {}

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
        write_model(self, self._train(), path)

    @classmethod
    def load(cls, path: Path) -> Recommender:
        """Read a file written by :meth:`save` into this class.

        A file of unknown family is read with ``registry.load_model_file``, which picks the
        class by the name stored in the file.
        """
        meta, arrays = read_model(path)
        if cls is Recommender:
            raise InputError(
                f"{path} holds a {meta['model']!r} model: read it with "
                "recsys_core.models.registry.load_model_file, which picks the class."
            )
        if cls.name != meta["model"]:
            raise InputError(f"{path} holds a {meta['model']!r} model, not {cls.name!r}.")
        return restore(cls(cls.config_class.model_validate(meta["config"])), meta, arrays)


# ---------------------------------------------------------------------- helpers
_BLAS: list[ThreadpoolController] = []


def _one_blas_thread() -> Any:
    """A context holding BLAS to one thread, from one scan of the process's libraries.

    ``threadpool_limits`` scans every loaded library on each call (3-12 ms, as long as a
    whole batch of EASE reasons); numpy's and scipy's BLAS are loaded before any model
    explains, so the first scan serves every later call.
    """
    if not _BLAS:
        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


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
