"""Power and sample size for the next test: a two-sided z-test of a relative lift on a mean.

Detecting a relative lift ``mde`` on a metric with mean mu and per-user standard deviation
sigma, with n_c control users and n_t = ratio * n_c per treatment, needs

    n_c = (z_{1 - alpha/2} + z_{power})^2 * sigma^2 * (1 + 1 / ratio) / (mu * mde)^2

(the normal approximation statsmodels' ``NormalIndPower`` solves too). With several
treatments each is compared with control at alpha / (k - 1) (Bonferroni), a safe plan for
the Holm correction the analysis applies. A conversion rate p has sigma = sqrt(p (1 - p)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from recsys_core.errors import InputError

__all__ = ["PowerPlan", "achieved_power", "sample_size"]


@dataclass(frozen=True)
class PowerPlan:
    """Users needed per arm and in total, and the per-comparison alpha used."""

    n_control: int
    n_per_treatment: int
    n_total: int
    alpha_per_comparison: float
    effect: float
    message: str


def _check(mean: float, sd: float, mde: float, alpha: float, power: float, ratio: float) -> None:
    if not (sd > 0 and math.isfinite(sd)):
        raise InputError(f"The standard deviation must be a positive number; got {sd}.")
    if mean == 0 or not math.isfinite(mean):
        raise InputError("The baseline mean must be a non-zero number (the lift is relative).")
    if mde == 0 or not math.isfinite(mde):
        raise InputError("The minimum detectable effect must be a non-zero relative lift.")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise InputError(f"alpha and power must lie in (0, 1); got {alpha} and {power}.")
    if not ratio > 0:
        raise InputError(f"The treatment/control ratio must be positive; got {ratio}.")


def sample_size(
    mean: float,
    sd: float,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    n_variants: int = 2,
) -> PowerPlan:
    """Users needed to detect a relative lift ``mde`` (0.02 = +2%) with the given power."""
    _check(mean, sd, mde, alpha, power, ratio)
    if n_variants < 2:
        raise InputError("An experiment needs at least two variants (control and one more).")
    a = alpha / (n_variants - 1)
    z = stats.norm.ppf(1 - a / 2) + stats.norm.ppf(power)
    effect = abs(mean * mde)
    n_c = math.ceil(z**2 * sd**2 * (1 + 1 / ratio) / effect**2)
    n_t = math.ceil(ratio * n_c)
    total = n_c + (n_variants - 1) * n_t
    message = (
        f"{n_c:,} control users and {n_t:,} per treatment ({total:,} in all) detect a "
        f"{mde:+.1%} lift on a mean of {mean:.4g} (sd {sd:.3g}) with {power:.0%} power at "
        f"alpha {a:.3g} per comparison."
    )
    return PowerPlan(n_c, n_t, total, a, effect, message)


def achieved_power(
    mean: float, sd: float, mde: float, n_control: int, *, alpha: float = 0.05, ratio: float = 1.0
) -> float:
    """Power of the two-sided z-test for a relative lift ``mde`` with ``n_control`` users."""
    _check(mean, sd, mde, alpha, 0.5, ratio)
    se = sd * math.sqrt(1 / n_control + 1 / (ratio * n_control))
    shift = abs(mean * mde) / se
    z = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.sf(z - shift) + stats.norm.cdf(-z - shift))
