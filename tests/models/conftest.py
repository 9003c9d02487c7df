"""Fixtures for model tests: a checkerboard with a known right answer and tiny rating data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions

#: Checkerboard shape: users per group, items per group, own-group items each user has NOT seen.
GROUP_USERS = 12
GROUP_ITEMS = 10
HELD_BACK = 3


def checkerboard_interactions() -> Interactions:
    """Two user groups, two item groups; each user saw all but ``HELD_BACK`` of its own items.

    Users ``0..11`` (group 0) see items ``0..9``; users ``12..23`` (group 1) see ``10..19``.
    Which own-group items a user has not seen rotates with the user, so every item is seen by
    most of its group and every user has ``HELD_BACK`` unseen own-group items: a personalised
    model must recommend exactly those before any item of the other group.
    """
    users, items = [], []
    for u in range(2 * GROUP_USERS):
        group = u // GROUP_USERS
        own = np.arange(GROUP_ITEMS) + group * GROUP_ITEMS
        held = {(u * HELD_BACK + j) % GROUP_ITEMS for j in range(HELD_BACK)}
        seen = [i for pos, i in enumerate(own) if pos not in held]
        users += [u] * len(seen)
        items += seen
    frame = pd.DataFrame(
        {Columns.user: [f"u{u:02d}" for u in users], Columns.item: [f"i{i:02d}" for i in items]}
    )
    return Interactions.from_frame(frame, item_features=checkerboard_items())


def checkerboard_items() -> pd.DataFrame:
    """Item metadata that carries the group structure, for content models.

    A genre per group, a title whose first word names the group (the second is unique to
    the item), and a price range per group; nothing links items of different groups.
    """
    ids = np.arange(2 * GROUP_ITEMS)
    group = ids // GROUP_ITEMS
    return pd.DataFrame(
        {
            "title": [
                f"{('alpha', 'beta')[g]} thing{i:02d}" for i, g in zip(ids, group, strict=True)
            ],
            "genre": [f"genre{g}" for g in group],
            "price": 5.0 + 20.0 * group + ids % GROUP_ITEMS,
        },
        index=pd.Index([f"i{i:02d}" for i in ids], name=Columns.item),
    )


def own_group(user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
    """Per (user, item) pair of external ids: is the item in the user's own group?"""
    users = np.asarray([int(str(u)[1:]) for u in user_ids]) >= GROUP_USERS
    items = np.asarray([int(str(i)[1:]) for i in item_ids]) >= GROUP_ITEMS
    return users == items


@dataclass(frozen=True)
class Checkerboard:
    """The planted-structure data and what a personalised model must find in it."""

    interactions: Interactions
    unseen_per_user: int = HELD_BACK

    def own_group(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        return own_group(user_ids, item_ids)


@pytest.fixture(scope="session")
def board() -> Checkerboard:
    return Checkerboard(checkerboard_interactions())


@pytest.fixture
def checkerboard(board: Checkerboard) -> Interactions:
    return board.interactions


@pytest.fixture
def small_ratings() -> Interactions:
    """Five users rate six movies 1-5 (explicit feedback), with timestamps."""
    frame = pd.DataFrame(
        {
            Columns.user: ["a", "a", "a", "b", "b", "c", "c", "c", "d", "d", "e", "e"],
            Columns.item: ["m1", "m2", "m3", "m1", "m4", "m2", "m3", "m5", "m4", "m6", "m1", "m5"],
            Columns.rating: [5.0, 4.0, 1.0, 4.0, 2.0, 5.0, 3.0, 4.0, 1.0, 2.0, 3.0, 5.0],
            Columns.timestamp: np.arange(12, dtype=np.int64) * 86_400,
        }
    )
    return Interactions.from_frame(frame)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)
