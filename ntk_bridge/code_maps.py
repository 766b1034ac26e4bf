"""JAX's compiled programs against the kernel's limit on memory mappings per process.

Every program XLA compiles for the CPU keeps its machine code in memory mappings of its
own, and JAX keeps every compiled program alive in its caches for the life of the process.
Linux caps the mappings of one process (``vm.max_map_count``, 65,530 by default); when a
compilation needs one more, the mapping fails inside XLA's code loader and the process dies
with a segmentation fault in ``backend_compile_and_load``.

With jaxlib 0.4.30 a finite-width fit costs 20-70 mappings per new shape; with jaxlib
0.10.2 it costs 500-2,600 (each fused kernel is loaded on its own: measured, depth 2,
width 16-32, ``fit_predict`` MTL / ANIL / MAML).  A process that trains nets of some 30
shapes, or the test suite run in one process, then crosses the limit.  That was the
"unexplained XLA crash" of the one-process test suite on the newest JAX (it crashed at
65,131 mappings).

``ensure_headroom`` keeps the process below a fraction of the limit by dropping JAX's
compilation caches (``jax.clear_caches``) when it is crossed: the next call of each program
compiles it again (seconds), instead of the process dying.  The library calls it before
each finite-width fit and each empirical kernel; call it yourself in a loop that compiles
many programs of your own.  Where ``/proc`` is absent (not Linux) it does nothing.
"""
from __future__ import annotations

import gc

MAPS = "/proc/self/maps"
LIMIT = "/proc/sys/vm/max_map_count"
FRACTION = 0.5   # clear the caches past half the limit: one fit adds at most ~3,000 mappings
_cleared = 0     # how many times this process cleared JAX's caches (diagnostics)


def mapping_count() -> int | None:
    """The number of memory mappings of this process (lines of ``/proc/self/maps``); ``None`` if unknown.

    Returns:
      ``int`` (the newline count of ``MAPS``, read in 1 MiB chunks), or ``None`` where ``MAPS`` cannot be
      read (no ``/proc``: not Linux).

    Examples:
        >>> from ntk_bridge import code_maps
        >>> n = code_maps.mapping_count()
        >>> n is None or (isinstance(n, int) and n > 0)
        True
    """
    try:
        with open(MAPS, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except OSError:
        return None


def mapping_limit() -> int | None:
    """The kernel's per-process limit ``vm.max_map_count``; ``None`` if unknown.

    Returns:
      ``int`` read from ``LIMIT`` (``/proc/sys/vm/max_map_count``, 65,530 by default), or ``None`` where it
      cannot be read or is not an integer.

    Examples:
        >>> from ntk_bridge import code_maps
        >>> limit = code_maps.mapping_limit()
        >>> limit is None or (isinstance(limit, int) and limit > 0)
        True
    """
    try:
        with open(LIMIT) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def ensure_headroom(fraction: float = FRACTION) -> bool:
    """Drop JAX's compilation caches if this process holds more than ``fraction`` of its mapping limit.

    Clears (``jax.clear_caches()``, then ``gc.collect()``) when ``mapping_count() > fraction *
    mapping_limit()``; does nothing where either is unknown (``None``).  Results are unchanged
    (programs are recompiled on their next call); only compile time is spent again.  JAX is
    imported only when the caches are cleared.

    Args:
      fraction: the share of ``vm.max_map_count`` above which the caches are dropped (default
        ``FRACTION`` = 0.5); not validated: ``1.0`` or more never clears, ``0`` always does (on Linux).

    Returns:
      ``True`` when it cleared the caches (and counted it in ``times_cleared``), else ``False``.

    Examples:
        A process never holds more mappings than its limit, so ``fraction=1.0`` leaves the caches alone:

        >>> from ntk_bridge import code_maps
        >>> before = code_maps.times_cleared()
        >>> code_maps.ensure_headroom(1.0), code_maps.times_cleared() == before
        (False, True)
    """
    global _cleared
    count, limit = mapping_count(), mapping_limit()
    if count is None or limit is None or count <= fraction * limit:
        return False
    import jax

    jax.clear_caches()
    gc.collect()
    _cleared += 1
    return True


def times_cleared() -> int:
    """How many times ``ensure_headroom`` cleared JAX's caches in this process.

    Returns:
      ``int >= 0`` (diagnostics: 0 in a process that never neared its mapping limit).

    Examples:
        >>> from ntk_bridge import code_maps
        >>> n = code_maps.times_cleared()
        >>> isinstance(n, int) and n >= 0
        True
    """
    return _cleared
