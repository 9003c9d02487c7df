"""Always-valid inference: a mixture sequential probability ratio test (mSPRT).

Reading a fixed-horizon test every day and stopping at the first p < 0.05 makes false
positives several times likelier than 5%. The mSPRT (Johari, Pekelis and Walsh, "Always
valid inference", 2017; the normal-mixture form GrowthBook and Eppo document) stays valid
however often it is read. For an estimate d (here the relative lift) with variance V and a
normal mixture N(0, tau^2) over the true effect, the likelihood ratio against d = 0 is

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 d^2 / (2 V (V + tau^2)))

and p = min(1, 1 / Lambda) is an always-valid p-value. Inverting the test gives the
always-valid interval d +- sqrt(V (V + tau^2) / tau^2 * (2 ln(1/alpha) + ln((V + tau^2) / V))).
Tau is the size of effect the test is most sensitive to; the default 0.05 (a 5% relative
lift) suits product metrics. The intervals are wider than fixed-horizon ones: that is the
price of peeking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_TAU", "Sequential", "msprt"]

DEFAULT_TAU = 0.05


@dataclass(frozen=True, eq=False)
class Sequential:
    """Always-valid p-value and interval of an estimate."""

    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray


def msprt(
    estimate: np.ndarray, variance: np.ndarray, alpha: float = 0.05, tau: float = DEFAULT_TAU
) -> Sequential:
    """The normal-mixture SPRT of ``estimate`` = 0, with its always-valid interval."""
    d = np.asarray(estimate, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    t2 = tau**2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_lambda = 0.5 * np.log(v / (v + t2)) + t2 * d**2 / (2 * v * (v + t2))
        p = np.minimum(1.0, np.exp(-log_lambda))
        half = np.sqrt(v * (v + t2) / t2 * (2 * np.log(1 / alpha) + np.log((v + t2) / v)))
    return Sequential(p, d - half, d + half)
