"""Every split protocol: no overlap, no leak, determinism, sizes, validation and errors."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from recsys_core.data.interactions import Interactions
from recsys_core.errors import InputError
from recsys_core.splitting.splits import (
    KFold,
    LeaveLastN,
    Predefined,
    RandomHoldout,
    TemporalCutoff,
    UserHoldout,
    parse_split_config,
    split,
    split_config_json,
    timeline,
)

T0 = 1_600_000_000


def _data(rng: np.random.Generator, n_users: int = 300, n_items: int = 80) -> Interactions:
    """Users with 1..40 distinct items each and distinct timestamps (no ties)."""
    counts = rng.integers(1, min(40, n_items) + 1, size=n_users)
    users = np.repeat(np.arange(n_users), counts)
    items = np.concatenate([rng.choice(n_items, size=c, replace=False) for c in counts])
    ts = T0 + rng.permutation(len(users)) * 60
    frame = pd.DataFrame({"user_id": users, "item_id": items, "rating": 1.0, "timestamp": ts})
    return Interactions.from_frame(frame)


@pytest.fixture(scope="module")
def inter() -> Interactions:
    return _data(np.random.default_rng(7))


CONFIGS = [
    RandomHoldout(test_fraction=0.2),
    TemporalCutoff(test_fraction=0.25),
    TemporalCutoff(test_fraction=0.3, fraction_of="time_range"),
    LeaveLastN(n=2),
    UserHoldout(test_user_fraction=0.2, holdout_fraction=0.3),
    KFold(n_folds=4, fold=1),
]
TEMPORAL = (TemporalCutoff, LeaveLastN, UserHoldout)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.kind)
def test_every_split_partitions_without_overlap_or_leak(inter, config):
    s = split(inter, config, random_state=3)
    checks = s.checks()
    assert checks.n_train + checks.n_test == len(inter)
    assert checks.overlapping_pairs == 0
    if isinstance(config, TEMPORAL):
        assert checks.temporal_leaks == 0
    else:
        assert checks.temporal_leaks is None
    assert s.train.n_users == inter.n_users and s.test.n_items == inter.n_items


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.kind)
def test_every_split_is_deterministic_for_a_seed(inter, config):
    a = split(inter, config, random_state=11)
    b = split(inter, config, random_state=11)
    np.testing.assert_array_equal(a.test.users, b.test.users)
    np.testing.assert_array_equal(a.test.items, b.test.items)


@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[4], CONFIGS[5]], ids=lambda c: c.kind)
def test_random_protocols_change_with_the_seed(inter, config):
    a, b = split(inter, config, random_state=1), split(inter, config, random_state=2)
    assert not np.array_equal(a.test.items, b.test.items)


def test_random_holdout_size_close_to_fraction_and_every_user_keeps_train(inter):
    s = split(inter, RandomHoldout(test_fraction=0.2))
    counts = np.bincount(inter.users, minlength=inter.n_users)
    # users with one pair cannot lose it; expected share is 0.2 of the others' pairs
    expected = 0.2 * counts[counts >= 2].sum()
    assert abs(len(s.test) - expected) < 0.05 * expected
    assert s.checks().cold_users_test == 0


def test_random_holdout_keeps_repeated_pairs_on_one_side(rng):
    # every pair occurs three times: sampling on distinct pairs must never split a pair
    base = _data(rng, n_users=50, n_items=30).to_frame()
    frame = pd.concat([base, base, base], ignore_index=True)
    frame["timestamp"] = T0 + np.arange(len(frame))
    s = split(Interactions.from_frame(frame), RandomHoldout(test_fraction=0.3), random_state=5)
    assert s.checks().overlapping_pairs == 0
    assert len(s.test) % 3 == 0


def test_temporal_cutoff_at_given_instant(inter):
    cut = datetime.fromtimestamp(T0 + 60 * 5000, tz=UTC)
    s = split(inter, TemporalCutoff(cutoff=cut))
    assert s.cutoff == T0 + 60 * 5000
    assert s.train.timestamps.max() < s.cutoff <= s.test.timestamps.min()
    assert len(s.test) == (inter.timestamps >= s.cutoff).sum()


def test_temporal_fraction_of_interactions_close_to_fraction(inter):
    s = split(inter, TemporalCutoff(test_fraction=0.25))
    assert abs(len(s.test) / len(inter) - 0.25) < 0.01


def test_naive_cutoff_is_read_as_utc(inter):
    naive = datetime(2020, 9, 14, 12, 0, 0)
    aware = naive.replace(tzinfo=UTC)
    assert split(inter, TemporalCutoff(cutoff=naive)).cutoff == int(aware.timestamp())


def test_leave_last_n_holds_out_each_users_latest_events():
    # user a: 4 events, user b: 2 events (keeps 1 in train), user c: 1 event (keeps it)
    frame = pd.DataFrame(
        {
            "user_id": ["a"] * 4 + ["b"] * 2 + ["c"],
            "item_id": ["p", "q", "r", "s", "p", "q", "r"],
            "timestamp": [40, 10, 30, 20, 5, 9, 1],
        }
    )
    s = split(Interactions.from_frame(frame), LeaveLastN(n=2))
    test = s.test.to_frame().sort_values(["user_id", "timestamp"])
    assert test[["user_id", "item_id"]].values.tolist() == [["a", "r"], ["a", "p"], ["b", "q"]]
    assert s.checks().temporal_leaks == 0


def test_user_holdout_sets_aside_a_share_of_users_and_keeps_their_history(inter):
    s = split(inter, UserHoldout(test_user_fraction=0.2, holdout_fraction=0.3))
    eligible = (np.bincount(inter.users) >= 2).sum()
    test_users = np.unique(s.test.users)
    assert len(test_users) == round(0.2 * eligible)
    assert s.checks().cold_users_test == 0  # their earlier history stays in train
    assert s.checks().temporal_leaks == 0


def test_kfold_tests_every_pair_exactly_once_over_the_folds(inter):
    seen = np.zeros(len(inter), dtype=int)
    codes = inter.users.astype(np.int64) * inter.n_items + inter.items
    for fold in range(4):
        s = split(inter, KFold(n_folds=4, fold=fold), random_state=9)
        test_codes = s.test.users.astype(np.int64) * inter.n_items + s.test.items
        seen += np.isin(codes, test_codes)
    single = np.bincount(inter.users)[inter.users] == 1
    assert (seen[~single] == 1).all() and (seen[single] == 0).all()


def test_predefined_uses_the_given_column(inter):
    flag = np.zeros(len(inter), dtype=bool)
    flag[::5] = True
    s = split(inter, Predefined(column="is_test"), is_test=pd.Series(flag))
    assert len(s.test) == flag.sum()
    np.testing.assert_array_equal(s.test.items, inter.items[flag])


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.kind)
def test_validation_is_carved_from_train_with_the_same_protocol(inter, config):
    cfg = config.model_copy(update={"validation_fraction": 0.2})
    s = split(inter, cfg, random_state=4)
    assert s.validation is not None and len(s.validation) > 0
    assert len(s.train) + len(s.validation) + len(s.test) == len(inter)
    plain = split(inter, config, random_state=4)
    np.testing.assert_array_equal(s.test.items, plain.test.items)  # test side unchanged
    if isinstance(config, TemporalCutoff):
        assert s.train.timestamps.max() < s.validation.timestamps.min()


def test_describe_and_timeline_count_every_side(inter):
    s = split(inter, RandomHoldout(validation_fraction=0.1))
    desc = s.describe()
    assert list(desc.index) == ["train", "validation", "test"]
    assert desc["interactions"].sum() == len(inter)
    assert desc["share"].sum() == pytest.approx(1.0)
    tl = timeline(inter, s)
    assert tl.groupby("side")["interactions"].sum().to_dict() == {
        "train": len(s.train),
        "validation": len(s.validation),
        "test": len(s.test),
    }
    rows = s.checks().describe()
    assert rows.set_index("check").loc["n_test", "value"] == len(s.test)


def test_timeline_empty_without_timestamps(inter):
    frame = inter.to_frame().drop(columns="timestamp")
    plain = Interactions.from_frame(frame)
    s = split(plain, RandomHoldout())
    assert timeline(plain, s).empty


# ---------------------------------------------------------------------- configs and errors
@pytest.mark.parametrize(
    "config",
    [*CONFIGS, TemporalCutoff(cutoff=datetime(2021, 1, 2, 3, 4, 5)), Predefined(column="flag")],
    ids=lambda c: c.kind,
)
def test_config_round_trips_through_json(config):
    assert parse_split_config(split_config_json(config)) == config
    assert parse_split_config(config.model_dump(mode="json")) == config


def test_config_rejects_unknown_fields_and_kinds():
    with pytest.raises(InputError, match="test_fractoin"):
        parse_split_config({"kind": "random", "test_fractoin": 0.2})
    with pytest.raises(InputError, match="Invalid split"):
        parse_split_config('{"kind": "bogus"}')
    with pytest.raises(InputError, match="fold"):
        parse_split_config({"kind": "kfold", "n_folds": 3, "fold": 3})


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_fraction_out_of_range_is_rejected(inter, fraction):
    with pytest.raises(InputError, match="test_fraction"):
        parse_split_config({"kind": "random", "test_fraction": fraction})
    with pytest.raises(ValidationError):
        RandomHoldout(test_fraction=fraction)
    # a config built without validation is still caught by split()
    sneaky = RandomHoldout.model_construct(test_fraction=fraction, validation_fraction=0.0)
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        split(inter, sneaky)


@pytest.mark.parametrize("config", [TemporalCutoff(), LeaveLastN()], ids=lambda c: c.kind)
def test_temporal_split_without_timestamps_is_input_error(inter, config):
    plain = Interactions.from_frame(inter.to_frame().drop(columns="timestamp"))
    with pytest.raises(InputError, match="timestamp"):
        split(plain, config)


def test_user_holdout_without_timestamps_falls_back_to_random(inter):
    plain = Interactions.from_frame(inter.to_frame().drop(columns="timestamp"))
    s = split(plain, UserHoldout())
    assert len(s.test) > 0 and s.checks().temporal_leaks is None


def test_cutoff_before_all_data_leaves_test_users_without_training_data(inter):
    with pytest.raises(InputError, match="without training data"):
        split(inter, TemporalCutoff(cutoff=datetime(2000, 1, 1)))


def test_cutoff_after_all_data_leaves_test_empty(inter):
    with pytest.raises(InputError, match="test side empty"):
        split(inter, TemporalCutoff(cutoff=datetime(2100, 1, 1)))


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"user_id": ["u", "u", "u"], "item_id": ["a", "b", "c"]}),
        pd.DataFrame({"user_id": ["u", "v", "w"], "item_id": ["a", "a", "a"]}),
    ],
    ids=["one_user", "one_item"],
)
def test_one_user_or_one_item_is_input_error(frame):
    with pytest.raises(InputError, match="at least two users and two items"):
        split(Interactions.from_frame(frame), RandomHoldout())


def test_predefined_errors_name_the_column(inter):
    with pytest.raises(InputError, match="'flag'"):
        split(inter, Predefined(column="flag"))
    with pytest.raises(InputError, match="one per row"):
        split(inter, Predefined(column="flag"), is_test=np.ones(3, dtype=bool))
    bad = np.array(["yes"] * len(inter), dtype=object)
    with pytest.raises(InputError, match="true/false"):
        split(inter, Predefined(column="flag"), is_test=bad)


def test_predefined_column_with_missing_values_is_input_error(inter):
    flag = pd.Series([True] * len(inter), dtype="boolean")
    flag[3] = pd.NA
    with pytest.raises(InputError, match=r"empty in rows \[3\]"):
        split(inter, Predefined(column="flag"), is_test=flag)
