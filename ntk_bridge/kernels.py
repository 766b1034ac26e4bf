"""Infinite-width kernels of an :class:`MLPSpec`, and the empirical kernels of a finite net.

Three kernels, all ``(n1, n2)`` float64, per output column (multi-output kernels are
``K ⊗ I_k``):

* ``theta``      — the NTK of all parameters, ``Theta(x, x')``;
* ``sigma``      — the head's contribution = the output NNGP kernel ``Sigma(x, x')``;
* ``theta_body`` — every parameter below the head, ``Theta - Sigma``.

Two independent backends with one signature: ``"nt"`` (neural-tangents ``kernel_fn``)
and ``"native"`` (the arc-cosine recursion of Cho & Saul 2009 in NumPy, no JAX needed).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .spec import MLPSpec

BACKENDS = ("nt", "native")


class Kernels(NamedTuple):
    """``theta`` (NTK) and ``sigma`` (head part = NNGP), both ``(n1, n2)`` float64."""

    theta: np.ndarray
    sigma: np.ndarray

    @property
    def theta_body(self) -> np.ndarray:
        """``Theta - Sigma``: the contribution of every parameter below the head."""
        return self.theta - self.sigma


def kernels(spec: MLPSpec, x1, x2=None, *, backend: str = "native", block_size: int = 2048) -> Kernels:
    """Analytic ``Theta`` and ``Sigma`` between point sets ``x1 (n1, d)`` and ``x2 (n2, d)``.

    Rows of ``x1`` are processed in blocks of ``block_size`` so that tens of thousands of
    points fit in memory (peak about ``6 * block_size * n2`` floats).

    Args:
      spec: the architecture (``width`` is ignored: infinite width).
      x1, x2: inputs; ``x2=None`` means ``x2 = x1``.
      backend: ``"native"`` (arc-cosine recursion) or ``"nt"`` (neural-tangents).
    Raises:
      ValueError: on an unknown backend, bad shapes or non-finite inputs.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be an integer >= 1, got {block_size!r}")
    x1 = _points(x1, "x1")
    x2 = x1 if x2 is None else _points(x2, "x2")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x2 has input dim {x2.shape[1]}, x1 has {x1.shape[1]}")
    block = _native_block if backend == "native" else _nt_block
    if x2 is x1:  # symmetric: compute the upper block triangle only, mirror the rest
        n = x1.shape[0]
        theta, sigma = np.empty((n, n)), np.empty((n, n))
        for i in range(0, n, block_size):
            t, s = block(spec, x1[i:i + block_size], x1[i:])
            theta[i:i + block_size, i:], sigma[i:i + block_size, i:] = t, s
            theta[i:, i:i + block_size], sigma[i:, i:i + block_size] = t.T, s.T
        return Kernels(theta, sigma)
    parts = [block(spec, x1[i:i + block_size], x2) for i in range(0, x1.shape[0], block_size)]
    return Kernels(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


def _points(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or min(x.shape) == 0:
        raise ValueError(f"{name} must have shape (points, dim) with both >= 1, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")
    return x


def _native_block(spec: MLPSpec, x1: np.ndarray, x2: np.ndarray):
    """Arc-cosine recursion (Cho & Saul 2009; Jacot et al. 2018) for one block of rows.

    ``K_{l+1} = s^2 E[relu(u) relu(v)] + b^2``, ``Theta_{l+1} = s^2 Theta_l E[relu'(u) relu'(v)] + K_{l+1}``
    with ``E[relu relu] = sqrt(q q') (sin a + (pi - a) cos a) / (2 pi)``, ``E[relu' relu'] = (pi - a) / (2 pi)``.
    """
    w2, b2, d = spec.w_std ** 2, spec.b_std ** 2, x1.shape[1]
    q1 = w2 * np.sum(x1 * x1, axis=1) / d + b2                  # diagonal of the pre-activation kernel
    q2 = w2 * np.sum(x2 * x2, axis=1) / d + b2
    k = w2 * (x1 @ x2.T) / d + b2
    theta = k.copy()
    for layer in range(spec.depth):
        s2 = w2 if layer < spec.depth - 1 else spec.head_std ** 2
        norm = np.sqrt(np.outer(q1, q2))
        # A zero-variance pre-activation (zero input, no bias) is a constant 0: its ReLU
        # covariance is 0 whatever the angle, so any cosine works; 0 avoids 0/0.
        cos = np.clip(np.divide(k, norm, out=np.zeros_like(k), where=norm > 0), -1.0, 1.0)
        angle = np.arccos(cos)
        e = norm * (np.sqrt(1.0 - cos * cos) + (np.pi - angle) * cos) / (2 * np.pi)
        edot = (np.pi - angle) / (2 * np.pi)
        k = s2 * e + b2
        theta = s2 * theta * edot + k
        q1, q2 = s2 * q1 / 2 + b2, s2 * q2 / 2 + b2
    return theta, k


@functools.lru_cache(maxsize=32)
def _nt_kernel_fn(spec: MLPSpec):
    import jax

    _, _, kernel_fn = spec.replace(width=1).stax()  # width is irrelevant to the analytic kernel
    return jax.jit(kernel_fn, static_argnames="get")


def _nt_block(spec: MLPSpec, x1: np.ndarray, x2: np.ndarray):
    from jax.experimental import enable_x64

    with enable_x64():
        out = _nt_kernel_fn(spec)(x1, x2, get=("ntk", "nngp"))
        return np.asarray(out.ntk, dtype=np.float64), np.asarray(out.nngp, dtype=np.float64)


# ------------------------------------------------------------------------ finite nets
def empirical(spec: MLPSpec, params, x1, x2=None, *, head2=None) -> Kernels:
    """Empirical ``Theta`` and ``Sigma`` of the finite net ``params``, averaged over outputs.

    Uses the exact layer-wise form of an MLP's NTK,
    ``Theta(x, x') = sum_l [s_l^2 / n_{l-1} <a_{l-1}(x), a_{l-1}(x')> + b^2] <delta_l(x), delta_l(x')>``
    with ``delta_l = df / dh_l`` (back-propagated by hand, cheap at any width).  With
    ``head2`` the second argument is read out by another head: the cross-head kernel of
    two task heads on one body (multi-task learning with independent heads); then
    ``sigma`` is zero because the two heads share no parameter.

    Returns: :class:`Kernels` of shape ``(n1, n2)`` in the dtype of ``params`` (trace over
    outputs divided by ``out_dim``, as neural-tangents' ``trace_axes=(-1,)`` then mean).
    """
    import jax.numpy as jnp

    x2 = x1 if x2 is None else x2
    acts1, deltas1 = _forward_backward(spec, params["body"], params["head"], x1)
    acts2, deltas2 = _forward_backward(spec, params["body"], params["head"] if head2 is None else head2, x2)
    b2 = spec.b_std ** 2
    theta_body = 0.0
    for l in range(spec.depth):
        a1, a2 = acts1[l], acts2[l]
        scale = (spec.w_std ** 2) / a1.shape[-1]
        dd = jnp.einsum("ick,jck->ij", deltas1[l], deltas2[l]) / spec.out_dim
        theta_body = theta_body + (scale * a1 @ a2.T + b2) * dd
    last1, last2 = acts1[-1], acts2[-1]
    sigma = (spec.head_std ** 2) * last1 @ last2.T / last1.shape[-1] + b2
    if head2 is not None:
        sigma = jnp.zeros_like(sigma)
    return Kernels(np.asarray(theta_body + sigma), np.asarray(sigma))


def _forward_backward(spec: MLPSpec, body, head, x):
    """Layer inputs ``a_0..a_L`` and ``delta_l = df_c/dh_l`` of shape ``(n, width, k)``."""
    import jax.numpy as jnp

    acts, pre = [x], []
    for w, b in body:
        h = (spec.w_std / np.sqrt(w.shape[0])) * (acts[-1] @ w) + spec.b_std * b
        pre.append(h)
        acts.append(jnp.maximum(h, 0.0))
    w_head = head[0]
    grad_a = jnp.broadcast_to((spec.head_std / np.sqrt(w_head.shape[0])) * w_head, (x.shape[0],) + w_head.shape)
    deltas = [None] * spec.depth
    for l in reversed(range(spec.depth)):
        deltas[l] = grad_a * (pre[l] > 0)[..., None]
        w = body[l][0]
        grad_a = (spec.w_std / np.sqrt(w.shape[0])) * jnp.einsum("ij,njk->nik", w, deltas[l])
    return acts, deltas
