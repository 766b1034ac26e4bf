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
    """``theta`` (NTK) and ``sigma`` (head part = NNGP), both ``(n1, n2)`` float64 (``(n,)`` from a diagonal)."""

    theta: np.ndarray
    sigma: np.ndarray

    @property
    def theta_body(self) -> np.ndarray:
        """``Theta - Sigma``: the contribution of every parameter below the head."""
        return self.theta - self.sigma
