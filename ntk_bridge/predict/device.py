"""Where the closed forms' linear algebra runs: NumPy/SciPy, or JAX in float64 on a CPU or GPU.

``device`` is one of ``DEVICES``:

* ``"numpy"`` (the default): NumPy/SciPy LAPACK on the CPU, in place: the outer kernel is
  assembled in its lower triangle and factored where it lies (one ``(M, M)`` float64 array in
  all; LAPACK condition estimates).  No JAX needed.
* ``"cpu"`` and ``"gpu"``: JAX under ``precision.x64()`` with that device as the default
  device; eigendecompositions, Cholesky/LU solves and products run there.  JAX copies the
  host matrix to the device and works out of place (``jnp.linalg.cholesky`` symmetrizes its
  input), so it holds 3-4 ``(M, M)`` arrays at its peak.

Why NumPy is the CPU default: measured on the 2-core machine (AMD EPYC, 2026-11-23, heavily
loaded by other jobs, so upper bounds), ``benchmarks/predict_scaling.py`` at 300 training
tasks took 42-63 s / 0.41-0.43 GB peak RSS (ANIL) and 49-68 s / 0.62-0.65 GB (MTL) on the
NumPy path against 105 s / 0.79 GB and 154 s / 1.16 GB on the JAX-CPU path (the 2026-11-22
measurement on a 6000 x 6000 MTL kernel: 15-19 s vs 30-37 s); at 2,000 tasks the JAX path's
copies of the 30,000 x 30,000 meta-NTK (7.2 GB each) do not fit in 16 GB at all.

Both paths compute the same float64 quantities and agree to ~1e-10 relative (tested).
Kernels are evaluated by the kernel function (NumPy in, NumPy out), the outer kernels are
assembled on the host (``.assembly``) and moved to the device once.  The non-symmetric
eigendecomposition (first-order MAML only) always runs on the host
through NumPy: JAX has no GPU ``eig`` on every supported version.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import sys
from typing import Any

import numpy as np

from .. import precision, validate

DEVICES = ("cpu", "gpu", "numpy")


@dataclasses.dataclass(frozen=True)
class Backend:
    """An array module ``xp`` (``numpy`` or ``jax.numpy``) and the JAX device (``None`` for NumPy)."""

    name: str
    xp: Any
    device: Any = None

    @property
    def is_numpy(self) -> bool:
        return self.device is None

    @contextlib.contextmanager
    def scope(self):
        """Run the body in float64 on this backend's device (a no-op for NumPy)."""
        if self.is_numpy:
            yield
            return
        import jax

        with precision.x64(), jax.default_device(self.device):
            yield

    def put(self, a):
        """``a`` as a float64 array of this backend (call inside ``scope``)."""
        if self.is_numpy:
            return np.asarray(a, dtype=np.float64)
        import jax

        if isinstance(a, jax.Array):
            return jax.device_put(a.astype(np.float64), self.device)
        return jax.device_put(np.asarray(a, dtype=np.float64), self.device)


def host(a) -> np.ndarray:
    """Any array as a NumPy float64 array."""
    return np.asarray(a, dtype=np.float64)


def array_module(a):
    """``jax.numpy`` for a JAX array, ``numpy`` otherwise (arrays stay where they are)."""
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(a, jax.Array):
        return jax.numpy
    return np


@functools.lru_cache(maxsize=None)
def _backend(name: str) -> Backend:
    if name == "numpy":
        return Backend("numpy", np)
    import jax
    import jax.numpy as jnp

    try:
        dev = jax.devices(name)[0]
    except RuntimeError:
        raise ValueError(f"device={name!r}, but JAX sees no {name.upper()} (devices: "
                         f"{', '.join(sorted({d.platform for d in jax.devices()}))}); "
                         f"use device='cpu' or device='numpy'") from None
    return Backend(name, jnp, dev)


def backend(device: str) -> Backend:
    """The ``Backend`` for ``device`` (one of ``DEVICES``).

    Raises:
      ValueError: naming ``device`` for an unknown name, or ``"gpu"`` where JAX sees none.
    """
    return _backend(validate.choice("device", device, DEVICES))


def einsum(xp, subscripts: str, *operands):
    """``xp.einsum`` with contraction-order optimization (NumPy then uses BLAS, not C loops)."""
    return xp.einsum(subscripts, *operands, optimize=True)
