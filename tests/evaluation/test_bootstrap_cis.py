"""bootstrap_cis: every column's interval at once, equal to bootstrap_ci column by column."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.errors import InputError
from recsys_core.evaluation import significance
from recsys_core.evaluation.significance import bootstrap_ci, bootstrap_cis, bootstrap_subgroup_cis


def test_each_column_matches_bootstrap_ci_with_its_own_missing_users(rng) -> None:
    x = rng.random((700, 6))
    x[:40, 1] = np.nan  # another set of users: its own draw, as bootstrap_ci would make
    x[:, 2] = np.nan  # no values: no interval
    x[1:, 3] = np.nan  # one value: a point interval
    x[100:300, 4] = np.nan
    low, high = bootstrap_cis(x, random_state=9)
    for j in range(x.shape[1]):
        ref = bootstrap_ci(x[:, j], random_state=9)
        np.testing.assert_allclose([low[j], high[j]], ref, rtol=1e-12, equal_nan=True)
    assert np.isnan(low[2]) and low[3] == high[3] == x[0, 3]
    assert low[0] < np.nanmean(x[:, 0]) < high[0]


def test_chunks_of_resamples_give_the_same_interval(rng, monkeypatch) -> None:
    import recsys_core.evaluation.significance as sig

    x = rng.random((500, 3))
    whole = bootstrap_cis(x, random_state=3)
    monkeypatch.setattr(sig, "_CHUNK_CELLS", 500 * 7)  # 7 resamples per chunk
    np.testing.assert_allclose(bootstrap_cis(x, random_state=3), whole, rtol=1e-12)


def test_bad_arguments_are_input_errors() -> None:
    with pytest.raises(InputError, match="matrix"):
        bootstrap_cis(np.zeros(3))
    with pytest.raises(InputError, match="confidence"):
        bootstrap_cis(np.zeros((3, 1)), confidence=1.5)


@pytest.mark.parametrize("n", [2, 17, 610, 20_011])  # 20,011 users take several chunks
def test_int32_draws_give_the_intervals_int64_draws_gave(rng, n: int) -> None:
    """The draws are made as int32 for speed; numpy's values are those of int64 draws."""
    import recsys_core.evaluation.significance as sig

    x = rng.random(n)
    draws = np.random.default_rng(n)
    step = max(1, sig._CHUNK_CELLS // n)
    means = np.concatenate(
        [
            x[draws.integers(0, n, size=(min(step, 1000 - s), n))].mean(axis=1)
            for s in range(0, 1000, step)
        ]
    )
    assert bootstrap_ci(x, random_state=n) == tuple(np.quantile(means, [0.025, 0.975]))


def test_subgroup_intervals_equal_the_plain_bootstrap_when_every_row_counts() -> None:
    rng = np.random.default_rng(3)
    values = rng.random((400, 5))
    low, high = bootstrap_subgroup_cis(values, random_state=7)
    ref_low, ref_high = bootstrap_cis(values, random_state=7)
    np.testing.assert_allclose(low, ref_low, rtol=1e-12)
    np.testing.assert_allclose(high, ref_high, rtol=1e-12)


def test_subgroup_intervals_cover_each_column_own_rows_only() -> None:
    """Column 0 holds 1.0 for its rows only; the rest are NaN and must not pull it down."""
    values = np.full((300, 3), np.nan)
    values[:100, 0] = 1.0
    values[100:, 1] = np.linspace(0, 1, 200)
    low, high = bootstrap_subgroup_cis(values)
    assert (low[0], high[0]) == (1.0, 1.0)
    assert low[1] < 0.5 < high[1]
    assert np.isnan(low[2]) and np.isnan(high[2])


@pytest.mark.parametrize("chunk_cells", [8_000_000, 1_000])  # one chunk, and many
def test_shared_draws_give_each_block_its_own_call_intervals_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch, chunk_cells: int
) -> None:
    """A run's item views share one set of draws: each view's intervals must be exactly what
    its own call with the same seed gives (the numbers stored before the sharing)."""
    monkeypatch.setattr(significance, "_CHUNK_CELLS", chunk_cells)
    rng = np.random.default_rng(5)
    blocks = [rng.random((250, k)) for k in (3, 1, 7)]
    for block in blocks:
        block[rng.random(block.shape) < 0.4] = np.nan
    blocks[1][:] = np.nan  # a view where no user counts
    shared = significance.bootstrap_subgroup_cis_many(blocks, random_state=11)
    for block, (low, high) in zip(blocks, shared, strict=True):
        ref_low, ref_high = bootstrap_subgroup_cis(block, random_state=11)
        np.testing.assert_array_equal(low, ref_low)
        np.testing.assert_array_equal(high, ref_high)
