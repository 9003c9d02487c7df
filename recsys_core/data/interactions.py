"""The validated, immutable interaction container every model and metric takes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.columns import Columns
from recsys_core.errors import InputError

Feedback = Literal["explicit", "implicit"]


@dataclass(frozen=True, eq=False)
class Interactions:
    """Interactions in long form over fixed user and item index spaces.

    The long arrays (one entry per interaction) keep timestamps and event types that a
    sparse matrix would lose; splits slice them with :meth:`subset` so that train and test
    share one index space. ``user_ids[i]`` is the external id of user index ``i``; the
    catalogue may hold items without interactions (from the item table).

    Attributes:
        users: user index per interaction (int32).
        items: item index per interaction (int32).
        values: rating or weight per interaction (float32); 1.0 for plain implicit events.
        user_ids: external user id per index (strings).
        item_ids: external item id per index (strings).
        timestamps: Unix seconds per interaction (int64) or None.
        events: event type per interaction (object) or None.
        item_features: item metadata indexed by external item id, or None.
        user_features: user attributes indexed by external user id, or None.
        feedback: "explicit" when values are ratings, "implicit" when they are weights.
        is_test: the analyst's own train/test flag per interaction (bool), or None.
    """

    users: np.ndarray
    items: np.ndarray
    values: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    timestamps: np.ndarray | None = None
    events: np.ndarray | None = None
    item_features: pd.DataFrame | None = None
    user_features: pd.DataFrame | None = None
    feedback: Feedback = "implicit"
    is_test: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.users)
        for name in ("items", "values"):
            if len(getattr(self, name)) != n:
                raise InputError(f"Interactions.{name} has a different length than users.")
        for name in ("timestamps", "events", "is_test"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != n:
                raise InputError(f"Interactions.{name} has a different length than users.")
        if n and (self.users.max() >= len(self.user_ids) or self.items.max() >= len(self.item_ids)):
            raise InputError("Interaction indices fall outside the id maps.")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        feedback: Feedback | None = None,
        item_features: pd.DataFrame | None = None,
        user_features: pd.DataFrame | None = None,
        user_ids: np.ndarray | None = None,
        item_ids: np.ndarray | None = None,
    ) -> Interactions:
        """Build from a frame with canonical columns (see :class:`Columns`).

        Ids become strings. When ``user_ids``/``item_ids`` are given the index spaces are
        fixed to them (ids not in them raise); otherwise they are the sorted union of the
        frame's ids and, for items/users, the feature tables' index.
        """
        c = Columns
        missing = [col for col in (c.user, c.item) if col not in frame.columns]
        if missing:
            raise InputError(f"Interactions need columns {missing}; got {list(frame.columns)}.")
        u_raw = frame[c.user].astype(str).to_numpy()
        i_raw = frame[c.item].astype(str).to_numpy()
        uid = _id_space(u_raw, user_ids, user_features)
        iid = _id_space(i_raw, item_ids, item_features)
        users = _lookup(uid, u_raw, "user")
        items = _lookup(iid, i_raw, "item")
        if c.rating in frame.columns:
            values = frame[c.rating].to_numpy(dtype=np.float32)
        elif c.weight in frame.columns:
            values = frame[c.weight].to_numpy(dtype=np.float32)
        else:
            values = np.ones(len(frame), dtype=np.float32)
        ts = frame[c.timestamp].to_numpy(dtype=np.int64) if c.timestamp in frame.columns else None
        ev = frame[c.event].to_numpy(dtype=object) if c.event in frame.columns else None
        flag = frame[c.split].to_numpy(dtype=bool) if c.split in frame.columns else None
        if feedback is None:
            feedback = "explicit" if c.rating in frame.columns else "implicit"
        return cls(
            users=users,
            items=items,
            values=values,
            user_ids=uid,
            item_ids=iid,
            timestamps=ts,
            events=ev,
            item_features=item_features,
            user_features=user_features,
            feedback=feedback,
            is_test=flag,
        )

    def to_frame(self) -> pd.DataFrame:
        """Long frame with external ids and canonical column names."""
        c = Columns
        out = {
            c.user: self.user_ids[self.users],
            c.item: self.item_ids[self.items],
            (c.rating if self.feedback == "explicit" else c.weight): self.values,
        }
        if self.timestamps is not None:
            out[c.timestamp] = self.timestamps
        if self.events is not None:
            out[c.event] = self.events
        if self.is_test is not None:
            out[c.split] = self.is_test
        return pd.DataFrame(out)

    # ------------------------------------------------------------------ shape
    @property
    def n_users(self) -> int:
        """Size of the user index space (including users with no interactions here)."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Size of the item index space (the catalogue)."""
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return len(self.users)

    def __len__(self) -> int:
        return self.n_interactions

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """User x item CSR matrix of values; repeated pairs are summed."""
        m = sp.csr_matrix(
            (self.values, (self.users, self.items)),
            shape=(self.n_users, self.n_items),
            dtype=np.float32,
        )
        m.sum_duplicates()
        return m

    @cached_property
    def _user_lookup(self) -> pd.Index:
        return pd.Index(self.user_ids)

    @cached_property
    def _item_lookup(self) -> pd.Index:
        return pd.Index(self.item_ids)

    def user_index(self, ids: object) -> np.ndarray:
        """Indices of external user ids; -1 where an id is unknown."""
        return self._user_lookup.get_indexer(pd.Index(np.asarray(ids, dtype=str).ravel()))

    def item_index(self, ids: object) -> np.ndarray:
        """Indices of external item ids; -1 where an id is unknown."""
        return self._item_lookup.get_indexer(pd.Index(np.asarray(ids, dtype=str).ravel()))

    # ------------------------------------------------------------------ slicing
    def subset(self, mask: np.ndarray) -> Interactions:
        """The interactions where ``mask`` is true (bool array or indices), same id spaces."""
        return Interactions(
            users=self.users[mask],
            items=self.items[mask],
            values=self.values[mask],
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            timestamps=None if self.timestamps is None else self.timestamps[mask],
            events=None if self.events is None else self.events[mask],
            item_features=self.item_features,
            user_features=self.user_features,
            feedback=self.feedback,
            is_test=None if self.is_test is None else self.is_test[mask],
        )

    def compact(self) -> Interactions:
        """Drop users with no interactions here (items stay: they are the catalogue)."""
        keep, users = np.unique(self.users, return_inverse=True)
        return Interactions(
            users=users.astype(np.int32),
            items=self.items,
            values=self.values,
            user_ids=self.user_ids[keep],
            item_ids=self.item_ids,
            timestamps=self.timestamps,
            events=self.events,
            item_features=self.item_features,
            user_features=self.user_features,
            feedback=self.feedback,
            is_test=self.is_test,
        )


def _id_space(
    raw: np.ndarray, given: np.ndarray | None, features: pd.DataFrame | None
) -> np.ndarray:
    if given is not None:
        return np.asarray(given, dtype=str).astype(object)
    ids = pd.unique(raw)
    if features is not None and len(features.index):
        ids = pd.unique(np.concatenate([ids, features.index.astype(str).to_numpy()]))
    return np.sort(ids.astype(str)).astype(object)


def _lookup(space: np.ndarray, raw: np.ndarray, what: str) -> np.ndarray:
    idx = pd.Index(space).get_indexer(raw)
    if (idx < 0).any():
        bad = raw[idx < 0][:5].tolist()
        raise InputError(f"Unknown {what} ids (not in the {what} index space): {bad}")
    return idx.astype(np.int32)
