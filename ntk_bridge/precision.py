"""JAX's 64-bit mode, switched one way on every JAX version.

JAX >= 0.8 has ``jax.enable_x64(flag)`` as a context manager; the older
``jax.experimental.enable_x64/disable_x64`` managers are gone from JAX 0.10.  Kernel algebra
and proof-grade checks run under ``x64()``; finite nets draw their parameters under
``x64(False)`` so one seed gives one net in both dtypes.
"""
from __future__ import annotations


def x64(enabled: bool = True):
    """Context manager: JAX computes in 64 bits inside (``enabled=False``: in 32 bits).

    ``jax.enable_x64(enabled)`` where JAX has it (JAX >= 0.8), else
    ``jax.experimental.enable_x64()`` / ``disable_x64()``.  Nothing is switched until the block
    is entered, and the previous setting comes back when it is left; default dtypes inside
    follow the block (``float64``/``int64``, or ``float32``/``int32``).

    Args:
      enabled: ``True`` for 64-bit mode inside the block, ``False`` for 32-bit mode.

    Returns:
      A context manager for a ``with`` statement (JAX's own).

    Examples:
      >>> import jax.numpy as jnp
      >>> from ntk_bridge.precision import x64
      >>> with x64():
      ...     jnp.ones(2).dtype, jnp.arange(3).dtype
      (dtype('float64'), dtype('int64'))
      >>> with x64(False):
      ...     jnp.ones(2).dtype, jnp.zeros(1).astype(float).dtype
      (dtype('float32'), dtype('float32'))
    """
    import jax

    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(enabled)
    from jax.experimental import disable_x64, enable_x64

    return enable_x64() if enabled else disable_x64()
