"""Closed-form predictors vs. linearized finite networks actually trained, and identities.

The linearized (centered) net ``f(x; p0 + d) = J(x) d`` has the empirical kernels of the
finite net; training it by gradient descent *with the real inner loop* (jax.grad through
the inner steps) must reproduce the closed forms fed those kernels, to ~1e-8.

Multi-output (``out_dim = k``): the parameters are ``D (P, k)``, ``f(x) = J(x) D``, whose NTK is
exactly ``K ⊗ I_k`` as at infinite width.  (A finite net's shared body couples its outputs,
cross-output NTK ``O(width^-1/2)``, so its own k-output linearization is no exact identity.)
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from jax.flatten_util import ravel_pytree

import ntk_bridge as nb
from ntk_bridge import predict
from ntk_bridge.precision import x64

SPEC = nb.MLPSpec(depth=2, width=12, b_std=0.2, out_dim=1)
TRAIN = nb.tasks.shared_feature(3, 3, 3, dim=3, seed=11)
TEST = nb.tasks.shared_feature(2, 3, 4, dim=3, seed=12)
IDENTITY_TOL = 1e-8


class Linearized:
    """A finite net's linearization: Jacobians at init, head mask, empirical kernel function."""

    def __init__(self, spec=SPEC, seed=0):
        with x64():
            params = spec.init(jax.random.PRNGKey(seed), TRAIN.dim)
            self.params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)
            self.flat0, self.unravel = ravel_pytree(self.params)
            mask = {"body": jax.tree_util.tree_map(jnp.zeros_like, self.params["body"]),
                    "head": jax.tree_util.tree_map(jnp.ones_like, self.params["head"])}
            self.head_mask = np.asarray(ravel_pytree(mask)[0])
        self.spec = spec

    def jac(self, x):
        """``J(x)``: ``(..., points, P)`` for a single output."""
        with x64():
            f = lambda flat, xx: self.spec.apply(self.unravel(flat), xx)[..., 0]
            return np.asarray(jax.vmap(jax.jacobian(f), in_axes=(None, 0))(self.flat0, jnp.asarray(x)))

    def kernel_fn(self, x1, x2=None):
        with x64():  # without it JAX silently computes the float64 params in float32
            return nb.kernels.empirical(self.spec, self.params, x1, x2)


LIN = Linearized()


def _inner_map(j, y, mask, adapt):
    """Affine inner loop in parameter space, ``D -> E D + C`` (``y``: ``(points, k)``); flow via ``expm``."""
    p, k = j.shape[-1], y.shape[-1]
    if adapt.flow:
        aug = np.zeros((p + k, p + k))
        aug[:p, :p], aug[:p, p:] = -(mask[:, None] * (j.T @ j)), mask[:, None] * (j.T @ y)
        full = scipy.linalg.expm(adapt.time * aug)
        return full[:p, :p], full[:p, p:]
    return None


def _adapt(d, j, y, mask, adapt, flow_map=None):
    """The real inner loop on the linearized net: ``steps`` GD steps (or the exact flow); ``d``: ``(P, k)``."""
    if flow_map is not None:
        e, c = flow_map
        return e @ d + c
    for _ in range(adapt.steps):
        d = d - adapt.lr * mask[:, None] * (j.T @ (j @ d - y))
    return d


def _train_gbml(algo, adapt, split, train=TRAIN):
    """Meta-train ``D (P, k)`` by gradient descent on the outer loss through the inner loop."""
    x_in, y_in, x_out, y_out = predict.gbml_sets(train, split)
    j_in, j_out = LIN.jac(x_in), LIN.jac(x_out)
    mask = LIN.head_mask if algo == "anil" else np.ones_like(LIN.head_mask)
    maps = [_inner_map(j_in[i], y_in[i], mask, adapt) for i in range(train.n_tasks)]
    mk = predict.meta_ntk(LIN.kernel_fn, train, algo=algo, adapt=adapt, split=split)
    eig = np.linalg.eigvals(mk.phi)   # only sets the step size and the number of steps
    # GD on a quadratic contracts mode e by |1 - lr e|: lr = 1.9/e_max is safe for the symmetric
    # meta-NTK; the non-symmetric first-order Psi gets 1/|e|_max.
    lr = (1.0 if algo == "fomaml" else 1.9) / np.max(np.abs(eig))
    n_iter = int(25 / (lr * np.min(eig.real)))   # exp(-25) ~ 1e-11 left of every mode
    with x64():
        def outer_loss(d):
            total = 0.0
            for i in range(train.n_tasks):
                di = _adapt(d, j_in[i], y_in[i], mask, adapt, maps[i])
                if algo == "fomaml":   # outer gradient at the adapted parameters, inner Jacobian ignored
                    di = d + jax.lax.stop_gradient(di - d)
                total = total + 0.5 * jnp.sum((j_out[i] @ di - y_out[i]) ** 2)
            return total

        grad = jax.jit(jax.grad(outer_loss))
        step = jax.jit(lambda _, d: d - lr * grad(d))
        d = jax.lax.fori_loop(0, n_iter, step, jnp.zeros((LIN.flat0.size, train.out_dim)))
        assert float(jnp.linalg.norm(grad(d))) < 1e-10 * max(1.0, float(jnp.linalg.norm(grad(0 * d))))
    return np.asarray(d), mask


def _test_predictions(d, mask, adapt, test=TEST):
    j_s, j_q = LIN.jac(test.xs), LIN.jac(test.xq)
    out = []
    for i in range(test.n_tasks):
        flow_map = _inner_map(j_s[i], test.ys[i], mask, adapt)
        di = _adapt(d, j_s[i], test.ys[i], mask, adapt, flow_map)
        out.append(j_q[i] @ di)
    return np.stack(out)


ADAPTS = {"steps": nb.Adaptation(lr=0.05, steps=4), "flow": nb.Adaptation(lr=0.05, steps=4, flow=True)}
# Three outputs on the same points: the multi-output bookkeeping (coef (M, k), F0 (N, q, k)) is exercised.
TRAIN3 = nb.tasks.shared_feature(3, 3, 3, dim=3, out_dim=3, seed=11)
TEST3 = nb.tasks.shared_feature(2, 3, 4, dim=3, out_dim=3, seed=12)


def _close(trained, closed):
    assert trained.shape == closed.shape
    assert np.max(np.abs(trained - closed)) < IDENTITY_TOL * max(1.0, np.max(np.abs(closed)))


@pytest.mark.parametrize("split", predict.SPLITS)
@pytest.mark.parametrize("inner", sorted(ADAPTS))
@pytest.mark.parametrize("algo", predict.ALGOS)
def test_gbml_equals_trained_linearized_net(algo, inner, split):
    adapt = ADAPTS[inner]
    d, mask = _train_gbml(algo, adapt, split)
    trained = _test_predictions(d, mask, adapt)
    _close(trained, predict.gbml_from_kernels(LIN.kernel_fn, TRAIN, TEST, algo=algo, adapt=adapt, split=split))


@pytest.mark.parametrize("split", predict.SPLITS)
@pytest.mark.parametrize("algo", ["anil", "maml"])
def test_gbml_multi_output_equals_trained_linearized_net(algo, split):
    adapt = ADAPTS["steps"]
    d, mask = _train_gbml(algo, adapt, split, TRAIN3)
    trained = _test_predictions(d, mask, adapt, TEST3)
    _close(trained, predict.gbml_from_kernels(LIN.kernel_fn, TRAIN3, TEST3, algo=algo, adapt=adapt, split=split))


@pytest.mark.parametrize("algo", predict.ALGOS)
def test_dropping_f0_breaks_agreement(algo):
    """The initial meta-output F0 is not optional: without it the trained net is missed."""
    adapt = ADAPTS["steps"]
    d, mask = _train_gbml(algo, adapt, "disjoint")
    trained = _test_predictions(d, mask, adapt)

    def no_f0(*a, **k):
        mk = predict.meta_ntk(*a, **k)
        return mk._replace(f0=np.zeros_like(mk.f0))
    wrong = predict.gbml_from_kernels(LIN.kernel_fn, TRAIN, TEST, algo=algo, adapt=adapt, split="disjoint",
                                      meta_ntk=no_f0)
    assert np.max(np.abs(trained - wrong)) > 1e4 * IDENTITY_TOL


@pytest.mark.parametrize("train,test", [(TRAIN, TEST), (TRAIN3, TEST3)], ids=["k1", "k3"])
@pytest.mark.parametrize("inner", sorted(ADAPTS))
def test_mtl_shared_equals_trained_linearized_net(inner, train, test):
    adapt = ADAPTS[inner]
    x, y = train.merged()
    j = LIN.jac(x)                                # (N, m, P), every head starts at the common w0
    body = 1.0 - LIN.head_mask
    n, p = train.n_tasks, j.shape[-1]

    with x64():
        def loss(theta):             # theta = (body+head0 slots, heads): (N + 1, P, k)
            total = 0.0
            for i in range(n):
                d = body[:, None] * theta[0] + LIN.head_mask[:, None] * theta[1 + i]
                total = total + 0.5 * jnp.sum((j[i] @ d - y[i]) ** 2)
            return total

        kern = LIN.kernel_fn(x.reshape(-1, x.shape[-1]))
        same = np.kron(np.eye(n), np.ones((x.shape[1],) * 2))
        eig = np.linalg.eigvalsh(kern.theta_body + same * kern.sigma)
        lr = 1.0 / eig[-1]
        grad = jax.jit(jax.grad(loss))
        theta = jax.lax.fori_loop(0, int(40 * eig[-1] / eig[0]), lambda _, th: th - lr * grad(th),
                                  jnp.zeros((n + 1, p, train.out_dim)))
    d_test = body[:, None] * np.asarray(theta[0])          # trained body, common initial head w0
    trained = _test_predictions(d_test, LIN.head_mask, adapt, test)
    _close(trained, predict.mtl_from_kernels(LIN.kernel_fn, train, test, heads="shared", adapt=adapt))


# ------------------------------------------------------------------------ identities
SPEC4 = nb.MLPSpec(depth=4)
TR4 = nb.tasks.shared_feature(8, 4, 6, dim=6, seed=1)
TE4 = nb.tasks.shared_feature(3, 4, 6, dim=6, seed=2)
AD = nb.Adaptation(lr=0.2, steps=5)


def test_independent_heads_equal_no_transfer():
    nt = predict.no_transfer(SPEC4, TE4, adapt=AD)
    mi = predict.mtl(SPEC4, TR4, TE4, heads="independent", adapt=AD)
    assert np.max(np.abs(mi - nt)) < 1e-10
    ms = predict.mtl(SPEC4, TR4, TE4, heads="shared", adapt=AD)
    assert nb.metrics.rel_gap(ms, nt) > 1e-2       # shared heads do transfer


@pytest.mark.parametrize("algo", ["anil", "maml"])
def test_zero_meta_training_time_is_no_transfer(algo):
    inner = "head" if algo == "anil" else "all"
    nt = predict.no_transfer(SPEC4, TE4, adapt=AD, inner=inner)
    g0 = predict.gbml(SPEC4, TR4, TE4, algo=algo, adapt=AD, t=0.0)
    assert np.max(np.abs(g0 - nt)) < 1e-12
    m0 = predict.mtl(SPEC4, TR4, TE4, adapt=AD, t=0.0)
    assert np.max(np.abs(m0 - predict.no_transfer(SPEC4, TE4, adapt=AD))) < 1e-12


@pytest.mark.parametrize("algo", predict.ALGOS)
def test_long_meta_training_time_reaches_solve(algo):
    ridge = 1e-3  # bounds the slowest mode so that t = 1e5 is "infinite" to ~exp(-100)
    inf = predict.gbml(SPEC4, TR4, TE4, algo=algo, adapt=AD, ridge=ridge)
    late = predict.gbml(SPEC4, TR4, TE4, algo=algo, adapt=AD, ridge=ridge, t=1e5)
    assert nb.metrics.rel_gap(late, inf) < 1e-8
    early = predict.gbml(SPEC4, TR4, TE4, algo=algo, adapt=AD, ridge=ridge, t=1e-2)
    assert nb.metrics.rel_gap(early, inf) > 1e-3


def test_mtl_time_grid_matches_eigenform_of_mtl_kernel():
    """``beta(t) = K^-1 (I - exp(-tK)) Y`` vs scipy's expm, independently."""
    x, y = TR4.merged()
    k = nb.kernels.kernels(SPEC4, x.reshape(-1, x.shape[-1]))
    n, m = x.shape[:2]
    kk = k.theta_body + np.kron(np.eye(n), np.ones((m, m))) * k.sigma
    t = 0.3
    beta = np.linalg.solve(kk, (np.eye(n * m) - scipy.linalg.expm(-t * kk)) @ y.reshape(-1, 1))
    xt = np.concatenate([TE4.xs, TE4.xq], 1).reshape(-1, x.shape[-1])
    h = (nb.kernels.kernels(SPEC4, xt, x.reshape(-1, x.shape[-1])).theta_body @ beta).reshape(3, 10, 1)
    nt_k = nb.kernels.kernels(SPEC4, xt)
    preds = []
    for i in range(3):
        s_idx, q_idx = slice(10 * i, 10 * i + 4), slice(10 * i + 4, 10 * i + 10)
        tt = predict.inner_operator(nt_k.sigma[s_idx, s_idx], AD)
        preds.append(h[i, 4:] + nt_k.sigma[q_idx, s_idx] @ tt @ (TE4.ys[i] - h[i, :4]))
    got = predict.mtl(SPEC4, TR4, TE4, adapt=AD, t=t)
    assert np.max(np.abs(got - np.stack(preds))) < 1e-9


def test_fomaml_equals_maml_when_query_is_support():
    """split="same": dF = M J with M = (I - lr K)^s invertible, so Phi^-1 and Psi^-1 give one g."""
    m = predict.gbml(SPEC4, TR4, TE4, algo="maml", adapt=AD, split="same")
    f = predict.gbml(SPEC4, TR4, TE4, algo="fomaml", adapt=AD, split="same")
    assert nb.metrics.rel_gap(f, m) < 1e-8
    md = predict.gbml(SPEC4, TR4, TE4, algo="maml", adapt=AD, split="disjoint")
    fd = predict.gbml(SPEC4, TR4, TE4, algo="fomaml", adapt=AD, split="disjoint")
    assert nb.metrics.rel_gap(fd, md) > 1e-3


def test_nt_backend_matches_native():
    pytest.importorskip("neural_tangents")
    for fn in (lambda b: predict.gbml(SPEC4, TR4, TE4, algo="maml", adapt=AD, backend=b),
               lambda b: predict.mtl(SPEC4, TR4, TE4, adapt=AD, backend=b)):
        assert nb.metrics.rel_gap(fn("nt"), fn("native")) < 1e-9


def test_inner_operator_matches_explicit_steps():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 5, 3))
    k = a @ np.swapaxes(a, 1, 2)                   # rank 3 of 5: singular on purpose
    adapt = nb.Adaptation(lr=0.1, steps=7)
    t = predict.inner_operator(k, adapt)
    y = rng.standard_normal((2, 5))
    for i in range(2):                             # kernel regression in function space
        f = np.zeros(5)
        for _ in range(adapt.steps):
            f = f - adapt.lr * k[i] @ (f - y[i])
        assert np.max(np.abs(f - k[i] @ t[i] @ y[i])) < 1e-12
    null = np.linalg.eigh(k[0])[1][:, 0]           # g(0) = lr * steps on the null space
    assert abs(null @ t[0] @ null - adapt.time) < 1e-12


# ------------------------------------------------------------------------ errors
def test_bad_input_is_a_clear_value_error():
    with pytest.raises(ValueError, match="Adaptation.lr"):
        nb.Adaptation(lr=-0.1)
    with pytest.raises(ValueError, match="Adaptation.steps"):
        nb.Adaptation(steps=0)
    with pytest.raises(ValueError, match="algo"):
        predict.gbml(SPEC4, TR4, TE4, algo="reptile", adapt=AD)
    with pytest.raises(ValueError, match="split"):
        predict.gbml(SPEC4, TR4, TE4, adapt=AD, split="half")
    with pytest.raises(ValueError, match="heads"):
        predict.mtl(SPEC4, TR4, TE4, heads="many", adapt=AD)
    other = nb.tasks.shared_feature(2, 4, 6, dim=5, seed=3)
    with pytest.raises(ValueError, match="input dim"):
        predict.mtl(SPEC4, TR4, other, adapt=AD)
    with pytest.raises(ValueError, match="out_dim"):
        predict.gbml(SPEC4.replace(out_dim=2), TR4, TE4, adapt=AD)
    with pytest.raises(ValueError, match="diverges"):
        predict.gbml(SPEC4, TR4, TE4, algo="maml", adapt=nb.Adaptation(lr=50.0, steps=2))


def test_singular_meta_ntk_raises_and_ridge_fixes_it():
    dup = nb.TaskSet(np.repeat(TR4.xs[:1], 2, 0), np.repeat(TR4.ys[:1], 2, 0),
                     np.repeat(TR4.xq[:1], 2, 0), np.repeat(TR4.yq[:1], 2, 0))
    with pytest.raises(ValueError, match="ridge"):
        predict.gbml(SPEC4, dup, TE4, algo="anil", adapt=AD)
    pred, info = predict.gbml(SPEC4, dup, TE4, algo="anil", adapt=AD, ridge=1e-6, return_info=True)
    assert np.all(np.isfinite(pred)) and np.isfinite(info["cond"])
