"""JAX's 64-bit mode, switched one way on every JAX version.

JAX >= 0.8 has ``jax.enable_x64(flag)`` as a context manager; the older
``jax.experimental.enable_x64/disable_x64`` managers are gone from JAX 0.10.  Kernel algebra
and proof-grade checks run under ``x64()``; finite nets draw their parameters under
``x64(False)`` so one seed gives one net in both dtypes.
"""
from __future__ import annotations


def x64(enabled: bool = True):
    """Context manager: JAX computes in 64 bits inside (``enabled=False``: in 32 bits)."""
    import jax

    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(enabled)
    from jax.experimental import disable_x64, enable_x64

    return enable_x64() if enabled else disable_x64()
