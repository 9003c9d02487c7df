"""CUPED: subtract the part of a metric a pre-period covariate predicts (Deng et al., 2013).

With a per-user pre-period value z independent of the assignment, y_adj = y - theta (z - mean z)
has the same expected difference between arms and variance Var(y) (1 - rho^2), where
theta = Cov(y, z) / Var(z) and rho is their correlation. Theta is estimated on all users
pooled, as GrowthBook and Eppo do: the assignment is random, so pooling adds no bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Cuped", "cuped"]


@dataclass(frozen=True, eq=False)
class Cuped:
    """Adjusted values and what the adjustment did.

    Attributes:
        adjusted: y - theta (z - mean z), same shape as y.
        theta: the regression coefficient, per leading index.
        correlation: rho between y and z.
        variance_reduction: 1 - Var(y_adj) / Var(y), i.e. rho^2 (0 when z is constant).
    """

    adjusted: np.ndarray
    theta: np.ndarray
    correlation: np.ndarray
    variance_reduction: np.ndarray


def cuped(y: np.ndarray, z: np.ndarray, axis: int = -1) -> Cuped:
    """Adjust ``y`` by the covariate ``z`` along ``axis`` (users, all arms pooled)."""
    y = np.asarray(y, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    zc = z - z.mean(axis=axis, keepdims=True)
    yc = y - y.mean(axis=axis, keepdims=True)
    var_z = (zc**2).sum(axis=axis)
    var_y = (yc**2).sum(axis=axis)
    cov = (yc * zc).sum(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(var_z > 0, cov / var_z, 0.0)
        rho = np.where((var_z > 0) & (var_y > 0), cov / np.sqrt(var_z * var_y), 0.0)
    adjusted = y - np.expand_dims(theta, axis) * zc
    var_adj = adjusted.var(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        reduction = np.where(var_y > 0, 1 - var_adj * y.shape[axis] / var_y, 0.0)
    return Cuped(adjusted, theta, rho, reduction)
