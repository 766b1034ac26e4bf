"""Shared test helpers: one tolerance table keyed by dtype, a relative-Frobenius error, fixtures.

Other test modules import these directly (``from conftest import TOL, rel_err``).

neural-tangents is optional (the ``nt`` extra, pinned stack only).  A test that needs it
asks for the ``nt`` fixture (the ``neural_tangents`` module) or carries
``@pytest.mark.nt``; either way it is skipped, with the reason and the install command,
where neural-tangents cannot be imported (e.g. on the newest JAX).
"""
import os

import numpy as np
import pytest

NT_SKIP_REASON = ('needs neural-tangents (the "nt" extra, pinned stack): '
                  'pip install -c constraints.txt "ntk-bridge[nt]"')


def _nt_module():
    try:
        import neural_tangents
    except ImportError:  # not installed, or installed but incompatible with this JAX
        return None
    return neural_tangents


def pytest_runtest_setup(item):
    if item.get_closest_marker("nt") is not None and _nt_module() is None:
        pytest.skip(NT_SKIP_REASON)


@pytest.fixture
def nt():
    """The ``neural_tangents`` module; the test is skipped (with the install command) without it."""
    module = _nt_module()
    if module is None:
        pytest.skip(NT_SKIP_REASON)
    return module

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
    from ntk_bridge.precision import x64

    with x64():
        yield


@pytest.fixture
def rng():
    """A fresh seeded NumPy generator per test."""
    return np.random.default_rng(0)


@pytest.fixture
def read_only(monkeypatch):
    """``read_only(folder)``: nothing under ``folder`` can be created, replaced or renamed.

    ``chmod`` does it for a normal user; root ignores permissions, so ``os.replace`` (the
    last step of every atomic write and of moving a record aside) refuses as well.
    """
    frozen = []
    true_replace = os.replace

    def guarded_replace(src, dst, *a, **kw):
        if any(str(p).startswith(str(f)) for f in frozen for p in (src, dst)):
            raise PermissionError(13, "Permission denied", str(dst))
        return true_replace(src, dst, *a, **kw)

    def freeze(folder):
        for d in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
            d.chmod(0o555)
        frozen.append(folder)

    monkeypatch.setattr(os, "replace", guarded_replace)
    yield freeze
    for folder in frozen:
        for d in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
            d.chmod(0o755)
