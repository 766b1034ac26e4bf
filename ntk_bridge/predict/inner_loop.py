"""The inner loop: ``Adaptation`` and its operator ``T(K; lr, s)`` (theory.md §2).

Adapting a linearized model with kernel ``K`` on a support set ``(X, Y)`` from the function
``f`` gives ``f + K(., X) T (Y - f(X))`` with::

    T = K^-1 (I - (I - lr K)^s)          s gradient steps of size lr
    T = K^-1 (I - exp(-lr s K))          gradient flow for time lr * s   (flow=True)

computed from the eigendecomposition ``K = V diag(e) V^T`` as ``T = V diag(g(e)) V^T``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import validate
from ..errors import NotComputable
from .device import array_module, einsum


@dataclasses.dataclass(frozen=True)
class Adaptation:
    """Inner loop: ``steps`` gradient steps of size ``lr`` on ``0.5 * sum sq. err``.

    ``flow=True`` replaces the steps by gradient flow for time ``lr * steps``.  Any numeric
    form is accepted (``np.float32(0.1)``, ``np.int64(5)``, 0-d JAX arrays) and stored as a
    plain ``float``/``int``/``bool``, so adaptations hash, compare and serialize as usual.

    Attributes:
      lr: step size ``> 0`` of the inner loop (default 0.5).
      steps: number of gradient steps ``s >= 1`` (default 5); with ``flow`` only ``lr * steps`` matters.
      flow: ``True`` for gradient flow for time ``lr * steps`` instead of discrete steps (default ``False``).

    Raises:
      ValueError: naming the field: ``lr`` not positive, ``steps`` not an integer ``>= 1``, ``flow`` not a flag.

    Examples:
        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> nb.Adaptation(lr=np.float32(0.25), steps=np.int64(4))
        Adaptation(lr=0.25, steps=4, flow=False)
        >>> nb.Adaptation(lr=0.25, steps=4).time
        1.0
        >>> nb.Adaptation(lr=-1.0)
        Traceback (most recent call last):
        ...
        ValueError: Adaptation.lr must be a finite number > 0, got -1.0
    """

    lr: float = 0.5
    steps: int = 5
    flow: bool = False

    def __post_init__(self):
        object.__setattr__(self, "lr", validate.positive("Adaptation.lr", self.lr))
        object.__setattr__(self, "steps", validate.integer("Adaptation.steps", self.steps, 1))
        object.__setattr__(self, "flow", validate.flag("Adaptation.flow", self.flow))

    @property
    def time(self) -> float:
        """Total inner-loop time ``lr * steps``."""
        return float(self.lr * self.steps)


def inner_operator(k, adapt: Adaptation):
    """``T = K^-1 (I - (I - lr K)^steps)`` (or ``K^-1 (I - exp(-lr steps K))`` for flow).

    Eigen-form ``T = V g(E) V^T`` with ``g(e) = -expm1(s log1p(-lr e)) / e`` (discrete,
    ``steps_gain``) or ``-expm1(-s lr e) / e`` (flow, ``flow_gain`` at time ``lr s``),
    ``g(0) = lr s``: defined for a singular ``K`` and accurate whatever ``s``, since the argument
    that matters is ``s lr e``, not ``lr e``.

    Args:
      k: ``(..., n, n)`` symmetric, batched over leading axes.  A NumPy array is processed by
        NumPy; a JAX array by ``jax.numpy`` on its device (pass float64 under ``precision.x64()``).
      adapt: the inner loop.
    Returns:
      ``T``, same shape and array kind as ``k``.
    Raises:
      NotComputable: for discrete steps with ``lr * e_max > 2`` (the inner loop diverges), or
        a non-finite ``k`` or ``T``.
      ValueError: bad shapes or ``adapt``.

    Examples:
        ``K T = I - (I - lr K)^s``, checked against the matrix power:

        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> k = np.array([[2.0, 0.5], [0.5, 1.0]])
        >>> t = nb.predict.inner_operator(k, nb.Adaptation(lr=0.3, steps=4))
        >>> bool(np.allclose(k @ t, np.eye(2) - np.linalg.matrix_power(np.eye(2) - 0.3 * k, 4)))
        True
        >>> nb.predict.inner_operator(k, nb.Adaptation(lr=1.5, steps=4))
        Traceback (most recent call last):
        ...
        ntk_bridge.errors.NotComputable: ...
    """
    validate.instance("adapt", adapt, Adaptation)
    xp = array_module(k)
    k = np.asarray(k, dtype=np.float64) if xp is np else k
    if k.ndim < 2 or k.shape[-1] != k.shape[-2]:
        raise ValueError(f"k must be (..., n, n), got shape {k.shape}")
    if not bool(xp.all(xp.isfinite(k))):
        raise NotComputable("the inner-loop kernel K(X, X) has non-finite entries (overflow in the kernels?); "
                            "rescale the inputs, e.g. to the unit sphere")
    e, v = xp.linalg.eigh(k)
    if adapt.flow:
        g = flow_gain(adapt.time, e)
    else:
        x = adapt.lr * e
        x_max = float(xp.max(x)) if x.size else 0.0
        if x_max > 2.0:
            raise NotComputable(
                f"inner loop diverges: lr * lambda_max = {x_max:.4g} > 2 for Adaptation(lr={adapt.lr}, "
                f"steps={adapt.steps}), so (1 - lr lambda)^steps grows; use lr < {2.0 * adapt.lr / x_max:.4g}, "
                f"or flow=True (large inputs make lambda_max large: rescale them, e.g. to the unit sphere)")
        g = adapt.lr * steps_gain(x, adapt.steps)
    if not bool(xp.all(xp.isfinite(g))):
        raise NotComputable(f"the inner-loop operator overflows: K(X, X) has eigenvalue {float(xp.min(e)):.3g} "
                            f"(an indefinite kernel); check the kernel function")
    return einsum(xp, "...ij,...j,...kj->...ik", v, g, v)


SATURATED = 746.0   # exp(-x) is 0 in float64 for x > 745.2: beyond it (1 - exp(-x)) / e is 1 / e exactly


def flow_gain(t: float, e):
    """``(1 - exp(-t e)) / e`` per eigenvalue ``e``, ``t`` at ``e = 0``: gradient flow for time ``t``.

    ``e``: real or complex (first-order MAML's ``Psi``), NumPy or JAX.  Where ``Re(t e) > SATURATED``
    the gain is ``1 / e`` exactly, so ``t`` up to the largest float reaches the ``t -> inf`` limit
    smoothly (``t e`` may overflow to ``inf`` there: it is replaced, never used).  ``T``'s flow
    eigenvalues are ``flow_gain(lr s, e)``; the outer solve's ``coef(t)`` uses ``flow_gain(t, e)``.
    """
    xp = array_module(e)
    with np.errstate(over="ignore"):   # t e = inf only where the gain is 1 / e (below)
        x = t * e
    zero = e == 0
    saturated = ~(x.real <= SATURATED)   # inf included
    es = xp.where(zero, 1.0, e)
    val = xp.where(saturated, 1.0 / es, -xp.expm1(-xp.where(saturated, 0.0, x)) / es)
    return xp.where(zero, t, val)


def steps_gain(x, s: int):
    """``(1 - (1 - x)^s) / x``, ``s`` at ``x = 0``: ``T``'s eigenvalues are ``lr * steps_gain(lr e, s)``.

    Written with ``expm1``/``log1p`` of ``s log1p(-x)`` so that no cancellation occurs for small
    ``x`` and any ``s``; for ``x >= 1`` (``1 - x <= 0``, steps that overshoot) the power is taken
    directly, with no cancellation there.  Works on NumPy and JAX arrays alike.
    """
    xp = array_module(x)
    zero = x == 0
    xs = xp.where(zero, 1.0, x)
    below = xs < 1.0
    safe = xp.where(below, xs, 0.5)  # log1p(-x) needs x < 1; the other branch is discarded
    val = xp.where(below, -xp.expm1(s * xp.log1p(-safe)) / xs, (1.0 - (1.0 - xs) ** s) / xs)
    return xp.where(zero, float(s), val)
