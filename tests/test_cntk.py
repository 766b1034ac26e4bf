"""The CNTK of a ConvSpec (theory.md §11, ``ntk_bridge.cntk``).

Checks: (1) neural-tangents' ``stax.Conv``/``Relu``/``GlobalAvgPool``/``Flatten`` kernel function (pinned
stack) to 1e-9 for depths 1-4, both poolings, with and without bias, on digit images, both for two image
sets and for one (the symmetric kernel's diagonal has the cosine 1 exactly); (2) on both stacks, identities
that need no neural-tangents: a 1x1 image is a dense layer, so a one-pixel ConvSpec is the MLP kernel of
its channel vector; the flattened kernel's diagonal is the exact recursion of the variances; the symmetric
kernel is the two-set kernel off its diagonal, whatever the tiling; (3) empty windows (zero images) give
finite kernels; (4) bad inputs and overflow raise ValueError naming what is wrong.
"""
from __future__ import annotations

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import cntk, metrics
from ntk_bridge.kernels import kernels


def _digits(start, n):
    from sklearn.datasets import load_digits

    return load_digits().images[start:start + n, :, :, None] / 16.0


X, Y = _digits(0, 6), _digits(100, 4)


@pytest.mark.parametrize("pool", ["gap", "flatten"])
@pytest.mark.parametrize("b_std", [0.0, 0.3])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_native_equals_neural_tangents(depth, pool, b_std):
    pytest.importorskip("neural_tangents")
    spec = nb.ConvSpec(depth=depth, pool=pool, b_std=b_std)
    for x2 in (Y, None):
        ours, ref = cntk.kernels(spec, X, x2), cntk.kernels(spec, X, x2, backend="nt")
        assert metrics.rel_gap(ours.theta, ref.theta) < 1e-9 and metrics.rel_gap(ours.sigma, ref.sigma) < 1e-9
    assert metrics.rel_gap(ours.theta, ours.sigma) > 0.1          # the body's part is there


def test_one_pixel_conv_net_is_a_dense_net():
    """On 1x1 images a SAME conv with an f x f filter sees one pixel: a dense layer on the C channels with fan-in
    f^2 C, i.e. weight std w_std / f, and both poolings are the identity; so the ConvSpec's kernel is the MLP
    kernel of the channel vectors with hidden weight std w_std / f (every conv layer sees one pixel)."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 1, 1, 3)), rng.standard_normal((4, 1, 1, 3))
    for f in (1, 3):
        mlp = kernels(nb.MLPSpec(depth=3, w_std=2 ** 0.5 / f, b_std=0.2), x[:, 0, 0], y[:, 0, 0])
        for pool in ("gap", "flatten"):
            conv = cntk.kernels(nb.ConvSpec(depth=3, filter=f, pool=pool, b_std=0.2), x, y)
            assert metrics.rel_gap(conv.theta, mlp.theta) < 1e-12 and metrics.rel_gap(conv.sigma, mlp.sigma) < 1e-12


def test_flattened_diagonal_is_the_variance_recursion():
    """Flattening pairs each pixel with itself, so on the diagonal every cosine is 1: Kdot = 1/2, Ktilde = q/2, and
    theta(x, x) = head^2 mean_p(Theta_L / 2) + sigma(x, x) with Theta_{l+1} = w^2/f^2 box(Theta_l / 2) + q_{l+1}."""
    spec = nb.ConvSpec(depth=3, pool="flatten", b_std=0.3)
    k = cntk.kernels(spec, X)
    q = cntk._variances(spec, X)
    theta = q[0]
    for l in range(1, spec.depth):
        theta = 2.0 / 9 * cntk._box(theta / 2, 1, cntk._ONE) + q[l]
    sigma = (q[-1] / 2).mean(axis=(1, 2)) + 0.09
    assert np.allclose(np.diag(k.sigma), sigma, rtol=1e-14) and np.allclose(np.diag(k.theta),
                                                                            (theta / 2).mean(axis=(1, 2)) + sigma,
                                                                            rtol=1e-14)


def test_zero_windows_are_finite():
    """Zero images and zero borders (digits with normalize='none' have them): no 0/0 anywhere."""
    x = np.concatenate([np.zeros((1, 8, 8, 1)), _digits(0, 2)])
    for pool in ("gap", "flatten"):
        k = cntk.kernels(nb.ConvSpec(depth=3, pool=pool), x)
        assert np.all(np.isfinite(k.theta)) and np.all(k.theta[0] == 0) and k.theta[1, 1] > 0
        try:
            ref = cntk.kernels(nb.ConvSpec(depth=3, pool=pool), x, backend="nt")
        except ModuleNotFoundError:
            continue
        assert metrics.rel_gap(k.theta, ref.theta) < 1e-9


def test_flat_rows_and_images_agree_and_bad_input():
    spec = nb.ConvSpec(depth=2, image_shape=(8, 8, 1))
    assert np.array_equal(cntk.kernels(spec, X.reshape(6, -1)).theta, cntk.kernels(spec, X).theta)
    with pytest.raises(ValueError, match="x1 must be images"):
        cntk.kernels(nb.ConvSpec(), X.reshape(6, -1))
    with pytest.raises(ValueError, match="x2 has images of shape"):
        cntk.kernels(nb.ConvSpec(), X, np.zeros((2, 4, 4, 1)))
    with pytest.raises(ValueError, match="x1 contains NaN"):
        cntk.kernels(nb.ConvSpec(), np.full((2, 4, 4, 1), np.nan))
    with pytest.raises(ValueError, match="backend"):
        cntk.kernels(nb.ConvSpec(), X, backend="torch")
    with pytest.raises(ValueError, match="block_size"):
        cntk.kernels(nb.ConvSpec(), X, block_size=0)
    with pytest.raises(ValueError, match="overflow"):
        cntk.kernels(nb.ConvSpec(), X * 1e160)


@pytest.mark.parametrize("pool", ["gap", "flatten"])
def test_symmetric_kernel_is_the_two_set_kernel_whatever_the_tiling(pool):
    """Off its diagonal the symmetric kernel (each unordered pair once, mirrored) is the kernel between two
    sets, for any tile width; it is exactly symmetric; the body's part Theta - Sigma is a kernel of its own, so
    positive on the diagonal; kernels.kernels dispatches a ConvSpec here."""
    spec = nb.ConvSpec(depth=3, pool=pool, b_std=0.3)
    full = cntk.kernels(spec, X)
    assert np.array_equal(full.theta, full.theta.T) and np.array_equal(full.sigma, full.sigma.T)
    assert np.all(np.diag(full.theta) > np.diag(full.sigma))
    for block in (1, 2, 4):
        tiled = cntk.kernels(spec, X, block_size=block)
        assert metrics.rel_gap(tiled.theta, full.theta) < 1e-14 and metrics.rel_gap(tiled.sigma, full.sigma) < 1e-14
        cross = cntk.kernels(spec, X[:2], X[2:], block_size=block)
        assert metrics.rel_gap(cross.theta, full.theta[:2, 2:]) < 1e-14
        assert metrics.rel_gap(cross.sigma, full.sigma[:2, 2:]) < 1e-14
    assert np.array_equal(kernels(spec, X).theta, full.theta)


def test_benchmark_smoke():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[1] / "benchmarks" / "cntk_bench.py"
    spec = importlib.util.spec_from_file_location("cntk_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.main(["--images", "6", "--depth", "2", "--skip-nt"])
    assert [r["pool"] for r in out["native"]] == ["gap", "flatten"] and all(r["finite"] for r in out["native"])
