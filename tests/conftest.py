"""Shared test helpers: one tolerance table keyed by dtype, a relative-Frobenius error, fixtures.

Other test modules import these directly (``from conftest import TOL, rel_err``).
"""
import numpy as np
import pytest

# Relative Frobenius tolerance for one quantity computed two exact ways (an identity, two
# backends, a fast path against a slow one), by the dtype both sides are computed in.
# float64 leaves ~6 digits of headroom over round-off (1e-16 times depth-sized growth);
# float32 likewise over its 1e-7 epsilon.
TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}


def rel_err(a, b) -> float:
    """``||a - b||_F / ||b||_F`` (``b`` is the reference); ``||a||_F`` when ``b`` is zero.

    Raises ``ValueError`` on mismatched shapes (no silent broadcasting).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_err: shapes differ, {a.shape} vs {b.shape}")
    denom = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else float(np.linalg.norm(a))


@pytest.fixture
def x64():
    """Run the test body with JAX float64 enabled (restored afterwards)."""
    from jax.experimental import enable_x64

    with enable_x64():
        yield


@pytest.fixture
def rng():
    """A fresh seeded NumPy generator per test."""
    return np.random.default_rng(0)
