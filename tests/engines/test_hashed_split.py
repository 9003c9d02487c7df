"""The hash-keyed random split (numpy side): the protocol's promises, hand-checkable."""

from __future__ import annotations

import numpy as np

from recsys_core.splitting.hashed import P, hashed_random_mask, mix


def test_mix_stays_in_range_and_depends_on_every_input():
    a = np.arange(1000)
    h = mix(a, a * 3, 5)
    assert h.min() >= 0 and h.max() < P
    assert len(np.unique(h)) == 1000
    assert not np.array_equal(h, mix(a, a * 3, 6))
    assert not np.array_equal(h, mix(a, a * 3 + 1, 5))
    # one value worked by hand with Python's integers
    x = (2 * 1_103_515_245 + 5) % P
    x = (x * 2_013_265_921 + 6) % P
    x = (x * 1_664_525 + 12_345) % P
    x = ((x ^ (x >> 16)) * 1_103_515_245) % P
    assert int(mix(np.array([2]), np.array([6]), 5)[0]) == x


def test_split_keeps_train_per_user_and_repeats_together(rng):
    users = rng.integers(0, 300, 20_000)
    items = rng.integers(0, 200, 20_000)
    mask = hashed_random_mask(users, items, 300, 200, 0.3, 42)
    counts = np.bincount(users, minlength=300)
    train_counts = np.bincount(users[~mask], minlength=300)
    assert (train_counts[counts > 0] >= 1).all()
    codes = users * 200 + items
    for code in np.unique(codes[mask])[:200]:  # every repeat of a test pair is test
        assert mask[codes == code].all()
    pairs = np.unique(codes)
    held = np.unique(codes[mask])
    assert abs(len(held) / len(pairs) - 0.3) < 0.02
    np.testing.assert_array_equal(mask, hashed_random_mask(users, items, 300, 200, 0.3, 42))
    assert not np.array_equal(mask, hashed_random_mask(users, items, 300, 200, 0.3, 43))


def test_single_pair_users_stay_in_train():
    users = np.array([0, 1, 1, 1])
    items = np.array([0, 0, 0, 0])  # user 1: one distinct pair, three times
    assert not hashed_random_mask(users, items, 2, 1, 0.9, 0).any()
