"""How far training moved a net away from its initialization (theory.md §12).

``feature_movement = mean_x ||phi_T(x) - phi_0(x)|| / ||phi_0(x)||`` over points ``x``, with ``phi`` the last
hidden features (``spec.features``) of the initial and the trained body; ``kernel_movement = ||Theta_T -
Theta_0||_F / ||Theta_0||_F``, the empirical NTK (``nb.kernels.empirical``) on a probe set.  In the NTK
parameterization at a fixed learning rate both move by ``O(n^-1/2)`` (the lazy regime the closed forms
describe); a parameterization that learns features keeps them ``Theta(1)`` in width.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..kernels import empirical

PROBE_POINTS = 64  # the probe set of kernel_movement in a trained run's info: its first points


def feature_movement(spec, body0, body, x) -> float:
    """Mean over the rows of ``x`` ``(points, dim)`` of ``||phi(body, x) - phi(body0, x)|| / ||phi(body0, x)||``.

    Points whose initial features are all zero (a dead ReLU layer) are left out; ``nan`` if every one is.
    Computed in the dtype of ``body0`` (the training's), reduced in float64.

    Args:
      spec: the architecture (``MLPSpec`` or ``ConvSpec``; its ``features``).
      body0: the initial body, ``[(W, b)] * depth``.
      body: the trained body, same structure.
      x: inputs ``(points, dim)``.

    Returns:
      The mean relative movement, a Python float (``nan`` when every point's initial features are zero).

    Examples:
      ReLU is positively homogeneous: the first layer's weights times 3 (no biases) move every point's features
      by exactly twice their size.

      >>> import jax, numpy as np, ntk_bridge as nb
      >>> from ntk_bridge.finite.movement import feature_movement
      >>> spec = nb.MLPSpec(depth=2, width=32)
      >>> body = spec.init(jax.random.PRNGKey(0), in_dim=3)["body"]
      >>> (w, b), rest = body[0], body[1:]
      >>> x = np.random.default_rng(0).standard_normal((5, 3))
      >>> round(feature_movement(spec, body, [(3 * w, b), *rest], x), 5)
      2.0
    """
    dtype = jax.tree_util.tree_leaves(body0)[0].dtype
    x = jnp.asarray(np.asarray(x), dtype)
    phi0 = np.asarray(spec.features(body0, x), dtype=np.float64)
    phi = np.asarray(spec.features(body, x), dtype=np.float64)
    phi0, phi = phi0.reshape(len(x), -1), phi.reshape(len(x), -1)
    n0 = np.linalg.norm(phi0, axis=-1)
    live = n0 > 0
    if not live.any():
        return float("nan")
    return float(np.mean(np.linalg.norm(phi - phi0, axis=-1)[live] / n0[live]))


def kernel_movement(spec, params0, params, x) -> float:
    """``||Theta_T - Theta_0||_F / ||Theta_0||_F``: the empirical NTK of the nets ``params0`` (initial) and
    ``params`` (trained), ``{"body", "head"}``, on the rows of ``x`` ``(points, dim)``.

    Computed in the dtype of ``params0``, compared in float64.

    Args:
      spec: the architecture (``nb.kernels.empirical``).
      params0: the initial net ``{"body", "head"}``.
      params: the trained net, same structure.
      x: the probe points ``(points, dim)``.

    Returns:
      The relative movement, a Python float.

    Raises:
      ValueError: an empirical kernel that overflows the dtype (``nb.kernels.empirical``).

    Examples:
      Doubling every weight of a bias-free one-hidden-layer ReLU net multiplies each part of its NTK by 4
      (positive homogeneity), so the kernel moves by 3 times its size:

      >>> import jax, numpy as np, ntk_bridge as nb
      >>> from ntk_bridge.finite.movement import kernel_movement
      >>> spec = nb.MLPSpec(depth=1, width=32)
      >>> p0 = spec.init(jax.random.PRNGKey(0), in_dim=3)
      >>> x = np.random.default_rng(0).standard_normal((5, 3))
      >>> round(kernel_movement(spec, p0, jax.tree_util.tree_map(lambda a: 2 * a, p0), x), 4)
      3.0
      >>> kernel_movement(spec, p0, p0, x)
      0.0
    """
    dtype = jax.tree_util.tree_leaves(params0)[0].dtype
    x = jnp.asarray(np.asarray(x), dtype)
    theta0 = np.asarray(empirical(spec, params0, x).theta, dtype=np.float64)
    theta = np.asarray(empirical(spec, params, x).theta, dtype=np.float64)
    return float(np.linalg.norm(theta - theta0) / np.linalg.norm(theta0))
