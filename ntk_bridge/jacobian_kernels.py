"""Empirical kernels of a finite net from its parameter Jacobians (nets without a layer-wise form: conv nets).

For a net ``f(x) = head(features(body, x))`` with ``k`` outputs and a linear head,::

    Theta(x, x') = (1/k) sum_c J_c(x) J_c(x')^T          J_c = d f_c / d(body, head)
    Sigma(x, x') = m_head^2 phi(x) . phi(x') + b_std^2      (the head's part, exact; F = feature_dim)

with ``m_head`` the head's multiplier (``head_std / sqrt(F)`` in the NTK parameterization and for conv
nets; ``MLPSpec.multiplier`` of the head under the others), and ``Theta = Theta_body + Sigma`` with ``Theta_body`` the body Jacobians' part, computed by ``jax.jacrev``
over chunks of ``CHUNK`` points (memory ``CHUNK k |body|`` per chunk, each pair of chunks contracted
once).  ``ntk_bridge.kernels.empirical`` dispatches here for a ``ConvSpec``; an
MLP has a faster hand-written form there, and the two agree (tests).
"""
from __future__ import annotations

import functools

import numpy as np

from .kernel_values import Kernels

CHUNK = 32   # points per Jacobian chunk


def empirical(spec, params, x1, x2=None, *, head2=None, chunk: int = CHUNK) -> Kernels:
    """Empirical ``Theta`` and ``Sigma`` of the finite net ``params = {"body", "head"}`` on ``x1 (n1, d)``,
    ``x2 (n2, d)``, averaged over outputs, in the dtype of ``params``.  With ``head2`` the second argument is
    read out by another head (the cross-head kernel of two task heads on one body): ``sigma`` is zero.

    ``Theta = (1/k) sum_c J_c(x1) J_c(x2)^T`` over the body's parameters (``jax.jacrev``, ``chunk`` points at
    a time), plus ``Sigma = m_head^2 phi(x1) . phi(x2) + b_std^2`` for the head's (the module docstring),
    ``m_head`` the multiplier of the head ``spec.head_apply`` applies.

    Args:
      spec: the architecture: a ``ConvSpec`` (with ``image_shape``), or an ``MLPSpec`` of any parameterization.
      params: the net's parameters ``{"body": [...], "head": (W, b)}`` (``spec.init``).
      x1: inputs ``(n1, d)``, flat rows (a ``ConvSpec`` reads them through its ``image_shape``).
      x2: inputs ``(n2, d)``; ``None`` means ``x2 = x1``.
      head2: another head ``(W, b)`` reading out ``x2``; ``None``: ``params["head"]``.
      chunk: points per Jacobian evaluation (memory ``chunk * k * |body|`` floats per chunk).

    Returns:
      ``Kernels`` ``(theta, sigma)``, each ``(n1, n2)`` NumPy arrays in the dtype of ``params``.

    Examples:
      For an MLP it agrees with the hand-written layer-wise form of ``ntk_bridge.kernels.empirical``:

      >>> import jax, numpy as np, ntk_bridge as nb
      >>> from ntk_bridge import jacobian_kernels
      >>> spec = nb.MLPSpec(depth=2, width=32, out_dim=2)
      >>> params = spec.init(jax.random.PRNGKey(0), in_dim=3)
      >>> x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
      >>> k = jacobian_kernels.empirical(spec, params, x, x[:2], chunk=2)
      >>> k.theta.shape, k.theta.dtype
      ((5, 2), dtype('float32'))
      >>> ref = nb.kernels.empirical(spec, params, x, x[:2])
      >>> bool(np.allclose(k.theta, ref.theta, rtol=1e-4)), bool(np.allclose(k.sigma, ref.sigma, rtol=1e-4))
      (True, True)

      A conv net (no layer-wise form): ``nb.kernels.empirical`` dispatches here.

      >>> conv = nb.ConvSpec(depth=1, channels=4, image_shape=(4, 4, 1))
      >>> cp = conv.init(jax.random.PRNGKey(0), in_dim=16)
      >>> imgs = np.random.default_rng(1).standard_normal((3, 16)).astype(np.float32)
      >>> kc = jacobian_kernels.empirical(conv, cp, imgs)
      >>> kc.theta.shape, bool(np.allclose(kc.theta, kc.theta.T, rtol=1e-5))
      ((3, 3), True)
    """
    import jax.numpy as jnp

    x2 = x1 if x2 is None else x2
    head1 = params["head"]
    head2_ = head1 if head2 is None else head2
    x1, x2 = jnp.asarray(x1), jnp.asarray(x2)
    jac = _body_jacobian(spec)
    blocks2 = [jac(params["body"], head2_, x2[j:j + chunk]) for j in range(0, x2.shape[0], chunk)]
    rows = []
    for i in range(0, x1.shape[0], chunk):
        a = jac(params["body"], head1, x1[i:i + chunk])
        rows.append(jnp.concatenate([_contract(a, b) for b in blocks2], axis=1))
    theta_body = jnp.concatenate(rows, axis=0) / spec.out_dim
    phi1, phi2 = spec.features(params["body"], x1), spec.features(params["body"], x2)
    fan_in = phi1.shape[-1]  # the head's weight gradient is m_head * phi: NTK and ConvSpec m = head_std / sqrt(fan_in)
    m_head = spec.multiplier(spec.depth, fan_in) if hasattr(spec, "multiplier") else spec.head_std / np.sqrt(fan_in)
    sigma = m_head ** 2 * phi1 @ phi2.T + spec.b_std ** 2
    if head2 is not None:
        sigma = jnp.zeros_like(sigma)
    return Kernels(np.asarray(theta_body + sigma), np.asarray(sigma))


@functools.lru_cache(maxsize=32)
def _body_jacobian(spec):
    """``jit((body, head, x (n, d)) -> [J leaf (n, k, size)])``: the body Jacobian of every output, flat per leaf."""
    import jax

    def one(body, head, x):
        return spec.head_apply(head, spec.features(body, x[None]))[0]

    def fn(body, head, x):
        jac = jax.vmap(jax.jacrev(one), in_axes=(None, None, 0))(body, head, x)
        return [leaf.reshape(leaf.shape[:2] + (-1,)) for leaf in jax.tree_util.tree_leaves(jac)]

    return jax.jit(fn)


@functools.lru_cache(maxsize=1)
def _contractor():
    import jax
    import jax.numpy as jnp

    return jax.jit(lambda a, b: sum(jnp.einsum("ikp,jkp->ij", u, v) for u, v in zip(a, b)))


def _contract(a, b):
    """``sum over leaves and outputs of J_a J_b^T``: ``(n_a, n_b)``."""
    return _contractor()(a, b)
