"""Vectorised test masks for each split protocol: arrays in, a boolean is-test mask out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

import numpy as np
import pandas as pd

from recsys_core.arrays import pair_codes
from recsys_core.errors import InputError
from recsys_core.splitting.configs import (
    ItemHoldout,
    KFold,
    LeaveLastN,
    Predefined,
    RandomHoldout,
    SplitConfig,
    TemporalCutoff,
    UserHoldout,
)


@dataclass(frozen=True)
class Events:
    """The long arrays a protocol needs; a light view so validation can reuse the code."""

    users: np.ndarray
    items: np.ndarray
    timestamps: np.ndarray | None
    n_users: int
    n_items: int


@dataclass(frozen=True)
class Mask:
    """A protocol's answer: the is-test mask and, for a global temporal cut, its instant."""

    test: np.ndarray
    cutoff: int | None = None


def test_mask(
    ev: Events, config: SplitConfig, rng: np.random.Generator, is_test: np.ndarray | None
) -> Mask:
    """Dispatch to the protocol of ``config``."""
    if isinstance(config, RandomHoldout):
        frac = config.test_fraction
        return Mask(_pair_level(ev, rng, lambda u, k: _fraction_mask(u, k, ev.n_users, frac, rng)))
    if isinstance(config, KFold):
        return Mask(_pair_level(ev, rng, lambda u, k: _fold_mask(u, k, ev.n_users, config, rng)))
    if isinstance(config, TemporalCutoff):
        return _temporal(ev, config)
    if isinstance(config, LeaveLastN):
        key = _recent_first_key(ev, config.kind)
        return Mask(_leave_last(ev.users, key, config.n, ev.n_users))
    if isinstance(config, UserHoldout):
        return Mask(_user_holdout(ev, config, rng))
    if isinstance(config, ItemHoldout):
        return Mask(_item_holdout(ev, config, rng))
    if isinstance(config, Predefined):
        return Mask(_predefined(is_test, len(ev.users), config.column))
    raise InputError(f"Unknown split protocol {type(config).__name__}.")


def validation_protocol(config: SplitConfig) -> SplitConfig:
    """The same protocol with validation_fraction as its share, applied to the train side."""
    vf = config.validation_fraction
    if isinstance(config, TemporalCutoff):
        return TemporalCutoff(test_fraction=vf, fraction_of=config.fraction_of)
    if isinstance(config, LeaveLastN):
        return LeaveLastN(n=config.n)
    if isinstance(config, UserHoldout):
        return UserHoldout(test_user_fraction=vf, holdout_fraction=config.holdout_fraction)
    if isinstance(config, KFold):
        return KFold(n_folds=max(2, round(1.0 / vf)), fold=0)
    if isinstance(config, ItemHoldout):
        return ItemHoldout(test_item_fraction=vf)
    return RandomHoldout(test_fraction=vf)


# ---------------------------------------------------------------------------- building blocks
def _positions(users: np.ndarray, key: np.ndarray, n_users: int) -> tuple[np.ndarray, ...]:
    """Sort by (user, key) and give each event its 0-based position within its user.

    ``key`` holds unsigned values below 2**32, so (user, key) packs into one uint64 and a
    single stable argsort replaces a two-key lexsort (about twice as fast on 20M rows).
    """
    packed = (users.astype(np.uint64) << np.uint64(32)) | key.astype(np.uint64)
    order = np.argsort(packed, kind="stable")
    sorted_users = users[order]
    counts = np.bincount(users, minlength=n_users)
    starts = np.cumsum(counts) - counts
    pos = np.arange(len(users), dtype=np.int64) - starts[sorted_users]
    return order, sorted_users, pos, counts


def _scatter(order: np.ndarray, sorted_mask: np.ndarray) -> np.ndarray:
    out = np.empty(len(order), dtype=bool)
    out[order] = sorted_mask
    return out


def _stochastic_count(
    counts: np.ndarray, fraction: float, rng: np.random.Generator, low: int = 0
) -> np.ndarray:
    """floor(f * c + U): its expectation is exactly f * c, so totals match the fraction.

    Capped so every user keeps one training event; users with a single event hold out none.
    """
    n = np.floor(fraction * counts + rng.random(len(counts))).astype(np.int64)
    n = np.clip(n, low, np.maximum(counts - 1, 0))
    return np.where(counts >= 2, n, 0)


def _fraction_mask(
    users: np.ndarray, key: np.ndarray, n_users: int, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    order, su, pos, counts = _positions(users, key, n_users)
    n_test = _stochastic_count(counts, fraction, rng)
    return _scatter(order, pos < n_test[su])


def _fold_mask(
    users: np.ndarray, key: np.ndarray, n_users: int, config: KFold, rng: np.random.Generator
) -> np.ndarray:
    order, su, pos, counts = _positions(users, key, n_users)
    # a random offset per user spreads users with few pairs over all folds
    offset = rng.integers(0, config.n_folds, size=n_users)
    fold = (pos + offset[su]) % config.n_folds
    return _scatter(order, (fold == config.fold) & (counts[su] >= 2))


def _pair_level(
    ev: Events, rng: np.random.Generator, decide: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Run a random per-user protocol on distinct pairs, so repeats stay on one side."""
    codes = pair_codes(ev.users, ev.items, ev.n_items)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    first = np.empty(len(codes), dtype=bool)
    first[:1] = True
    np.not_equal(sorted_codes[1:], sorted_codes[:-1], out=first[1:])
    inverse = np.empty(len(codes), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1  # pair number of every interaction
    pair_users = sorted_codes[first] // ev.n_items
    return decide(pair_users, _random_key(rng, int(first.sum())))[inverse]


def _random_key(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**32, size=n, dtype=np.uint64)


def _require_time(ev: Events, kind: str) -> np.ndarray:
    if ev.timestamps is None:
        raise InputError(
            f"The '{kind}' split orders interactions in time, but the data has no timestamp "
            "column. Map a timestamp column on import, or use the random split."
        )
    return ev.timestamps


def _recent_first_key(ev: Events, kind: str) -> np.ndarray:
    """A sort key below 2**32 putting each user's latest events first (ties keep row order)."""
    ts = _require_time(ev, kind)
    age = (ts.max() - ts).astype(np.uint64) if len(ts) else ts.astype(np.uint64)
    if len(ts) and age.max() >= 2**32:  # a span over 136 years in seconds: use ranks
        age = np.argsort(np.argsort(age, kind="stable"), kind="stable").astype(np.uint64)
    return age


def _leave_last(users: np.ndarray, key: np.ndarray, n: int, n_users: int) -> np.ndarray:
    order, su, pos, counts = _positions(users, key, n_users)
    n_test = np.minimum(n, np.maximum(counts - 1, 0))
    return _scatter(order, pos < n_test[su])


def _temporal(ev: Events, config: TemporalCutoff) -> Mask:
    ts = _require_time(ev, config.kind)
    if config.cutoff is not None:
        when = config.cutoff
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        cut = int(np.ceil(when.timestamp()))
    elif config.fraction_of == "time_range":
        lo, hi = int(ts.min()), int(ts.max())
        cut = int(np.ceil(lo + (1.0 - config.test_fraction) * (hi - lo)))
    else:
        k = min(int(np.floor((1.0 - config.test_fraction) * len(ts))), len(ts) - 1)
        cut = int(np.partition(ts, k)[k])
    return Mask(ts >= cut, cutoff=cut)


def _user_holdout(ev: Events, config: UserHoldout, rng: np.random.Generator) -> np.ndarray:
    counts = np.bincount(ev.users, minlength=ev.n_users)
    eligible = np.flatnonzero(counts >= 2)
    n_pick = max(1, round(config.test_user_fraction * len(eligible)))
    chosen = np.zeros(ev.n_users, dtype=bool)
    chosen[rng.permutation(eligible)[:n_pick]] = True
    if ev.timestamps is None:
        key = _random_key(rng, len(ev.users))
    else:
        key = _recent_first_key(ev, config.kind)
    order, su, pos, _ = _positions(ev.users, key, ev.n_users)
    n_hold = _stochastic_count(counts, config.holdout_fraction, rng, low=1)
    return _scatter(order, (pos < n_hold[su]) & chosen[su])


def _item_holdout(ev: Events, config: ItemHoldout, rng: np.random.Generator) -> np.ndarray:
    """Every interaction with a drawn item is test; drawn items of users left with nothing
    in train go back to train (giving items back only adds training data, so one pass ends it).
    """
    eligible = np.flatnonzero(np.bincount(ev.items, minlength=ev.n_items))
    n_pick = max(1, round(config.test_item_fraction * len(eligible)))
    held = np.zeros(ev.n_items, dtype=bool)
    held[rng.permutation(eligible)[:n_pick]] = True
    on_held = held[ev.items]
    has_train = np.bincount(ev.users[~on_held], minlength=ev.n_users) > 0
    held[ev.items[on_held & ~has_train[ev.users]]] = False
    if not held.any():
        raise InputError(
            "The item holdout found no item whose users all keep training data: choose a "
            "larger test_item_fraction or data where users have more interactions."
        )
    return held[ev.items]


def _predefined(is_test: object, n: int, column: str) -> np.ndarray:
    if is_test is None:
        raise InputError(
            f"The predefined split needs the values of its is-test column '{column}': "
            "pass them as is_test."
        )
    arr = np.asarray(is_test)
    if arr.shape != (n,):
        raise InputError(
            f"Column '{column}' has {arr.size} values for {n} interactions; give one per row."
        )
    if arr.dtype != bool:
        empty = np.flatnonzero(pd.isna(arr))
        if len(empty):
            raise InputError(f"Column '{column}' is empty in rows {empty[:5].tolist()}.")
        ok = np.isin(arr, [0, 1, True, False])
        if not ok.all():
            bad = arr[~ok][:3].tolist()
            raise InputError(
                f"Column '{column}' must be true/false (or 1/0) for every row; found {bad}."
            )
        arr = arr.astype(bool)
    return arr
