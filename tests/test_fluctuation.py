"""The NTK's diagonal over initializations (``nb.finite.fluctuation``, theory.md §10)."""
import jax
import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge.finite import fluctuation as fl

X = np.random.default_rng(0).standard_normal(8)
X /= np.linalg.norm(X)


@pytest.fixture(scope="module")
def sample():
    """4,000 nets at L = 4, n = 32 (beta = 1/8): ``(nets, depth + 1)`` parts."""
    return fl.diagonal(nb.MLPSpec(depth=4, width=32), X, n_nets=4000, seed=3)


def test_parts_sum_to_the_jacobian_ntk():
    """Row sums are ``J J^T`` of the same nets (``nb.kernels.empirical``, an independent Jacobian computation)."""
    spec = nb.MLPSpec(depth=3, width=24, b_std=0.1)
    parts = fl.diagonal(spec, X, n_nets=3, seed=5)
    for i in range(3):
        params = spec.init(jax.random.fold_in(jax.random.PRNGKey(5), i), X.size)
        theta = nb.kernels.empirical(spec, params, X[None]).theta[0, 0]
        assert abs(parts[i].sum() - theta) <= 1e-5 * theta, (parts[i].sum(), theta)


def test_mean_is_the_infinite_width_kernel(sample):
    """``E[Theta(x,x)]`` equals the infinite-width ``Theta(x,x)`` exactly for bias-free ReLU nets: the
    sample mean is within 4 standard errors of it (false failure 6e-5); a head share off by 1/(L+1)
    (the kernel without the head) is > 15 standard errors away."""
    theta = sample.sum(1)
    exact = nb.kernels.kernels(nb.MLPSpec(depth=4), X[None]).theta[0, 0]
    se = theta.std(ddof=1) / np.sqrt(len(theta))
    assert abs(theta.mean() - exact) <= 4 * se, (theta.mean(), exact, se)
    assert abs(theta.mean() - exact * 4 / 5) > 15 * se


def test_head_part_follows_the_exact_law(sample):
    """``E[Theta_head^2] / E[Theta_head]^2 = (1 + 5/n)^L``: the measured log-ratio is within 4 bootstrap
    standard errors of it, and the linear-net law ``(1 + 2/n)^L`` (a ReLU's fourth moment forgotten) is
    excluded by more than 4."""
    head = sample[:, -1]
    measured = np.log(fl.moment_ratio(head))
    rng = np.random.default_rng(0)
    boot = [np.log(fl.moment_ratio(head[rng.integers(0, len(head), len(head))])) for _ in range(400)]
    se = np.std(boot)
    exact = np.log(fl.head_moment_ratio(4, 32))
    assert abs(measured - exact) <= 4 * se, (measured, exact, se)
    assert abs(measured - 4 * np.log(1 + 2 / 32)) > 4 * se


def test_batching_does_not_change_the_nets(monkeypatch):
    spec = nb.MLPSpec(depth=2, width=16)
    whole = fl.diagonal(spec, X, n_nets=5, seed=1)
    monkeypatch.setattr(fl, "MAX_BATCH_FLOATS", 2 * (8 * 16 + 16 * 16 + 16))   # batches of 2
    np.testing.assert_allclose(fl.diagonal(spec, X, n_nets=5, seed=1), whole, rtol=1e-6)


@pytest.mark.parametrize("kwargs,field", [(dict(x=np.zeros(8)), "x"), (dict(x=np.ones((2, 8))), "x"),
                                          (dict(n_nets=1), "n_nets"), (dict(seed=-1), "seed"),
                                          (dict(spec=nb.MLPSpec(depth=1, width=8, out_dim=2)), "out_dim")])
def test_bad_input_names_the_field(kwargs, field):
    args = dict(spec=nb.MLPSpec(depth=1, width=8), x=X, n_nets=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        fl.diagonal(args.pop("spec"), args.pop("x"), **args)
