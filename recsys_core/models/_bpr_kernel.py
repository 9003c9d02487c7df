"""BPR's sequential SGD loop, compiled by numba (imported inside a fit, compiled once).

Cornac's BPR is a Cython loop: one (user, positive, negative) triple at a time, each step
reading the parameters the previous one wrote. numpy can only run that as batches of
triples that read the same parameters (``batch_size`` > 1); a compiled loop runs the exact
algorithm at C speed. numba is the well-kept way to compile a Python loop here (no build
step, wheels on PyPI, the compiled code cached beside this file). ``fastmath`` lets LLVM
vectorise the k-wide dot product and updates (reassociated sums: the same NDCG@10 to 4
decimals, 943 x 1,682 x 100k synthetic fit 1.62 -> 1.30 s, quiet machine).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_KERNEL: Any = None


def sequential_sgd(
    factors: tuple[np.ndarray, np.ndarray, np.ndarray],
    triples: tuple[np.ndarray, np.ndarray, np.ndarray],
    lr: float,
    reg: float,
) -> None:
    """One pass of plain SGD over ``triples`` (user, positive, negative), in place.

    Args:
        factors: user factors ``[n_users, k]``, item factors ``[n_items, k]`` and item
            biases ``[n_items]``, all float32, updated in place.
        triples: user, positive and negative item indices, one triple per position.
        lr: step size.
        reg: L2 penalty on the rows a step touches.
    """
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = _compile()
    user_f, item_f, bias = factors
    u, i, j = (np.ascontiguousarray(a, dtype=np.int64) for a in triples)
    _KERNEL(user_f, item_f, bias, u, i, j, np.float32(lr), np.float32(reg))


def _compile() -> Any:
    import numba

    @numba.njit(cache=True, nogil=True, fastmath=True)
    def kernel(user_f, item_f, bias, us, is_, js, lr, reg):
        k = user_f.shape[1]
        for t in range(us.shape[0]):
            u, i, j = us[t], is_[t], js[t]
            x = bias[i] - bias[j]
            for f in range(k):
                x += user_f[u, f] * (item_f[i, f] - item_f[j, f])
            z = np.float32(1.0 / (1.0 + np.exp(x)))  # sigmoid(-x)
            for f in range(k):
                pu, qi, qj = user_f[u, f], item_f[i, f], item_f[j, f]
                user_f[u, f] = pu + lr * (z * (qi - qj) - reg * pu)
                item_f[i, f] = qi + lr * (z * pu - reg * qi)
                item_f[j, f] = qj + lr * (-z * pu - reg * qj)
            bias[i] += lr * (z - reg * bias[i])
            bias[j] += lr * (-z - reg * bias[j])

    return kernel
