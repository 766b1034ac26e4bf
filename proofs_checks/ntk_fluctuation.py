"""The NTK's diagonal over random initializations (theory.md §10): its mean, and the exact law of the head's part.

Both are what the Hanin & Nica comparison (experiment ``ntk-fluctuation``) rests on: the mean of
``Theta(x,x)`` over bias-free ReLU nets is exactly the infinite-width kernel, and the head's part
``||h_L||^2 / n`` has ``E[.^2] / E[.]^2 = (1 + 5/n)^L`` exactly, the per-layer factor behind the 5.
"""
from __future__ import annotations

import functools

import numpy as np

import ntk_bridge as nb
from ntk_bridge.finite import fluctuation

from .registry import Outcome, check

POINTS = ((2, 32), (4, 32), (4, 64), (8, 64))   # (L, n), beta <= 1/8: the moment estimates are unbiased there
N_NETS = 4000
N_BOOT = 400
Z_MAX = 4.0   # standard errors: a false failure ~6e-5 per statistic if the estimator is unbiased


def _input(dim: int = 8) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal(dim)
    return x / np.linalg.norm(x)


@functools.lru_cache(maxsize=None)
def samples() -> dict:
    """``{(L, n): (N_NETS, L + 1) parts}``, one random stream per point."""
    return {(L, n): fluctuation.diagonal(nb.MLPSpec(depth=L, width=n), _input(), n_nets=N_NETS, seed=1000 * L + n)
            for L, n in POINTS}


@check("ntk_fluctuation.mean")
def check_mean():
    """``E[Theta(x,x)]`` over bias-free He-initialized ReLU nets equals the infinite-width ``Theta(x,x)``
    (exactly: each layer's forward and backward factors have mean 1): the largest ``|mean - Theta_inf|`` over
    the points is at most 4 standard errors of the mean (4,000 nets per point; false failure ~2.5e-4 over the 4
    points).  Measured over 8 random streams (2026-12-04): the largest was 2.35."""
    z = {}
    for (L, n), parts in samples().items():
        theta = parts.sum(1)
        exact = nb.kernels.kernels(nb.MLPSpec(depth=L), _input()[None]).theta[0, 0]
        z[f"L={L},n={n}"] = float(abs(theta.mean() - exact) / (theta.std(ddof=1) / np.sqrt(len(theta))))
    worst = max(z.values())
    return Outcome("max over (L, n) of |mean Theta(x,x) - Theta_inf(x,x)| / its standard error", worst, Z_MAX,
                   worst <= Z_MAX, "<=", {"z": z})


@check("ntk_fluctuation.head_law")
def check_head_law():
    """The head's part of the NTK, ``||h_L||^2 / n``, has ``E[.^2]/E[.]^2 = (1 + 5/n)^L`` exactly for bias-free
    ReLU nets (theory.md §10): ``log`` of the measured ratio, pooled over the points as the weighted slope
    ``k`` of ``y = k L/n`` (as the experiment fits it), is within 4 bootstrap standard errors of the same slope
    of the exact values.  Measured over 8 random streams (2026-12-04): |z| <= 1.9 (k 4.58..4.78 against
    4.71..4.73); the linear-net law ``(1 + 2/n)^L`` (a ReLU's fourth moment forgotten) is ~10 se away."""
    rng = np.random.default_rng(0)
    beta, y, exact, boots = [], [], [], []
    for (L, n), parts in samples().items():
        head = parts[:, -1]
        idx = rng.integers(0, len(head), (N_BOOT, len(head)))
        boots.append(np.log(np.mean(head[idx] ** 2, 1) / np.mean(head[idx], 1) ** 2))
        beta.append(L / n)
        y.append(np.log(fluctuation.moment_ratio(head)))
        exact.append(np.log(fluctuation.head_moment_ratio(L, n)))
    beta, y, exact, boots = np.array(beta), np.array(y), np.array(exact), np.stack(boots, 1)
    w = 1.0 / boots.var(0)
    slope = lambda v: np.sum(w * beta * v, axis=-1) / np.sum(w * beta ** 2)
    k, k_exact, se = float(slope(y)), float(slope(exact)), float(np.std(slope(boots)))
    z = abs(k - k_exact) / se
    return Outcome(f"|k - k_exact| / se for the head's log E[.^2]/E[.]^2 = k L/n (k = {k:.3f}, exact {k_exact:.3f}, "
                   f"se {se:.3f})", z, Z_MAX, z <= Z_MAX, "<=", {"k": k, "k_exact": k_exact, "se": se,
                                                                 "points": POINTS, "n_nets": N_NETS})
