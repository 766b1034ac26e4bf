"""The inner-loop operator ``T(K; lr, s)`` against literally running the inner loop, theory.md §2."""
from __future__ import annotations

import numpy as np
import scipy.linalg

from ntk_bridge import predict
from ntk_bridge.metrics import rel_gap

from .registry import Outcome, at_most, check

TOL = 1e-10    # float64 identity (tests/conftest.py TOL[float64])


def _features(n: int, p: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, p)) / np.sqrt(p)


def _lr_for(k: np.ndarray, edge: float) -> float:
    """The step size with ``lr * e_max(k) = edge``."""
    return edge / np.linalg.eigvalsh(k)[-1]


def gd_features(phi, y, phi_test, lr: float, steps: int) -> np.ndarray:
    """``steps`` GD steps of size ``lr`` on ``0.5 ||phi w - y||^2`` from ``w = 0``; returns ``phi_test w``."""
    w = np.zeros((phi.shape[1], y.shape[1]))
    for _ in range(steps):
        w = w - lr * phi.T @ (phi @ w - y)
    return phi_test @ w


def gd_coefficients(k, lr: float, steps: int) -> np.ndarray:
    """Function-space GD on every target at once: ``f = K A``, ``A <- A + lr (I - K A)`` from ``A = 0``."""
    a = np.zeros_like(k)
    eye = np.eye(k.shape[-1])
    for _ in range(steps):
        a = a + lr * (eye - k @ a)
    return a


@check("inner_loop.discrete", fast=True)
def check_discrete():
    """T = K^-1 (I - (I - lr K)^s) is what s GD steps of size lr produce: an explicit feature model (K = Phi
    Phi^T) trained by GD predicts K(x, X) T Y, and function-space GD gives coefficients T even for singular
    K, batched over tasks.
    """
    steps = 7
    errs = {}
    # (a) explicit features, nonsingular K, lr near the stability edge
    phi, phi_test = _features(8, 20, 0), _features(5, 20, 1)
    y = np.random.default_rng(2).standard_normal((8, 2))
    k = phi @ phi.T
    lr = _lr_for(k, 1.8)
    t = predict.inner_operator(k, predict.Adaptation(lr=lr, steps=steps))
    errs["feature_gd_test_predictions"] = rel_gap(phi_test @ phi.T @ t @ y,
                                                  gd_features(phi, y, phi_test, lr, steps))
    # (b) singular K (rank 5 of 8), the whole operator, batched over 3 "tasks"
    ks = np.stack([(lambda f: f @ f.T)(_features(8, 5, 10 + i)) for i in range(3)])
    lr = min(_lr_for(kk, 1.5) for kk in ks)
    ts = predict.inner_operator(ks, predict.Adaptation(lr=lr, steps=steps))
    errs["coefficient_gd_singular_batched"] = rel_gap(
        ts, np.stack([gd_coefficients(kk, lr, steps) for kk in ks]))
    return at_most("max rel. Frobenius error of inner_operator vs literal GD: feature-model predictions on "
                   "test points (n=8, p=20, lr*e_max=1.8, 7 steps) and the full T of function-space GD on "
                   "3 stacked rank-5 8x8 kernels", max(errs.values()), TOL, per_case=errs)


@check("inner_loop.singular", fast=True)
def check_singular():
    """g(0) = lr*s: on the null space of a singular K the operator is T v = lr s v, for discrete steps and for
    gradient flow.
    """
    phi = _features(8, 3, 3)
    k = phi @ phi.T
    null = scipy.linalg.null_space(phi.T)                 # (8, 5): K v = 0
    errs = {}
    for flow in (False, True):
        adapt = predict.Adaptation(lr=_lr_for(k, 1.2), steps=6, flow=flow)
        t = predict.inner_operator(k, adapt)
        errs["flow" if flow else "discrete"] = rel_gap(t @ null, adapt.lr * adapt.steps * null)
    return at_most("rel. error of T restricted to null(K) (rank-3 8x8 K) vs lr*steps*I", max(errs.values()), TOL,
                   per_case=errs)


@check("inner_loop.flow", fast=True)
def check_flow():
    """Gradient flow: T = K^-1 (I - expm(-lr s K)) (scipy.linalg.expm), and it is the limit of m-fold finer
    discrete steps (lr/m, m s steps), approached at rate 1/m.
    """
    phi = _features(6, 12, 4)
    k = phi @ phi.T
    lr, steps = _lr_for(k, 1.5), 4
    t_flow = predict.inner_operator(k, predict.Adaptation(lr=lr, steps=steps, flow=True))
    ref = np.linalg.solve(k, np.eye(6) - scipy.linalg.expm(-lr * steps * k))
    expm_err = rel_gap(t_flow, ref)
    limit = {m: rel_gap(predict.inner_operator(k, predict.Adaptation(lr=lr / m, steps=steps * m)), t_flow)
             for m in (10, 100, 1000)}
    rate = float(np.log10(limit[10] / limit[1000]) / 2)
    # cond(K) amplifies expm's round-off in the K^-1 solve: 1e-9 leaves room for cond ~ 1e5.
    passed = expm_err <= 1e-9 and limit[1000] <= 1e-3 and abs(rate - 1.0) <= 0.1
    return Outcome("rel. error of the flow operator vs K^-1 (I - expm(-lr s K)); also finer discrete steps -> flow "
                   f"(error at m=1000: {limit[1000]:.2e} <= 1e-3, convergence order {rate:.3f} = 1 +- 0.1)",
                   expm_err, 1e-9, passed, "<=",
                   {"cond_K": float(np.linalg.cond(k)), "limit_error_by_m": limit, "order": rate})


@check("inner_loop.divergence", fast=True)
def check_divergence():
    """Discrete steps with lr * e_max > 2 diverge, and inner_operator raises ValueError instead of returning
    garbage; below the edge, and for gradient flow at any lr, it returns a finite T.
    """
    phi = _features(6, 12, 5)
    k = phi @ phi.T
    wrong = []
    try:
        predict.inner_operator(k, predict.Adaptation(lr=_lr_for(k, 2.05), steps=3))
        wrong.append("lr*e_max=2.05 discrete did not raise")
    except ValueError:
        pass
    for edge, flow in ((1.95, False), (2.05, True), (50.0, True)):
        t = predict.inner_operator(k, predict.Adaptation(lr=_lr_for(k, edge), steps=3, flow=flow))
        if not np.all(np.isfinite(t)):
            wrong.append(f"lr*e_max={edge} flow={flow} returned non-finite T")
    # the literal loop really diverges beyond the edge: residual factor |1 - lr e_max|^s grows
    grown = np.linalg.norm(gd_coefficients(k, _lr_for(k, 2.05), 200)) > 1e3 * np.linalg.norm(
        gd_coefficients(k, _lr_for(k, 1.95), 200))
    if not grown:
        wrong.append("literal GD at lr*e_max=2.05 did not blow up relative to 1.95")
    return at_most("number of wrong behaviours among: raise above the edge (discrete), finite T below it and "
                   "for flow, literal GD blow-up above the edge", len(wrong), 0, wrong=wrong)
