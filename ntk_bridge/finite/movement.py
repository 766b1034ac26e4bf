"""How far training moved a net away from its initialization (theory.md §12).

``feature_movement = mean_x ||phi_T(x) - phi_0(x)|| / ||phi_0(x)||`` over points ``x``, with ``phi`` the last
hidden features (``spec.features``) of the initial and the trained body.  In the NTK parameterization at a
fixed learning rate the features move by ``O(n^-1/2)`` (the lazy regime the closed forms describe); a
parameterization that learns features keeps it ``Theta(1)`` in width.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def feature_movement(spec, body0, body, x) -> float:
    """Mean over the rows of ``x`` ``(points, dim)`` of ``||phi(body, x) - phi(body0, x)|| / ||phi(body0, x)||``.

    Points whose initial features are all zero (a dead ReLU layer) are left out; ``nan`` if every one is.
    Computed in the dtype of ``body0`` (the training's), reduced in float64.
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
