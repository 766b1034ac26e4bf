"""What every kernel function returns: the pair ``Kernels(theta, sigma)``, and the backends that compute it.

Its own module so that the architectures' kernel modules (``.kernels`` for MLPs, ``.cntk`` for
conv nets, ``.jacobian_kernels`` for finite nets without a layer-wise form) share it without
importing one another in a cycle; ``.kernels`` re-exports both names.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

BACKENDS = ("nt", "native")


class Kernels(NamedTuple):
    """``theta`` (NTK) and ``sigma`` (head part = NNGP), both ``(n1, n2)`` float64 (``(n,)`` from a diagonal).

    A named pair: it unpacks as ``theta, sigma = k``.  Empirical kernels of a finite net
    (``ntk_bridge.kernels.empirical``) keep the dtype of its parameters.

    Attributes:
      theta: the NTK ``Theta(x1, x2)`` of every parameter, ``(n1, n2)`` (``(n,)`` for a diagonal).
      sigma: the head's part of it, the output NNGP ``Sigma(x1, x2)``, same shape (zero for a cross-head kernel).

    Examples:
      >>> import numpy as np
      >>> from ntk_bridge.kernel_values import Kernels
      >>> k = Kernels(theta=np.array([[3.0, 1.0], [1.0, 3.0]]), sigma=np.array([[1.0, 0.5], [0.5, 1.0]]))
      >>> k.theta_body                                   # Theta - Sigma: every parameter below the head
      array([[2. , 0.5],
             [0.5, 2. ]])
      >>> theta, sigma = k
      >>> theta is k.theta, k._fields
      (True, ('theta', 'sigma'))
    """

    theta: np.ndarray
    sigma: np.ndarray

    @property
    def theta_body(self) -> np.ndarray:
        """``Theta - Sigma``: the contribution of every parameter below the head."""
        return self.theta - self.sigma
