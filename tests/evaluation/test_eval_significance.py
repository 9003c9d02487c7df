"""Bootstrap intervals, Holm correction and paired tests against scipy and hand values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from recsys_core.errors import InputError
from recsys_core.evaluation.significance import bootstrap_ci, holm, paired_tests


def test_bootstrap_ci_contains_the_mean_and_narrows_with_n(rng):
    small = rng.normal(0.3, 0.1, size=50)
    large = rng.normal(0.3, 0.1, size=5000)
    lo_s, hi_s = bootstrap_ci(small)
    lo_l, hi_l = bootstrap_ci(large)
    assert lo_s < small.mean() < hi_s
    assert lo_l < large.mean() < hi_l
    # width shrinks like 1 / sqrt(n): 10x fewer users -> about sqrt(100) = 10x wider
    assert (hi_s - lo_s) > 5 * (hi_l - lo_l)


def test_bootstrap_ci_close_to_normal_theory(rng):
    x = rng.normal(0.0, 1.0, size=2000)
    lo, hi = bootstrap_ci(x, n_resamples=2000)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.1)


def test_bootstrap_ci_is_seeded_drops_nan_and_handles_tiny_inputs():
    x = np.array([0.1, 0.5, np.nan, 0.9, 0.4])
    assert bootstrap_ci(x, random_state=1) == bootstrap_ci(x, random_state=1)
    assert bootstrap_ci(x) == bootstrap_ci(x[~np.isnan(x)])
    assert bootstrap_ci(np.array([0.7])) == (0.7, 0.7)
    assert all(np.isnan(v) for v in bootstrap_ci(np.array([np.nan])))
    with pytest.raises(InputError, match="confidence"):
        bootstrap_ci(x, confidence=1.5)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=60))
def test_property_bootstrap_interval_ordered_and_within_data_range(values):
    x = np.array(values)
    lo, hi = bootstrap_ci(x, n_resamples=200)
    assert x.min() - 1e-12 <= lo <= hi <= x.max() + 1e-12


def test_holm_by_hand_on_three_p_values():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01 = 0.03, 2 * 0.03 = 0.06, max(1 * 0.04, 0.06) = 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    # capped at 1; NaN stays NaN and is not counted as a test
    np.testing.assert_allclose(holm([0.5, np.nan, 0.6]), [1.0, np.nan, 1.0])


def _three_models(rng):
    users = [f"u{i}" for i in range(40)]
    a = pd.Series(rng.uniform(0, 1, 40), index=users)
    b = pd.Series(a.to_numpy() - rng.normal(0.1, 0.15, 40), index=users)
    c = pd.Series(rng.uniform(0, 1, 40), index=users)
    return {"a": a, "b": b, "c": c}


def test_paired_tests_match_scipy_directly(rng):
    per_user = _three_models(rng)
    out = paired_tests(per_user)
    assert out[["model_a", "model_b"]].values.tolist() == [["a", "b"], ["a", "c"], ["b", "c"]]
    row = out.iloc[0]
    a, b = per_user["a"].to_numpy(), per_user["b"].to_numpy()
    assert row["wilcoxon_p"] == pytest.approx(stats.wilcoxon(a, b).pvalue)
    assert row["t_p"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert row["mean_diff"] == pytest.approx((a - b).mean())
    assert row["cohens_dz"] == pytest.approx((a - b).mean() / (a - b).std(ddof=1))
    np.testing.assert_allclose(out["t_p_holm"], holm(out["t_p"].to_numpy()))
    np.testing.assert_allclose(out["wilcoxon_p_holm"], holm(out["wilcoxon_p"].to_numpy()))


def test_rank_biserial_and_effect_sizes_by_hand():
    # differences 2, -1, 3, 4: ranks of |d| 2, 1, 3, 4 -> R+ = 9, R- = 1 -> (9 - 1) / 10
    a = pd.Series([3.0, 0.0, 4.0, 5.0], index=list("wxyz"))
    b = pd.Series([1.0, 1.0, 1.0, 1.0], index=list("wxyz"))
    row = paired_tests({"a": a, "b": b}).iloc[0]
    assert row["rank_biserial"] == pytest.approx(0.8)
    d = np.array([2.0, -1.0, 3.0, 4.0])
    assert row["cohens_dz"] == pytest.approx(d.mean() / d.std(ddof=1))


def test_paired_tests_align_on_common_users_and_drop_nans():
    a = pd.Series([0.1, 0.2, np.nan, 0.4, 0.9], index=["u1", "u2", "u3", "u4", "only_a"])
    b = pd.Series([0.3, 0.1, 0.5, 0.2], index=["u4", "u2", "u3", "u1"])
    row = paired_tests({"a": a, "b": b}).iloc[0]
    # common and non-NaN: u1 (0.1 vs 0.2), u2 (0.2 vs 0.1), u4 (0.4 vs 0.3)
    assert row["n_users"] == 3
    assert row["mean_diff"] == pytest.approx((-0.1 + 0.1 + 0.1) / 3)
    expected = stats.ttest_rel([0.1, 0.2, 0.4], [0.2, 0.1, 0.3]).pvalue
    assert row["t_p"] == pytest.approx(expected)


def test_identical_models_have_p_one_and_zero_effect():
    a = pd.Series([0.1, 0.5, 0.3])
    row = paired_tests({"a": a, "b": a.copy()}).iloc[0]
    assert row["wilcoxon_p"] == 1.0 and row["t_p"] == 1.0
    assert row["rank_biserial"] == 0.0 and row["cohens_dz"] == 0.0


def test_paired_tests_need_two_models():
    with pytest.raises(InputError, match="two models"):
        paired_tests({"a": pd.Series([1.0])})
