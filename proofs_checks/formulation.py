"""C1: MTL and last-layer GBML with an exact ridge head (R2D2, MetaOptNet) share one objective.

Finite net, float64.  The head is linear in its design matrix
``D(x) = [(head_std / sqrt(width)) phi(x), b_std]`` (features, then the bias column), so
``f(x) = D(x) [W; b]`` and the ridge penalty ``0.5 lam (||W||^2 + ||b||^2)`` covers the bias too.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

import ntk_bridge as nb
from ntk_bridge.metrics import rel_gap

from .registry import at_least, at_most, check

LAM = 0.3      # ridge of the head, in the inner solver and in the outer loss
TOL = 1e-10    # float64 identity (tests/conftest.py TOL[float64])


@functools.lru_cache(maxsize=1)
def _problem():
    spec = nb.MLPSpec(depth=2, width=40, b_std=0.1, out_dim=2)
    tasks = nb.tasks.shared_feature(3, n_support=6, n_query=5, dim=5, out_dim=2, seed=1)
    params = spec.init(jax.random.PRNGKey(0), tasks.dim)
    return spec, params["body"], tasks


def design(spec, body, x):
    """``D(x)`` of shape ``(..., width + 1)`` with ``f(x) = D(x) [W; b]``."""
    phi = spec.features(body, x) * (spec.head_std / math.sqrt(spec.width))
    return jnp.concatenate([phi, jnp.full(phi.shape[:-1] + (1,), spec.b_std)], axis=-1)


def ridge_head(d, y, lam):
    """Primal ridge solve ``w* = (D^T D + lam I)^-1 D^T y``, batched over tasks: ``(N, p, k)``."""
    gram = jnp.einsum("npa,npb->nab", d, d) + lam * jnp.eye(d.shape[-1])
    return jnp.linalg.solve(gram, jnp.einsum("npa,npk->nak", d, y))


def gbml_objective(spec, body, x_in, y_in, x_out, y_out, lam):
    """``sum_i 0.5 ||D(X'_i) w_i* - Y'_i||^2 + 0.5 lam ||w_i*||^2``, ``w_i*`` the ridge head fit on ``(X_i,
    Y_i)``.
    """
    w = ridge_head(design(spec, body, x_in), y_in, lam)
    r = jnp.einsum("npa,nak->npk", design(spec, body, x_out), w) - y_out
    return 0.5 * jnp.sum(r * r) + 0.5 * lam * jnp.sum(w * w)


def profile_objective(spec, body, x, y, lam):
    """MTL with the heads minimised out, dual form ``sum_i 0.5 lam tr(Y_i^T (D_i D_i^T + lam I)^-1 Y_i)``."""
    d = design(spec, body, x)
    gram = jnp.einsum("npa,nqa->npq", d, d) + lam * jnp.eye(d.shape[1])
    return 0.5 * lam * jnp.sum(y * jnp.linalg.solve(gram, y))


def dual_heads(spec, body, x, y, lam):
    """Optimal heads from the dual, ``w = D^T (D D^T + lam I)^-1 Y``, as ``(W (N, n, k), b (N, k))``."""
    d = design(spec, body, x)
    gram = jnp.einsum("npa,nqa->npq", d, d) + lam * jnp.eye(d.shape[1])
    w = jnp.einsum("npa,npk->nak", d, jnp.linalg.solve(gram, y))
    return w[:, :-1], w[:, -1]


def mtl_objective(spec, body, heads, x, y, lam):
    """The MTL loss of the net itself: ``sum_i 0.5 ||head_i(phi(X_i)) - Y_i||^2 + 0.5 lam ||head_i||^2``."""
    w, b = heads
    f = jax.vmap(lambda wi, bi, xi: spec.head_apply((wi, bi), spec.features(body, xi)))(w, b, x)
    return 0.5 * jnp.sum((f - y) ** 2) + 0.5 * lam * (jnp.sum(w * w) + jnp.sum(b * b))


@check("formulation.value", fast=True)
def check_value():
    """With query = support and the ridge carried into the outer loss, the GBML objective (exact ridge head)
    equals MTL's objective with the heads minimised out: sum_i 0.5||D_i w_i* - Y_i||^2 + 0.5 lam||w_i*||^2 =
    sum_i 0.5 lam Y_i^T (D_i D_i^T + lam I)^-1 Y_i = min_heads L_MTL.
    """
    spec, body, tasks = _problem()
    x, y = (jnp.asarray(a) for a in tasks.merged())
    gbml = gbml_objective(spec, body, x, y, x, y, LAM)
    dual = profile_objective(spec, body, x, y, LAM)
    net = mtl_objective(spec, body, dual_heads(spec, body, x, y, LAM), x, y, LAM)
    err = max(rel_gap(gbml, dual), rel_gap(net, dual))
    return at_most("max rel. difference of the GBML objective (primal ridge solve) and of the net's MTL loss "
                   "at the dual-optimal heads, vs the dual closed form", err, TOL,
                   gbml=float(gbml), dual=float(dual), mtl_at_optimal_heads=float(net), lam=LAM)


@check("formulation.gradient", fast=True)
def check_gradient():
    """The body gradients agree: d/dbody of the GBML objective, differentiated through the ridge solve, equals
    the envelope-theorem gradient of the MTL loss with the heads held fixed at their optimum.
    """
    spec, body, tasks = _problem()
    x, y = (jnp.asarray(a) for a in tasks.merged())
    g_gbml = jax.grad(lambda bd: gbml_objective(spec, bd, x, y, x, y, LAM))(body)
    heads = dual_heads(spec, body, x, y, LAM)
    g_env = jax.grad(lambda bd: mtl_objective(spec, bd, heads, x, y, LAM))(body)
    err = rel_gap(ravel_pytree(g_gbml)[0], ravel_pytree(g_env)[0])
    return at_most("rel. Frobenius difference of the two body gradients (all layers flattened)", err, TOL,
                   grad_norm=float(jnp.linalg.norm(ravel_pytree(g_env)[0])), lam=LAM)


@check("formulation.split_gap", fast=True)
def check_split_gap():
    """The identity needs query = support: with the head fit on the support and the outer loss scored on a
    disjoint query, the GBML objective differs from MTL's (heads minimised out on support ∪ query) by a
    clear margin.  Over 16 initializations of the body (2026-12-04) the gap was 0.30 ± 0.056 (min 0.22): the
    bound 0.05 is 4.5 sds below the mean (false failure ~1e-5 under another random stream).
    """
    spec, body, tasks = _problem()
    xs, ys, xq, yq = (jnp.asarray(a) for a in (tasks.xs, tasks.ys, tasks.xq, tasks.yq))
    x, y = (jnp.asarray(a) for a in tasks.merged())
    gbml = gbml_objective(spec, body, xs, ys, xq, yq, LAM)
    dual = profile_objective(spec, body, x, y, LAM)
    g_gbml = jax.grad(lambda bd: gbml_objective(spec, bd, xs, ys, xq, yq, LAM))(body)
    g_mtl = jax.grad(lambda bd: profile_objective(spec, bd, x, y, LAM))(body)
    gap = rel_gap(gbml, dual)
    return at_least("rel. difference of the disjoint-split GBML objective and MTL's profile objective", gap,
                    0.05, gbml=float(gbml), mtl=float(dual),
                    gradient_rel_diff=rel_gap(ravel_pytree(g_gbml)[0], ravel_pytree(g_mtl)[0]))
