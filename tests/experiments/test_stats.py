"""Statistics against hand-computed values, scipy and statsmodels, and over simulations.

Simulations run thousands of experiments at once: arrays of shape (simulations, users) go
through the same functions the analysis uses, so the stated rates are those of the real code.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower

from recsys_core.errors import InputError
from recsys_core.experiments.cuped import cuped
from recsys_core.experiments.power import achieved_power, sample_size
from recsys_core.experiments.sequential import msprt
from recsys_core.experiments.srm import srm_pvalues, srm_test
from recsys_core.experiments.stats import (
    holm,
    mean_estimate,
    moments,
    ratio_estimate,
    relative_lift,
)

SIMS = 4_000


def _binomial_bounds(p: float, n: int, z: float = 4.0) -> tuple[float, float]:
    """A band a correct rate leaves with probability ~6e-5: tests fail only when wrong."""
    half = z * np.sqrt(p * (1 - p) / n)
    return p - half, p + half


# ---------------------------------------------------------------------------- hand-computed
def test_mean_lift_matches_hand_computed_delta_method() -> None:
    control = mean_estimate(moments(np.array([1.0, 2.0, 3.0, 4.0])))  # mean 2.5, s^2 5/3
    treated = mean_estimate(moments(np.array([2.0, 4.0, 6.0])))  # mean 4, s^2 4
    assert control.variance == pytest.approx((5 / 3) / 4)
    lift = relative_lift(treated, control)
    var = (4 / 3) / 2.5**2 + 4**2 * (5 / 12) / 2.5**4
    assert lift.value == pytest.approx(4 / 2.5 - 1)
    assert lift.se == pytest.approx(np.sqrt(var))
    assert lift.ci_low == pytest.approx(0.6 - 1.959964 * np.sqrt(var), rel=1e-6)
    assert lift.p_value == pytest.approx(2 * stats.norm.sf(0.6 / np.sqrt(var)))


def test_ratio_metric_variance_matches_the_delta_formula_written_out() -> None:
    clicks = np.array([1.0, 0.0, 3.0, 2.0, 1.0])
    views = np.array([10.0, 4.0, 12.0, 9.0, 5.0])
    est = ratio_estimate(moments(clicks, views))
    mx, my = clicks.mean(), views.mean()
    cov = np.cov(clicks, views, ddof=1)
    expected = (cov[0, 0] / my**2 - 2 * mx * cov[0, 1] / my**3 + mx**2 * cov[1, 1] / my**4) / 5
    assert est.value == pytest.approx(7 / 40)
    assert est.variance == pytest.approx(expected)


def test_holm_matches_statsmodels_and_leaves_nan_out() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan, 0.5])
    ours = holm(p)
    ref = multipletests(p[np.isfinite(p)], method="holm")[1]
    assert np.isnan(ours[4])
    np.testing.assert_allclose(ours[np.isfinite(p)], ref)


def test_srm_matches_scipy_chisquare_with_a_planned_split() -> None:
    result = srm_test({"A": 5_130, "B": 4_870, "C": 10_000}, {"A": 1, "B": 1, "C": 2})
    ref = stats.chisquare([5_130, 4_870, 10_000], [5_000, 5_000, 10_000])
    assert result.chi2 == pytest.approx(ref.statistic)
    assert result.p_value == pytest.approx(ref.pvalue)
    assert result.planned["C"] == pytest.approx(0.5)


def test_sample_size_and_power_match_statsmodels() -> None:
    plan = sample_size(mean=10.0, sd=6.0, mde=0.03, alpha=0.05, power=0.8)
    ref = NormalIndPower().solve_power(effect_size=0.3 / 6.0, alpha=0.05, power=0.8, ratio=1.0)
    assert plan.n_control == int(np.ceil(ref))
    assert plan.n_total == 2 * plan.n_control
    got = achieved_power(10.0, 6.0, 0.03, 5_000)
    assert got == pytest.approx(NormalIndPower().power(0.05, nobs1=5_000, alpha=0.05), rel=1e-9)


def test_sample_size_splits_alpha_across_treatments_and_refuses_nonsense() -> None:
    plan = sample_size(mean=0.1, sd=0.3, mde=0.05, n_variants=3)
    assert plan.alpha_per_comparison == pytest.approx(0.025)
    assert plan.n_total == 3 * plan.n_control
    with pytest.raises(InputError, match="standard deviation"):
        sample_size(mean=1.0, sd=0.0, mde=0.1)
    with pytest.raises(InputError, match="non-zero"):
        sample_size(mean=0.0, sd=1.0, mde=0.1)


def test_msprt_matches_the_closed_form_and_is_wider_than_fixed_horizon() -> None:
    d, v, tau = 0.03, 0.0001, 0.05
    seq = msprt(np.array(d), np.array(v), alpha=0.05, tau=tau)
    lam = np.sqrt(v / (v + tau**2)) * np.exp(tau**2 * d**2 / (2 * v * (v + tau**2)))
    assert seq.p_value == pytest.approx(min(1, 1 / lam))
    fixed_half = 1.959964 * np.sqrt(v)
    assert seq.ci_high - d > fixed_half


# ------------------------------------------------------------------------------ simulations
def _arms(rng: np.random.Generator, n: int, lift: float) -> tuple[np.ndarray, np.ndarray]:
    """Skewed (gamma) outcomes, mean 5 in control and 5 (1 + lift) in treatment."""
    control = rng.gamma(2.0, 2.5, size=(SIMS, n))
    treated = rng.gamma(2.0, 2.5 * (1 + lift), size=(SIMS, n))
    return control, treated


def test_planted_mean_lift_is_inside_its_95_interval_95_percent_of_the_time(
    rng: np.random.Generator,
) -> None:
    control, treated = _arms(rng, 500, 0.05)
    lift = relative_lift(mean_estimate(moments(treated)), mean_estimate(moments(control)))
    covered = np.mean((lift.ci_low <= 0.05) & (lift.ci_high >= 0.05))
    low, high = _binomial_bounds(0.95, SIMS)
    assert low <= covered <= high


def test_planted_ratio_lift_is_covered_at_the_stated_rate(rng: np.random.Generator) -> None:
    n, ctr, planted = 800, 0.05, 0.08
    views_c = rng.poisson(rng.gamma(1.0, 20.0, size=(SIMS, n))) + 1
    views_t = rng.poisson(rng.gamma(1.0, 20.0, size=(SIMS, n))) + 1
    clicks_c = rng.binomial(views_c, ctr)
    clicks_t = rng.binomial(views_t, ctr * (1 + planted))
    c = ratio_estimate(moments(clicks_c, views_c))
    t = ratio_estimate(moments(clicks_t, views_t))
    lift = relative_lift(t, c, alpha=0.1)
    covered = np.mean((lift.ci_low <= planted) & (planted <= lift.ci_high))
    low, high = _binomial_bounds(0.90, SIMS)
    assert low <= covered <= high


def test_null_lift_rejected_at_alpha(rng: np.random.Generator) -> None:
    control, treated = _arms(rng, 400, 0.0)
    lift = relative_lift(mean_estimate(moments(treated)), mean_estimate(moments(control)))
    low, high = _binomial_bounds(0.05, SIMS)
    assert low <= np.mean(lift.p_value < 0.05) <= high


def test_srm_false_positive_rate_is_the_threshold_and_a_planted_srm_is_found(
    rng: np.random.Generator,
) -> None:
    n_sims = 200_000
    shares = np.array([0.5, 0.3, 0.2])
    healthy = rng.multinomial(20_000, shares, size=n_sims)
    _, p = srm_pvalues(healthy, shares)
    low, high = _binomial_bounds(0.001, n_sims)
    assert low <= np.mean(p < 0.001) <= high
    broken = rng.multinomial(20_000, [0.48, 0.32, 0.2], size=2_000)  # 2 points moved from A to B
    _, p_broken = srm_pvalues(broken, shares)
    assert np.mean(p_broken < 0.001) > 0.99


def test_cuped_reduces_variance_by_rho_squared_and_keeps_the_lift(
    rng: np.random.Generator,
) -> None:
    n, rho = 2_000, 0.7
    pre = rng.normal(10, 3, size=(SIMS, 2 * n))
    noise = rng.normal(0, 3, size=(SIMS, 2 * n))
    y = 10 + rho * (pre - 10) + np.sqrt(1 - rho**2) * noise
    y[:, n:] *= 1.03  # treatment: +3%
    adj = cuped(y, pre)
    assert np.median(adj.variance_reduction) == pytest.approx(rho**2, abs=0.02)
    raw = relative_lift(mean_estimate(moments(y[:, n:])), mean_estimate(moments(y[:, :n])))
    fit = relative_lift(
        mean_estimate(moments(adj.adjusted[:, n:])), mean_estimate(moments(adj.adjusted[:, :n]))
    )
    assert np.mean(fit.se) < 0.8 * np.mean(raw.se)
    assert np.mean(fit.value) == pytest.approx(0.03, abs=0.002)  # unbiased
    covered = np.mean((fit.ci_low <= 0.03) & (fit.ci_high >= 0.03))
    low, high = _binomial_bounds(0.95, SIMS)
    assert low <= covered <= high


def test_cuped_with_an_unrelated_covariate_changes_almost_nothing(
    rng: np.random.Generator,
) -> None:
    y = rng.normal(5, 2, size=(200, 1_000))
    adj = cuped(y, rng.normal(0, 1, size=y.shape))
    assert np.all(np.abs(adj.variance_reduction) < 0.02)


def test_msprt_keeps_false_positives_under_alpha_when_peeking_every_day(
    rng: np.random.Generator,
) -> None:
    """Ten looks at a null experiment: the fixed-horizon test over-rejects, mSPRT does not."""
    sims, per_look, looks = 2_000, 200, 10
    c = rng.normal(10, 4, size=(sims, per_look * looks))
    t = rng.normal(10, 4, size=(sims, per_look * looks))
    ever_fixed = np.zeros(sims, dtype=bool)
    ever_seq = np.zeros(sims, dtype=bool)
    for k in range(1, looks + 1):  # ten looks, each vectorised over all simulations
        m = per_look * k
        lift = relative_lift(mean_estimate(moments(t[:, :m])), mean_estimate(moments(c[:, :m])))
        ever_fixed |= lift.p_value < 0.05
        ever_seq |= msprt(lift.value, lift.se**2).p_value < 0.05
    assert np.mean(ever_fixed) > 0.12  # peeking at a fixed-horizon test: ~20% false alarms
    assert np.mean(ever_seq) <= 0.05
