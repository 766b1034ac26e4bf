"""The NTK's diagonal over random initializations: ``Theta(x, x) = ||d f(x) / d params||^2`` (theory.md §10).

Hanin & Nica (ICLR 2020) find for ReLU nets with He initialization and no bias
``E[Theta(x,x)^2] / E[Theta(x,x)]^2 ≃ exp(5 beta)``, ``beta = sum_l 1/n_l`` (``L/n`` at constant
width).  Where the 5 comes from is exact here: without biases, each hidden layer multiplies
``|h|^2`` by ``(2/n) sum_i relu(g_i)^2`` with ``g_i`` i.i.d. standard normal given the layer below,
whose second moment is ``1 + 5/n``; the head's part of the NTK is ``(head_std^2 / n) |h_L|^2``, so

    E[Theta_head^2] / E[Theta_head]^2 = (1 + 5/n)^L     (exactly, any x != 0)

(``head_moment_ratio``).  The body's parts also carry backward factors; what the whole
diagonal does is measured by ``diagonal``, one backward pass per net, batched over nets.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import validate
from ..spec import MLPSpec

MAX_BATCH_FLOATS = 2 ** 25   # parameters held at once by a batch of nets (x3 for gradients and work)


def head_moment_ratio(depth: int, width: int) -> float:
    """``E[Theta_head^2] / E[Theta_head]^2 = (1 + 5/width)^depth`` of a bias-free ReLU net (exact).

    Args:
      depth: the number of hidden layers ``L``.
      width: the hidden width ``n``.

    Returns:
      ``(1 + 5 / width) ** depth``, a float.

    Examples:
      >>> from ntk_bridge.finite.fluctuation import hanin_nica, head_moment_ratio
      >>> head_moment_ratio(2, 5)                                        # (1 + 5/5)^2
      4.0
      >>> round(head_moment_ratio(4, 1000), 4), round(hanin_nica(4, 1000), 4)    # wide: exp(5 L / n)
      (1.0202, 1.0202)
    """
    return (1.0 + 5.0 / width) ** depth


def hanin_nica(depth: int, width: int) -> float:
    """Hanin & Nica's ``exp(5 L / n)``, the second-moment ratio of ``Theta(x, x)`` up to their constants.

    Args:
      depth: the number of hidden layers ``L``.
      width: the hidden width ``n``.

    Returns:
      ``exp(5 * depth / width)``, a float.

    Examples:
      >>> from ntk_bridge.finite.fluctuation import hanin_nica
      >>> round(hanin_nica(1, 5), 4)                                     # e
      2.7183
    """
    return math.exp(5.0 * depth / width)


@functools.partial(jax.jit, static_argnums=0)
def _parts(spec: MLPSpec, keys, x):
    """``(nets, depth + 1)``: squared gradient norm of ``f(x)`` per body layer and the head, one net per key."""
    def one(key):
        params = spec.init(key, x.shape[-1])
        grads = jax.grad(lambda p: spec.apply(p, x)[0])(params)
        sq = lambda layer: sum(jnp.sum(g ** 2) for g in layer)
        return jnp.stack([sq(layer) for layer in grads["body"]] + [sq(grads["head"])])

    return jax.vmap(one)(keys)


def diagonal(spec: MLPSpec, x, *, n_nets: int, seed: int = 0, progress=None) -> np.ndarray:
    """``Theta(x, x)`` of ``n_nets`` independent initializations, split by layer: ``(n_nets, depth + 1)``.

    Column ``l < depth`` is body layer ``l``'s weights and bias, the last column the head; the row sums are
    ``Theta(x, x)``.  Net ``i`` is ``spec.init(fold_in(PRNGKey(seed), i))`` (float32, the finite engine's
    convention), so a result does not depend on how the nets are batched (at most ``MAX_BATCH_FLOATS``
    parameters at once).

    Args:
      spec: an ``MLPSpec`` with ``out_dim = 1``.
      x: one input, ``(dim,)``, finite and nonzero.
      n_nets: the number of initializations, ``>= 2``.
      seed: the base key ``PRNGKey(seed)``, an int ``>= 0``.
      progress: ``None``, or a callable called with the number of nets done after each batch.

    Returns:
      ``(n_nets, depth + 1)`` float64: per net, the squared gradient norm of ``f(x)`` per body layer, then the head.

    Raises:
      ValueError: ``spec`` not an ``MLPSpec``, ``n_nets < 2``, a negative ``seed``, ``x`` not one finite
        nonzero input, or ``spec.out_dim != 1``.

    Examples:
      Without biases the head's part is ``head_std^2 |phi(x)|^2 / width``, ``phi`` the net's last features:

      >>> import jax, numpy as np, ntk_bridge as nb
      >>> from ntk_bridge.finite.fluctuation import diagonal
      >>> spec, x = nb.MLPSpec(depth=2, width=16), np.array([0.6, -0.8, 0.0], np.float32)
      >>> d = diagonal(spec, x, n_nets=3, seed=0)
      >>> d.shape, d.dtype
      ((3, 3), dtype('float64'))
      >>> p = spec.init(jax.random.fold_in(jax.random.PRNGKey(0), 1), 3)          # net 1
      >>> phi = spec.features(p["body"], x)
      >>> bool(np.isclose(d[1, -1], float(phi @ phi) / spec.width, rtol=1e-5))
      True
    """
    validate.instance("spec", spec, MLPSpec)
    n_nets = validate.integer("n_nets", n_nets, 2)
    seed = validate.integer("seed", seed, 0)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1 or not np.all(np.isfinite(x)) or not np.any(x):
        raise ValueError(f"x must be one finite, nonzero input of shape (dim,), got shape {x.shape}")
    if spec.out_dim != 1:
        raise ValueError(f"spec.out_dim must be 1 (the diagonal of a scalar output's NTK), got {spec.out_dim}")
    n_params = x.size * spec.width + (spec.depth - 1) * spec.width ** 2 + spec.width
    batch = max(1, min(n_nets, MAX_BATCH_FLOATS // n_params))
    base = jax.random.PRNGKey(seed)
    out = []
    for start in range(0, n_nets, batch):
        stop = min(start + batch, n_nets)
        keys = jnp.stack([jax.random.fold_in(base, i) for i in range(start, start + batch)])  # one shape: one compile
        out.append(np.asarray(_parts(spec, keys, jnp.asarray(x)), dtype=np.float64)[: stop - start])
        if progress is not None:
            progress(stop)
    return np.concatenate(out)


def moment_ratio(theta) -> float:
    """``E[Theta^2] / E[Theta]^2 = 1 + Var / mean^2`` estimated from samples ``(n,)`` (population moments).

    Args:
      theta: samples of ``Theta(x, x)``, array-like (e.g. the row sums of ``diagonal``; any shape, all used).

    Returns:
      ``mean(theta^2) / mean(theta)^2``, a float (``>= 1``).

    Examples:
      >>> from ntk_bridge.finite.fluctuation import moment_ratio
      >>> moment_ratio([1.0, 3.0])                                       # mean(1, 9) / 2^2
      1.25
    """
    t = np.asarray(theta, dtype=np.float64)
    return float(np.mean(t ** 2) / np.mean(t) ** 2)
