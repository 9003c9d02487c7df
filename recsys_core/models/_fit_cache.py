"""Tables a model derives from what it learned, made once per fit and kept beside it.

Explaining runs in batches (a run explains 500 pairs at a time, a page a user's list), and
each batch rebuilt the same tables from the same learned arrays: a dense copy of the training
matrix, float64 item vectors, similarities by column. A table is kept with the object it was
derived from and rebuilt when a fit or load replaces that object (compared by identity, so a
refit never reads a stale table). The cache lives in the instance's ``__dict__`` under a name
with a leading underscore: no learned-state scan or ``.npz`` export picks it up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def fit_cached(model: Any, key: str, source: object, make: Callable[[], T]) -> T:
    """``make()``, derived from ``source``, kept on ``model`` under ``key`` until ``source``
    is replaced."""
    cache = model.__dict__.setdefault("_fit_cache", {})
    hit = cache.get(key)
    if hit is None or hit[0] is not source:
        hit = cache[key] = (source, make())
    return hit[1]
