"""Train/test(/validation) splits: pure functions of the interactions, a config and a seed."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from recsys_core.arrays import n_distinct, pair_codes, unique_sorted
from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.splitting.configs import (
    KFold,
    LeaveLastN,
    Predefined,
    RandomHoldout,
    SplitConfig,
    TemporalCutoff,
    UserHoldout,
    parse_split_config,
    split_config_json,
)
from recsys_core.splitting.protocols import Events, test_mask, validation_protocol

__all__ = [
    "KFold",
    "LeaveLastN",
    "Predefined",
    "RandomHoldout",
    "Split",
    "SplitChecks",
    "SplitConfig",
    "TemporalCutoff",
    "UserHoldout",
    "parse_split_config",
    "split",
    "split_config_json",
    "timeline",
]

_SIDES = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitChecks:
    """Sanity numbers shown next to a split, so a leak or a cold test set is seen at once.

    Attributes:
        n_train, n_validation, n_test: interactions per side.
        n_train_users, n_test_users: distinct users per side.
        temporal_leaks: train events later than the test cut-off (the global instant, or each
            user's first test event for per-user temporal protocols); None when the protocol
            does not order by time.
        overlapping_pairs: distinct (user, item) pairs present in both train and test.
        cold_users_test: test users with no training interaction.
        cold_items_test: test items with no training interaction.
    """

    n_train: int
    n_validation: int
    n_test: int
    n_train_users: int
    n_test_users: int
    temporal_leaks: int | None
    overlapping_pairs: int
    cold_users_test: int
    cold_items_test: int

    def describe(self) -> pd.DataFrame:
        """One row per check (columns ``check``, ``value``) for the page."""
        return pd.DataFrame({"check": list(asdict(self)), "value": list(asdict(self).values())})


@dataclass(frozen=True, eq=False)
class Split:
    """The sides of a split; all share the id spaces of the data they came from.

    Attributes:
        train: interactions models are fitted on.
        test: held-out interactions metrics are computed on.
        validation: carved out of train with the same protocol when asked for, else None.
        config: the protocol that made the split.
        cutoff: Unix second where the test period starts, for the global temporal protocol.
    """

    train: Interactions
    test: Interactions
    validation: Interactions | None
    config: SplitConfig
    cutoff: int | None = None

    def checks(self) -> SplitChecks:
        """Leaks, overlaps and cold-start counts between train and test."""
        tr, te = self.train, self.test
        tr_users = np.bincount(tr.users, minlength=tr.n_users) > 0
        tr_items = np.bincount(tr.items, minlength=tr.n_items) > 0
        te_users = np.flatnonzero(np.bincount(te.users, minlength=te.n_users))
        te_items = np.flatnonzero(np.bincount(te.items, minlength=te.n_items))
        tr_codes = unique_sorted(pair_codes(tr.users, tr.items, tr.n_items))
        te_codes = unique_sorted(pair_codes(te.users, te.items, te.n_items))
        return SplitChecks(
            n_train=len(tr),
            n_validation=0 if self.validation is None else len(self.validation),
            n_test=len(te),
            n_train_users=int(tr_users.sum()),
            n_test_users=len(te_users),
            temporal_leaks=self._temporal_leaks(),
            overlapping_pairs=int(np.isin(te_codes, tr_codes, assume_unique=True).sum()),
            cold_users_test=int((~tr_users[te_users]).sum()),
            cold_items_test=int((~tr_items[te_items]).sum()),
        )

    def _temporal_leaks(self) -> int | None:
        tr, te = self.train, self.test
        if tr.timestamps is None or te.timestamps is None:
            return None
        if isinstance(self.config, TemporalCutoff) and self.cutoff is not None:
            return int((tr.timestamps >= self.cutoff).sum())
        if isinstance(self.config, LeaveLastN | UserHoldout):
            first_test = np.full(te.n_users, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(first_test, te.users, te.timestamps)
            return int((tr.timestamps > first_test[tr.users]).sum())
        return None

    def describe(self) -> pd.DataFrame:
        """Per side: interactions, users, items, share of interactions and time span."""
        parts = {name: getattr(self, name) for name in _SIDES if getattr(self, name) is not None}
        total = sum(len(p) for p in parts.values()) or 1
        rows = []
        for name, part in parts.items():
            row: dict[str, object] = {
                "side": name,
                "interactions": len(part),
                "users": n_distinct(part.users, part.n_users),
                "items": n_distinct(part.items, part.n_items),
                "share": len(part) / total,
            }
            if part.timestamps is not None and len(part):
                row["first"] = pd.to_datetime(int(part.timestamps.min()), unit="s")
                row["last"] = pd.to_datetime(int(part.timestamps.max()), unit="s")
            rows.append(row)
        return pd.DataFrame(rows).set_index("side")


def split(
    inter: Interactions,
    config: SplitConfig,
    random_state: int = 42,
    *,
    is_test: np.ndarray | pd.Series | None = None,
) -> Split:
    """Split interactions into train, test and (optionally) validation.

    A pure function: the same data, config and seed give the same split. All work is
    vectorised (sorts and group positions, no loop over users).

    Args:
        inter: the interactions to split.
        config: the protocol (see :mod:`recsys_core.splitting.configs`).
        random_state: seed for the shuffles and tie breaks.
        is_test: the is-test column for :class:`Predefined`, one value per interaction.

    Raises:
        InputError: fewer than two users or items, a temporal protocol without timestamps,
            a fraction out of (0, 1), an empty test side, or test users with no train data.
    """
    _check_inputs(inter, config)
    rng = np.random.default_rng(random_state)
    ev = Events(inter.users, inter.items, inter.timestamps, inter.n_users, inter.n_items)
    mask = test_mask(ev, config, rng, None if is_test is None else np.asarray(is_test))
    train_idx = np.flatnonzero(~mask.test)
    _check_result(inter, train_idx, mask.test)
    validation = None
    if config.validation_fraction > 0:
        inner = Events(
            inter.users[train_idx],
            inter.items[train_idx],
            None if inter.timestamps is None else inter.timestamps[train_idx],
            inter.n_users,
            inter.n_items,
        )
        val = test_mask(inner, validation_protocol(config), rng, None).test
        validation = inter.subset(train_idx[val])
        train_idx = train_idx[~val]
    return Split(inter.subset(train_idx), inter.subset(mask.test), validation, config, mask.cutoff)


def _check_inputs(inter: Interactions, config: SplitConfig) -> None:
    for name in ("test_fraction", "test_user_fraction", "holdout_fraction"):
        value = getattr(config, name, None)
        if value is not None and not 0.0 < value < 1.0:
            raise InputError(
                f"Split setting {name} must lie strictly between 0 and 1; got {value}."
            )
    if not 0.0 <= config.validation_fraction < 1.0:
        raise InputError(
            f"validation_fraction must lie in [0, 1); got {config.validation_fraction}."
        )
    n_users = n_distinct(inter.users, inter.n_users)
    n_items = n_distinct(inter.items, inter.n_items)
    if n_users < 2 or n_items < 2:
        raise InputError(
            f"Cannot split data with {n_users} user(s) and {n_items} item(s): evaluation needs "
            "at least two users and two items."
        )


def _check_result(inter: Interactions, train_idx: np.ndarray, test: np.ndarray) -> None:
    if not test.any():
        raise InputError(
            "The split left the test side empty: choose an earlier cut-off or a larger fraction."
        )
    has_train = np.bincount(inter.users[train_idx], minlength=inter.n_users) > 0
    if not has_train[inter.users[test]].any():
        raise InputError(
            "The split left every test user without training data, so no model could be "
            "evaluated: choose a later cut-off or a smaller fraction."
        )


def timeline(inter: Interactions, split: Split) -> pd.DataFrame:
    """Interactions per period and side (columns period, side, interactions), for a chart.

    The period (day, week, month, quarter or year) is the finest giving at most 120 bars
    over the data's time range. Empty when the data has no timestamps.
    """
    empty = pd.DataFrame({"period": [], "side": [], "interactions": []})
    if inter.timestamps is None or not len(inter):
        return empty
    span_days = (int(inter.timestamps.max()) - int(inter.timestamps.min())) / 86400
    freq = next(
        (
            f
            for f, days in (("D", 1), ("W", 7), ("M", 30.4), ("Q", 91.3))
            if span_days / days <= 120
        ),
        "Y",
    )
    frames = []
    for name in _SIDES:
        part = getattr(split, name)
        if part is None or part.timestamps is None or not len(part):
            continue
        # count per day first (cheap on millions of rows), then roll days up into periods
        days, counts = np.unique(part.timestamps // 86400, return_counts=True)
        stamps = pd.to_datetime(days * 86400, unit="s")
        periods = pd.Series(stamps).dt.to_period(freq).dt.start_time
        grouped = pd.Series(counts).groupby(periods.to_numpy()).sum()
        frames.append(
            pd.DataFrame(
                {"period": grouped.index, "side": name, "interactions": grouped.to_numpy()}
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else empty
