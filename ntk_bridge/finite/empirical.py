"""Analyses of a finite net's empirical kernel beyond training: the cross-head kernel of MTL's independent heads."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import validate
from ..kernels import empirical
from ..precision import x64
from ..spec import MLPSpec
from .initial import draw_heads


def cross_head_kernel(spec: MLPSpec, x, *, seed: int = 0) -> dict:
    """Cross-head body kernel of two independently drawn heads on one body, relative to the same-head one.

    ``Theta_cross(x, x') = sum_{body params} df_1(x)/dp . df_2(x')/dp`` for heads ``w_1, w_2``
    (``nb.kernels.empirical`` with ``head2``); MTL with independent heads couples tasks only
    through it, and it vanishes like ``width^-1/2`` (theory.md §4).  Float64.

    The net is ``spec.init`` of the first of two keys ``PRNGKey(seed)`` splits into, the second head is
    drawn from the other (``draw_heads``), both in float32 and cast to float64.

    Args:
      spec: an ``MLPSpec`` (the empirical kernel's layer-wise form).
      x: inputs ``(n, d)``.
      seed: the draw, an int ``>= 0``.

    Returns:
      A dict: ``"cross"`` ``(n, n)`` float64 the cross-head body kernel, ``"body"`` ``(n, n)`` float64 the
      same-head ``Theta_body``, and ``"ratio"`` the float ``||cross||_F / ||body||_F``.

    Raises:
      ValueError: ``spec`` not an ``MLPSpec``, a negative ``seed``, or ``x`` not 2-d.

    Examples:
      >>> import numpy as np, ntk_bridge as nb
      >>> x = np.random.default_rng(0).standard_normal((4, 3))
      >>> r = nb.finite.cross_head_kernel(nb.MLPSpec(depth=2, width=4096), x, seed=0)
      >>> sorted(r), r["cross"].shape, r["cross"].dtype
      (['body', 'cross', 'ratio'], (4, 4), dtype('float64'))
      >>> bool(r["ratio"] < 0.1)                                # O(width^-1/2): the heads barely couple
      True
      >>> nb.finite.cross_head_kernel(nb.MLPSpec(depth=2, width=16), x[0])
      Traceback (most recent call last):
      ...
      ValueError: x must have shape (points, dim), got (3,)
    """
    validate.instance("spec", spec, MLPSpec)
    seed = validate.integer("seed", seed, 0)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (points, dim), got {x.shape}")
    with x64(False):
        key_init, key_head = jax.random.split(jax.random.PRNGKey(seed))
        p = spec.init(key_init, x.shape[1])
        head2 = jax.tree_util.tree_map(lambda a: a[0], draw_heads(spec, key_head, 1))
    with x64():
        p, head2 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), (p, head2))
        body = empirical(spec, p, x).theta_body
        cross = empirical(spec, p, x, head2=head2).theta
    return {"cross": np.asarray(cross), "body": np.asarray(body),
            "ratio": float(np.linalg.norm(cross) / np.linalg.norm(body))}
