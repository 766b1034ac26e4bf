"""Analytic kernels: two backends, closed-form diagonal, finite-width limit, fast paths, errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import ntk_bridge as nb
from conftest import TOL, rel_err
from ntk_bridge import precision
from ntk_bridge.kernels import diagonal, empirical, kernels

F64 = TOL[np.dtype(np.float64)]
DEPTHS = [1, 2, 4, 8, 16, 32]
# Coincident points outside the symmetric path go through arccos at cos = 1 - O(eps), whose
# angle error is ~sqrt(eps) ~ 1.5e-8 per layer (both backends; measured up to 1e-7 at L = 32).
ARCCOS_AT_ONE = 1e-6


@pytest.fixture
def x64():
    """JAX float64 inside the test (``precision.x64`` works on every JAX; conftest's needs JAX < 0.10)."""
    with precision.x64():
        yield


def _needs_nt():
    pytest.importorskip("neural_tangents", reason="the nt extra (neural-tangents) is not installed")


def _points(seed, n, d=5):
    return np.random.default_rng(seed).standard_normal((n, d))


@pytest.mark.parametrize("b_std", [0.0, 0.3], ids=["nobias", "bias"])
@pytest.mark.parametrize("depth", DEPTHS, ids=lambda L: f"L{L}")
def test_native_matches_neural_tangents(depth, b_std):
    _needs_nt()
    spec = nb.MLPSpec(depth=depth, b_std=b_std, head_std=0.7)
    a, b = _points(0, 12), _points(1, 8)
    z = np.concatenate([a, b])
    ref = kernels(spec, z, backend="nt")                    # one neural-tangents call per case
    sym = kernels(spec, z)
    cross = kernels(spec, a, b)
    for name in ("theta", "sigma"):
        assert rel_err(getattr(sym, name), getattr(ref, name)) < F64
        assert rel_err(getattr(cross, name), getattr(ref, name)[:12, 12:]) < F64


@pytest.mark.parametrize("b_std", [0.0, 0.3], ids=["nobias", "bias"])
def test_nt_backend_is_the_stax_kernel_fn(x64, b_std):
    _needs_nt()
    spec = nb.MLPSpec(depth=2, b_std=b_std, head_std=0.7, out_dim=3)
    a, b = _points(10, 6), _points(11, 4)
    ref = spec.stax()[2](a, b, get=("ntk", "nngp"))         # neural-tangents' own serial, eager
    k = kernels(spec, a, b, backend="nt")
    assert rel_err(k.theta, ref.ntk) < F64 and rel_err(k.sigma, ref.nngp) < F64


@pytest.mark.parametrize("backend", ["native", "nt"])
@pytest.mark.parametrize("depth", DEPTHS, ids=lambda L: f"L{L}")
def test_diagonal_identity_theta_is_L_plus_1_sigma(depth, backend):
    # w_std = sqrt 2, b_std = 0: Theta(x,x) = (L+1) Sigma(x,x) exactly (contract section 1).
    if backend == "nt":
        _needs_nt()
    spec = nb.MLPSpec(depth=depth, head_std=0.7)
    x = _points(2, 10)
    k = kernels(spec, x, backend=backend)
    assert rel_err(np.diag(k.theta), (depth + 1) * np.diag(k.sigma)) < F64
    # The arc-cosine recursion (coincident pairs off the symmetric path) reaches the closed
    # form to the arccos-at-one precision.
    exact = diagonal(spec, x)
    raw = kernels(spec, x, x[::-1], backend=backend)
    assert rel_err(np.diag(raw.theta[:, ::-1]), exact.theta) < ARCCOS_AT_ONE
    assert rel_err(np.diag(raw.sigma[:, ::-1]), exact.sigma) < ARCCOS_AT_ONE


def test_symmetric_path_equals_general_path_for_any_block_size():
    spec = nb.MLPSpec(depth=3, b_std=0.2)
    a, b = _points(3, 13), _points(4, 9)
    z = np.concatenate([a, b])
    cross = kernels(spec, a, b)
    ref = kernels(spec, z)
    for block_size in (1, 5, 22):                           # blocking is backend-independent
        k = kernels(spec, z, block_size=block_size)
        assert rel_err(k.theta, ref.theta) < F64 and rel_err(k.sigma, ref.sigma) < F64
        assert np.array_equal(k.theta, k.theta.T) and np.array_equal(k.sigma, k.sigma.T)
    for block_size in (1, 5):
        c = kernels(spec, a, b, block_size=block_size)
        assert rel_err(c.theta, cross.theta) < F64 and rel_err(c.sigma, cross.sigma) < F64
    assert rel_err(ref.theta[:13, 13:], cross.theta) < F64
    assert rel_err(ref.sigma[13:, :13], cross.sigma.T) < F64
    same = kernels(spec, z, z.copy())                       # equal arrays take the symmetric path
    assert np.array_equal(same.theta, ref.theta)


@pytest.mark.parametrize("depth,b_std", [(1, 0.0), (4, 0.1), (16, 0.0)])
def test_kernels_are_psd(depth, b_std):
    x = np.concatenate([_points(5, 60, 3), _points(5, 5, 3) * 1.5])   # includes parallel points
    k = kernels(nb.MLPSpec(depth=depth, b_std=b_std), x)
    for mat in (k.theta, k.sigma, k.theta_body):
        eig = np.linalg.eigvalsh(mat)
        assert eig[0] >= -1e-10 * eig[-1]


def test_zero_input_without_bias_has_zero_kernels():
    x = _points(6, 6)
    x[2] = 0.0
    spec = nb.MLPSpec(depth=3)
    k = kernels(spec, x)
    assert np.all(np.isfinite(k.theta)) and not np.any(k.theta[2]) and not np.any(k.sigma[:, 2])
    rest = np.delete(np.arange(6), 2)
    assert rel_err(k.theta[np.ix_(rest, rest)], kernels(spec, x[rest]).theta) < F64


@pytest.mark.parametrize("kwargs,match", [
    (dict(backend="jax"), "backend"),
    (dict(block_size=0), "block_size"),
    (dict(x1=np.ones(4)), "x1"),
    (dict(x1=np.ones((0, 3))), "x1"),
    (dict(x1=np.array([[1.0, np.nan]])), "x1"),
    (dict(x2=np.array([[1.0, np.inf]])), "x2"),
    (dict(x2=np.ones((3, 3))), "input dim"),
    (dict(x2=np.ones((2, 2, 2))), "x2"),
    (dict(x1=[["a", "b"]]), "x1 must be an array of real numbers"),
], ids=["backend", "block_size", "rank", "empty", "nan", "inf", "dim", "x2-rank", "strings"])
def test_bad_inputs_raise(kwargs, match):
    args = dict(x1=np.ones((4, 2)), x2=None) | kwargs
    with pytest.raises(ValueError, match=match):
        kernels(nb.MLPSpec(), args.pop("x1"), args.pop("x2"), **args)


@pytest.mark.parametrize("backend", ["native", "nt"])
def test_overflowing_inputs_raise_naming_the_overflow(backend):
    """Inputs scaled by 1e200: |x|^2 overflows, every kernel value would be inf; say so, suggest rescaling."""
    if backend == "nt":
        _needs_nt()
    x = _points(12, 5) * 1e200
    for args in ((x,), (x, _points(13, 3)), (_points(13, 3), x)):
        with pytest.raises(ValueError, match="overflow.*rescale the inputs"):
            kernels(nb.MLPSpec(depth=2), *args, backend=backend)
    with pytest.raises(ValueError, match="overflow.*rescale the inputs"):
        diagonal(nb.MLPSpec(depth=2), x)


def test_overflowing_kernel_values_raise():
    """Finite input norms, but kernel values beyond float64 (huge inputs, weights and depth)."""
    spec = nb.MLPSpec(depth=8, w_std=1e3)
    with pytest.raises(ValueError, match="kernel values overflow: theta.*rescale the inputs"):
        kernels(spec, _points(14, 4) * 1e140)


# ------------------------------------------------------------------------ empirical kernels
def _brute_force(spec, params, x1, x2, head2=None):
    """``J(x1) J(x2)^T`` (trace over outputs / k) from ``jax.jacobian`` of the flat parameters.

    Returns the kernel of all parameters and that of the head(s) only.
    """
    tree = dict(params, head2=params["head"] if head2 is None else head2)
    flat, unravel = ravel_pytree(tree)
    second = "head" if head2 is None else "head2"

    def f(v, x, head):
        p = unravel(v)
        return spec.apply({"body": p["body"], "head": p[head]}, x)

    head_mask = ravel_pytree(dict(body=jax.tree_util.tree_map(jnp.zeros_like, params["body"]),
                                  head=jax.tree_util.tree_map(jnp.ones_like, params["head"]),
                                  head2=jax.tree_util.tree_map(jnp.ones_like, tree["head2"])))[0]
    jac = jax.jit(jax.jacobian(f), static_argnums=2)        # one compile beats eager jacobians
    j1, j2 = jac(flat, x1, "head"), jac(flat, x2, second)
    ntk = lambda mask: np.asarray(jnp.einsum("ikp,jkp->ij", j1 * mask, j2) / spec.out_dim)
    return ntk(1.0), ntk(head_mask)


@pytest.mark.parametrize("out_dim,b_std,cross_head", [(1, 0.0, False), (2, 0.3, False), (2, 0.3, True)],
                         ids=["k1", "k2-bias", "k2-bias-head2"])
def test_empirical_equals_jacobian_products(x64, out_dim, b_std, cross_head):
    spec = nb.MLPSpec(depth=3, width=16, b_std=b_std, out_dim=out_dim)
    params = spec.init(jax.random.PRNGKey(0), 4)
    x1, x2 = _points(7, 5, 4), _points(8, 3, 4)
    head2 = spec.init(jax.random.PRNGKey(1), 4)["head"] if cross_head else None
    emp = empirical(spec, params, x1, x2, head2=head2)
    theta, sigma = _brute_force(spec, params, x1, x2, head2)
    assert emp.theta.dtype == np.float64
    assert rel_err(emp.theta, theta) < F64
    if cross_head:  # two heads share no parameter: the head part vanishes
        assert not np.any(emp.sigma) and np.max(np.abs(sigma)) == 0.0
    else:
        assert rel_err(emp.sigma, sigma) < F64
    assert rel_err(empirical(spec, params, x1).theta, empirical(spec, params, x1, x1).theta) == 0.0


@pytest.mark.parametrize("parameterization", ["ntk", "mup", "standard"])
def test_the_jacobian_route_equals_brute_force_under_every_parameterization(x64, parameterization):
    """``jacobian_kernels.empirical`` (the conv nets' route, callable on an MLP) reads the head's multiplier from
    the spec: its Sigma and Theta are the brute-force Jacobian products whatever the parameterization."""
    from ntk_bridge import jacobian_kernels
    spec = nb.MLPSpec(depth=2, width=16, out_dim=2, parameterization=parameterization)
    params = spec.init(jax.random.PRNGKey(0), 4)
    x1, x2 = _points(7, 5, 4), _points(8, 3, 4)
    emp = jacobian_kernels.empirical(spec, params, x1, x2)
    theta, sigma = _brute_force(spec, params, x1, x2, None)
    assert rel_err(emp.sigma, sigma) < F64 and rel_err(emp.theta, theta) < F64


def _normal_params(spec, in_dim, seed):
    """Standard-normal parameters drawn by NumPy (eager ``jax.random`` compiles per shape: slow)."""
    rng = np.random.default_rng(seed)
    sizes = [in_dim] + [spec.width] * spec.depth
    body = [(rng.standard_normal((m, n)), rng.standard_normal(n)) for m, n in zip(sizes, sizes[1:])]
    return {"body": body, "head": (rng.standard_normal((spec.width, spec.out_dim)), rng.standard_normal(spec.out_dim))}


def test_empirical_approaches_analytic_like_width_to_minus_half(x64):
    spec = nb.MLPSpec(depth=2, b_std=0.1)
    x = _points(9, 8, 6)
    exact = kernels(spec, x).theta
    widths = [32, 64, 128, 256, 512, 1024]
    errs = np.array([[rel_err(empirical(spec.replace(width=n), _normal_params(spec.replace(width=n), 6, seed), x).theta,
                              exact) for n in widths] for seed in range(8)])
    fit = nb.metrics.fit_power_law(widths, errs, n_boot=200)
    # Theory: fluctuations ~ width^-1/2.  Over six disjoint groups of 8 seeds the fitted r
    # ranged 0.43..0.53; a wrong limit (a missing factor, a wrong layer) plateaus (r ~ 0).
    assert 0.35 < fit["r"] < 0.65, fit
    assert errs[:, -1].mean() < 0.15
