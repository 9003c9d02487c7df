"""Canonical column names: the only place where these strings are typed."""

from __future__ import annotations

from typing import Final


class Columns:
    """Column names shared by every frame the workbench produces or accepts."""

    user: Final = "user_id"
    item: Final = "item_id"
    rating: Final = "rating"
    weight: Final = "weight"
    timestamp: Final = "timestamp"
    event: Final = "event_type"
    split: Final = "is_test"
    score: Final = "score"
    rank: Final = "rank"
    model: Final = "model"
    run: Final = "run_id"
    created_at: Final = "created_at"

    #: Roles an analyst can give to a column of the behaviour file.
    interaction_roles: Final = (user, item, rating, timestamp, event, split)
