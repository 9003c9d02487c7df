"""Fixed-horizon estimates: per-variant means and ratios, relative lift (delta method), Holm.

Every function works on sufficient statistics held in numpy arrays that broadcast, so one
call analyses one experiment or ten thousand simulated ones (the coverage tests do that).
Intervals are normal (Wald) intervals, as in the GrowthBook and Eppo frequentist engines:
experiments have hundreds of users per arm or more, where the t and normal quantiles agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "Estimate",
    "Lift",
    "Moments",
    "holm",
    "mean_estimate",
    "moments",
    "ratio_estimate",
    "relative_lift",
    "z_quantile",
]


def z_quantile(alpha: float) -> float:
    """The two-sided normal quantile: 1.96 for alpha = 0.05."""
    return float(stats.norm.ppf(1 - alpha / 2))


@dataclass(frozen=True, eq=False)
class Moments:
    """Per-group sums a mean or a ratio metric needs (arrays of one shape).

    ``x`` is the numerator (or the metric), ``y`` the denominator of a ratio metric; the
    ``y`` fields are None for a plain mean. Variances and the covariance use ddof=1.
    """

    n: np.ndarray
    mean_x: np.ndarray
    var_x: np.ndarray
    mean_y: np.ndarray | None = None
    var_y: np.ndarray | None = None
    cov_xy: np.ndarray | None = None


def moments(x: np.ndarray, y: np.ndarray | None = None, axis: int = -1) -> Moments:
    """Moments of per-user values along ``axis`` (users), e.g. shape (simulations, users)."""
    x = np.asarray(x, dtype=np.float64)
    n = np.asarray(x.shape[axis], dtype=np.float64) * np.ones(np.delete(x.shape, axis))
    mean_x, var_x = x.mean(axis=axis), x.var(axis=axis, ddof=1)
    if y is None:
        return Moments(n, mean_x, var_x)
    y = np.asarray(y, dtype=np.float64)
    mean_y = y.mean(axis=axis)
    cov = ((x - np.expand_dims(mean_x, axis)) * (y - np.expand_dims(mean_y, axis))).sum(axis=axis)
    return Moments(n, mean_x, var_x, mean_y, y.var(axis=axis, ddof=1), cov / (n - 1))


@dataclass(frozen=True, eq=False)
class Estimate:
    """A group's metric value and the variance of that estimate (not of a user's value)."""

    value: np.ndarray
    variance: np.ndarray

    def interval(self, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        half = z_quantile(alpha) * np.sqrt(self.variance)
        return self.value - half, self.value + half


def mean_estimate(m: Moments) -> Estimate:
    """The mean per user; its variance is s^2 / n."""
    return Estimate(m.mean_x, m.var_x / m.n)


def ratio_estimate(m: Moments) -> Estimate:
    """A ratio of sums, e.g. CTR = sum(clicks) / sum(exposures), with its delta-method variance.

    Users, not exposures, are the randomisation unit, so the clicks of one user are correlated
    and the binomial variance would be too small. Writing R = mean(x) / mean(y) and expanding
    to first order (Deng et al., "Applying the delta method in metric analytics", 2018):
    Var(R) = (Var x / my^2 - 2 mx Cov(x, y) / my^3 + mx^2 Var y / my^4) / n.
    """
    if m.mean_y is None or m.var_y is None or m.cov_xy is None:
        raise ValueError("a ratio estimate needs the denominator's moments")
    mx, my = m.mean_x, m.mean_y
    with np.errstate(divide="ignore", invalid="ignore"):
        value = mx / my
        var = (m.var_x / my**2 - 2 * mx * m.cov_xy / my**3 + mx**2 * m.var_y / my**4) / m.n
    return Estimate(value, np.maximum(var, 0.0))


@dataclass(frozen=True, eq=False)
class Lift:
    """Relative lift of a variant over control: (treatment / control) - 1, with its test."""

    value: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray


def relative_lift(treatment: Estimate, control: Estimate, alpha: float = 0.05) -> Lift:
    """Relative lift and its delta-method interval, treating the two arms as independent.

    For T / C - 1: Var = Var(T) / C^2 + T^2 Var(C) / C^4 (first-order expansion). The
    p-value is the two-sided z-test of lift = 0.
    """
    t, c = treatment.value, control.value
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = t / c - 1
        se = np.sqrt(treatment.variance / c**2 + t**2 * control.variance / c**4)
        z = lift / se
    half = z_quantile(alpha) * se
    p = 2 * stats.norm.sf(np.abs(z))
    return Lift(lift, se, lift - half, lift + half, p)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error); NaN entries stay NaN, uncounted.

    The i-th smallest of m p-values is multiplied by (m - i), a running maximum keeps the
    order, and values are capped at 1: reject where the adjusted value is below alpha.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if not len(finite):
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out
