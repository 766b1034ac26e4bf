"""Facts about the infinite-width ReLU kernels that the closeness claim (C3) rests on."""
from __future__ import annotations

import math

import numpy as np

import ntk_bridge as nb
from ntk_bridge.metrics import rel_gap

from .registry import Outcome, at_most, check

DEPTHS = (1, 2, 4, 8, 16, 32)
# Theta(x,x) = (L+1) Sigma(x,x) held two ways.  ntk_bridge's symmetric kernels take the
# diagonal from its closed form (q_{l+1} = q_l, Theta_{l+1} = Theta_l + q): float64 round-off
# over <= 33 additions, hence 1e-12.  The general arc-cosine recursion gets the cosine from
# x.x' and |x||x'| rounded separately, 1 - O(eps) on the diagonal; arccos(1 - eps) ~ sqrt(2 eps)
# ~ 2e-8 perturbs the factor (pi - angle) / (2 pi) by ~1e-8 per layer: depth 32 stays below ~3e-7.
DIAG_TOL_EXACT = 1e-12
DIAG_TOL_RECURSION = 1e-6


def _points(seed: int = 0):
    """Mixed-norm inputs: sphere points, one scaled up, one nearly parallel pair."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 7))
    x[1] *= 3.0
    x[2] = x[0] + 1e-3 * rng.standard_normal(7)
    return x, 0.5 * rng.standard_normal((4, 7))


@check("kernel_facts.native_vs_nt", requires=("neural_tangents",))
def check_native_vs_nt():
    """The native arc-cosine recursion (Cho & Saul) equals neural-tangents' analytic kernel_fn, Theta and
    Sigma, for depths 1..32 with and without bias: rel. error < 1e-9.
    """
    x1, x2 = _points()
    errs = {}
    for b_std in (0.0, 0.3):
        for depth in DEPTHS:
            spec = nb.MLPSpec(depth=depth, b_std=b_std)
            # neural-tangents' kernel_fn eagerly: jit-compiling a depth-32 kernel costs ~25 s, the call < 1 s.
            ref = spec.stax()[2](x1, x2, get=("ntk", "nngp"))
            nat = nb.kernels.kernels(spec, x1, x2, backend="native")
            errs[f"depth={depth},b_std={b_std}"] = max(
                rel_gap(nat.theta, ref.ntk), rel_gap(nat.sigma, ref.nngp))
    return at_most("max over depth x bias of the rel. Frobenius error of native Theta and Sigma vs "
                   "neural_tangents stax kernel_fn (x1 6 points, x2 4 points)", max(errs.values()), 1e-9,
                   per_config=errs)


def _diag_points():
    rng = np.random.default_rng(2)
    sphere = rng.standard_normal((20, 7))
    return np.concatenate([_points()[0], sphere / np.linalg.norm(sphere, axis=1, keepdims=True)])


def _diag_ratio_err(theta_diag, sigma_diag, depth) -> float:
    return float(np.max(np.abs(theta_diag / ((depth + 1) * sigma_diag) - 1.0)))


@check("kernel_facts.diagonal", fast=True)
def check_diagonal():
    """For ReLU with w_std = sqrt 2, b_std = 0: Theta(x,x) = (L+1) Sigma(x,x) exactly, so the head's share of
    the NTK diagonal is 1/(L+1) (ntk_bridge kernels, symmetric call).
    """
    x = _diag_points()
    errs = {}
    for depth in DEPTHS:
        k = nb.kernels.kernels(nb.MLPSpec(depth=depth, w_std=math.sqrt(2.0), b_std=0.0), x)
        errs[depth] = _diag_ratio_err(np.diag(k.theta), np.diag(k.sigma), depth)
    return at_most("max over depths 1..32 and 26 points of |Theta(x,x) / ((L+1) Sigma(x,x)) - 1| "
                   "(native kernels, diagonal from the closed-form recursion)",
                   max(errs.values()), DIAG_TOL_EXACT, per_depth=errs)


@check("kernel_facts.diagonal_recursion", fast=True)
def check_diagonal_recursion():
    """The same identity Theta(x,x) = (L+1) Sigma(x,x) holds for the general arc-cosine recursion (kernel
    between two different point sets), to the sqrt(eps) precision of arccos at cosine 1.
    """
    x = _diag_points()
    x2 = np.concatenate([x, x[:1] + 1.0])   # not x itself: the general (non-symmetric) recursion
    errs = {}
    for depth in DEPTHS:
        k = nb.kernels.kernels(nb.MLPSpec(depth=depth, w_std=math.sqrt(2.0), b_std=0.0), x, x2)
        errs[depth] = _diag_ratio_err(np.diag(k.theta), np.diag(k.sigma), depth)
    return at_most("max over depths 1..32 and 26 points of |Theta(x,x) / ((L+1) Sigma(x,x)) - 1|, "
                   f"native arc-cosine recursion on (x, x2 = x + one row) (tolerance {DIAG_TOL_RECURSION:g}: "
                   "arccos near 1 has sqrt(eps) precision, ~1e-8 per layer)",
                   max(errs.values()), DIAG_TOL_RECURSION, per_depth=errs)


@check("kernel_facts.degeneration", fast=True)
def check_degeneration():
    """Off the diagonal deep ReLU kernels degenerate toward constants: the NNGP correlation
    Sigma(x,x')/sqrt(Sigma(x,x)Sigma(x',x')) rises monotonically to 1 with depth, and the NTK correlation
    becomes the same for every pair (its spread over pairs shrinks; the limit is 1/4, not 1).
    """
    depths = DEPTHS + (64, 128)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 7))
    off = ~np.eye(len(x), dtype=bool)
    nngp_gap, ntk_spread, ntk_mean = [], [], []
    for depth in depths:
        k = nb.kernels.kernels(nb.MLPSpec(depth=depth), x)
        cs, ct = _corr(k.sigma)[off], _corr(k.theta)[off]
        nngp_gap.append(float(np.max(1.0 - cs)))
        ntk_spread.append(float(np.max(ct) - np.min(ct)))
        ntk_mean.append(float(np.mean(ct)))
    monotone = bool(np.all(np.diff(nngp_gap) < 0) and np.all(np.diff(ntk_spread) < 0))
    shrink = max(nngp_gap[-1] / nngp_gap[0], ntk_spread[-1] / ntk_spread[0])
    passed = monotone and shrink <= 0.05
    return Outcome("max of (1 - min NNGP corr.) and (NTK corr. spread over pairs) at L=128, relative to L=1; "
                   "both must also decrease at every depth step", shrink, 0.05, passed, "<=",
                   {"depths": depths, "nngp_1_minus_min_corr": nngp_gap, "ntk_corr_spread": ntk_spread,
                    "ntk_corr_mean": ntk_mean, "monotone": monotone})


def _corr(k):
    d = np.sqrt(np.diag(k))
    return k / np.outer(d, d)


