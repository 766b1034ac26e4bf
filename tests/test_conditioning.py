"""Task-conditioning architectures as multi-task kernels (``nb.conditioning``, issue #16).

Identities between architectures at 1e-10, the analytic kernels against the empirical NTK of
finite conditioned nets (error ~ width^-1/2), and the joint-training predictor against a
naive dense solve.  Float64 throughout.
"""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TOL, rel_err

import ntk_bridge as nb
from ntk_bridge import conditioning as cond
from ntk_bridge.errors import NotComputable
from ntk_bridge.precision import x64

F64 = TOL[np.dtype(np.float64)]
SPEC = nb.MLPSpec(depth=2, width=64, b_std=0.1)
N_TASKS, DIM = 3, 4
CASES = [("concat", 1), ("additive", 2), ("multiplicative", 1), ("multiplicative", 2), ("multi-head-shared", 1),
         ("multi-head-independent", 1), ("independent", 1)]


def points(n_per_task=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N_TASKS * n_per_task, DIM))
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(N_TASKS), n_per_task)


def float64_params(cnet, seed):
    with x64(False):   # one seed, one net, whatever the dtype (the project's convention)
        p = cnet.init(jax.random.PRNGKey(seed))
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), p)


# ------------------------------------------------------------------------ identities
@pytest.mark.parametrize("b_std", [0.0, 0.1])
@pytest.mark.parametrize("c", [0.0, 0.7, 3.0])
def test_additive_layer1_equals_concat(b_std, c):
    spec = SPEC.replace(b_std=b_std)
    x, t = points()
    k_concat = cond.kernel(spec, x, t, architecture="concat", task_scale=c)
    xa, ca = cond.concat_as_additive(spec, x, c, N_TASKS)
    k_add = cond.kernel(spec, xa, t, architecture="additive", task_scale=ca, layer=1, n_tasks=N_TASKS)
    assert rel_err(k_add.theta, k_concat.theta) <= F64
    assert rel_err(k_add.sigma, k_concat.sigma) <= F64
    # and concat is the plain MLP kernel of [x, c e_i] (an independent implementation)
    ref = nb.kernels.kernels(spec, np.concatenate([x, c * np.eye(N_TASKS)[t]], axis=1))
    assert rel_err(k_concat.theta, ref.theta) <= F64 and rel_err(k_concat.sigma, ref.sigma) <= F64


def test_additive_layer1_equals_concat_at_finite_width(x64):
    """Parameter for parameter (E = W_e), so even the empirical kernels agree."""
    x, t = points()
    c = 0.7
    concat = cond.net(SPEC, "concat", n_tasks=N_TASKS, in_dim=DIM, task_scale=c)
    p = float64_params(concat, 1)
    xa, ca = cond.concat_as_additive(SPEC, x, c, N_TASKS)
    additive = cond.net(SPEC, "additive", n_tasks=N_TASKS, in_dim=DIM, task_scale=ca, layer=1)
    (w1, b1), rest = p["body"][0], p["body"][1:]
    q = {"body": [(w1[:DIM], b1)] + rest, "head": p["head"], "embed": w1[DIM:].T}
    np.testing.assert_allclose(additive.apply(q, jnp.asarray(xa), t), concat.apply(p, jnp.asarray(x), t),
                               rtol=F64, atol=0)
    k_concat, k_add = cond.empirical(concat, p, x, t), cond.empirical(additive, q, xa, t)
    assert rel_err(k_add.theta, k_concat.theta) <= F64 and rel_err(k_add.sigma, k_concat.sigma) <= F64


def test_multi_head_independent_equals_independent():
    x, t = points()
    x2, t2 = points(2, seed=1)
    for args in ((x, t), (x, t, x2, t2)):
        a = cond.kernel(SPEC, *args, architecture="multi-head-independent")
        b = cond.kernel(SPEC, *args, architecture="independent")
        assert rel_err(a.theta, b.theta) <= F64 and rel_err(a.sigma, b.sigma) <= F64


@pytest.mark.parametrize("b_std", [0.0, 0.1])
def test_multi_head_shared_is_the_mtl_kernel(b_std):
    spec = SPEC.replace(depth=3, b_std=b_std)
    x, t = points()
    x2, t2 = points(2, seed=1)
    for (xa, ta), (xb, tb) in (((x, t), (x, t)), ((x, t), (x2, t2))):
        ref = nb.kernels.kernels(spec, xa, xb)
        same = ta[:, None] == tb[None, :]
        k = cond.kernel(spec, xa, ta, xb, tb, architecture="multi-head-shared")
        assert rel_err(k.theta, ref.theta_body + same * ref.sigma) <= F64
        assert rel_err(k.sigma, same * ref.sigma) <= F64


def test_limits_of_task_scale():
    """c = 0: additive/multiplicative are the plain net (tasks pooled); gates add c^2 only within a task."""
    x, t = points()
    plain = nb.kernels.kernels(SPEC, x)
    for arch in ("additive", "multiplicative"):
        k = cond.kernel(SPEC, x, t, architecture=arch, task_scale=0.0, layer=2)
        assert rel_err(k.theta, plain.theta) <= F64
    k = cond.kernel(SPEC, x, t, architecture="multiplicative", task_scale=2.0, layer=2)
    cross = t[:, None] != t[None, :]
    np.testing.assert_allclose(k.sigma[cross], plain.sigma[cross], rtol=F64)   # E[gamma_i gamma_j] = 1, i != j


@pytest.mark.parametrize("arch,layer", CASES)
def test_kernels_symmetric_psd_and_blockwise(arch, layer):
    x, t = points()
    k = cond.kernel(SPEC, x, t, architecture=arch, task_scale=0.7, layer=layer)
    for mat in k:
        assert rel_err(mat, mat.T) <= F64
        assert np.linalg.eigvalsh(mat).min() > -1e-12 * np.abs(mat).max()
    # a block computed alone (n_tasks given) equals the same block of the whole kernel
    rows, cols = t == 0, t != 0
    block = cond.kernel(SPEC, x[rows], t[rows], x[cols], t[cols], architecture=arch, task_scale=0.7, layer=layer,
                        n_tasks=N_TASKS)
    assert rel_err(block.theta, k.theta[np.ix_(rows, cols)]) <= F64


# ------------------------------------------------------------------------ finite width
@pytest.mark.parametrize("arch,layer", CASES)
def test_analytic_matches_empirical_ntk(arch, layer, x64):
    """Relative error of one finite net's NTK falls like width^-1/2 (10 seeds, widths 32..512).

    Measured spread of the fitted rate with 10 seeds: sd 0.04..0.06 around 0.48..0.51 (30-seed study).  The
    window was [0.3, 0.7], about 3 sd on each side: over the 7 cases a change of random stream failed it with
    probability near 1%.  It is [0.25, 0.75] since 2026-12-04: at least 0.23 = 3.8 sd of the widest spread
    from each center, so below 1.5e-4 per case and 1e-3 over the 7; a wrong cross-task factor leaves an O(1)
    error that does not fall (r near 0), far outside it.
    """
    x, t = points(2)
    widths, seeds = (32, 128, 512), range(10)
    errors = np.empty((len(seeds), len(widths)))
    for j, width in enumerate(widths):
        cnet = cond.net(SPEC.replace(width=width), arch, n_tasks=N_TASKS, in_dim=DIM, task_scale=0.7, layer=layer)
        analytic = cnet.kernel(x, t)
        for i in seeds:
            errors[i, j] = rel_err(cond.empirical(cnet, float64_params(cnet, i), x, t).theta, analytic.theta)
    fit = nb.metrics.fit_power_law(widths, errors)
    assert 0.25 <= fit["r"] <= 0.75, (fit, errors.mean(0))
    assert errors[:, -1].mean() < 0.5 * errors[:, 0].mean()   # 16x the width: ~1/4 the error


def test_independent_nets_share_nothing(x64):
    x, t = points()
    cnet = cond.net(SPEC, "independent", n_tasks=N_TASKS, in_dim=DIM)
    k = cond.empirical(cnet, float64_params(cnet, 0), x, t)
    cross = t[:, None] != t[None, :]
    assert np.all(k.theta[cross] == 0) and np.all(k.sigma[cross] == 0)
    assert np.all(np.diag(k.theta) > 0)


# ------------------------------------------------------------------------ joint training
def task_set(sizes=(2, 4, 6), n_query=3, seed=0):
    s = max(sizes)
    ts = nb.tasks.shared_feature(len(sizes), s, n_query, dim=DIM, similarity=0.5, seed=seed)
    return ts, sizes


def naive_prediction(spec, ts, sizes, arch, c, layer, ridge, weights):
    """Dense kernel from independent routes where they exist, then (W K + ridge I) alpha = W Y."""
    n = ts.n_tasks
    xs = np.concatenate([ts.xs[i, :s] for i, s in enumerate(sizes)])
    ys = np.concatenate([ts.ys[i, :s] for i, s in enumerate(sizes)])
    tsup = np.concatenate([[i] * s for i, s in enumerate(sizes)])
    xq, tq = ts.xq.reshape(-1, ts.dim), np.repeat(np.arange(n), ts.n_query)

    def k(xa, ta, xb, tb):
        same = ta[:, None] == tb[None, :]
        if arch == "concat":
            onehot = np.eye(n)
            return nb.kernels.kernels(spec, np.c_[xa, c * onehot[ta]], np.c_[xb, c * onehot[tb]]).theta
        if arch == "multi-head-shared":
            ref = nb.kernels.kernels(spec, xa, xb)
            return ref.theta_body + same * ref.sigma
        if arch == "independent":
            return same * nb.kernels.kernels(spec, xa, xb).theta
        return np.block([[cond.kernel(spec, xa[ta == i], ta[ta == i], xb[tb == j], tb[tb == j], architecture=arch,
                                      task_scale=c, layer=layer, n_tasks=n).theta for j in range(n)]
                         for i in range(n)])

    per_task = np.array(sizes, dtype=float)[tsup]
    w = np.diag(np.ones(len(tsup)) if weights == "data" else len(tsup) / (n * per_task))
    alpha = np.linalg.solve(w @ k(xs, tsup, xs, tsup) + ridge * np.eye(len(tsup)), w @ ys)
    return (k(xq, tq, xs, tsup) @ alpha).reshape(n, ts.n_query, ts.out_dim)


@pytest.mark.parametrize("arch,layer", CASES)
@pytest.mark.parametrize("ridge,weights", [(0.0, "uniform"), (0.05, "uniform"), (0.05, "data")])
def test_mtl_matches_naive_solve(arch, layer, ridge, weights):
    ts, sizes = task_set()
    got = cond.mtl(SPEC, ts, architecture=arch, task_scale=0.7, layer=layer, ridge=ridge, weights=weights,
                   support_sizes=sizes)
    want = naive_prediction(SPEC, ts, sizes, arch, 0.7, layer, ridge, weights)
    assert got.shape == (ts.n_tasks, ts.n_query, ts.out_dim)
    assert rel_err(got, want) <= 1e-8   # two solves of a system with condition number up to ~1e3


def test_weights_matter_only_with_ridge_and_unequal_data():
    ts, sizes = task_set()
    run = lambda **kw: cond.mtl(SPEC, ts, architecture="concat", support_sizes=sizes, **kw)  # noqa: E731
    assert rel_err(run(weights="uniform"), run(weights="data")) <= 1e-8
    assert rel_err(run(weights="uniform", ridge=0.1), run(weights="data", ridge=0.1)) > 1e-3
    equal = dict(architecture="concat", ridge=0.1)
    assert rel_err(cond.mtl(SPEC, ts, weights="uniform", **equal), cond.mtl(SPEC, ts, weights="data", **equal)) <= F64


def test_mtl_interpolates_the_supports():
    """Querying the supports themselves returns the training labels (ridge = 0, t = inf)."""
    ts, _ = task_set((4, 4, 4), n_query=4)
    on_support = nb.TaskSet(ts.xs, ts.ys, ts.xs, ts.ys)
    for arch, layer in CASES:
        pred = cond.mtl(SPEC, on_support, architecture=arch, layer=layer)
        assert rel_err(pred, ts.ys) <= 1e-8, arch


def test_ill_conditioned_solve_suggests_ridge():
    ts, _ = task_set((4, 4, 4))
    xs = ts.xs.copy()
    xs[:, 1] = xs[:, 0]                                      # a repeated support point
    dup = nb.TaskSet(xs, ts.ys, ts.xq, ts.yq)
    with pytest.raises(ValueError, match="ridge"):
        cond.mtl(SPEC, dup, architecture="concat")
    assert np.all(np.isfinite(cond.mtl(SPEC, dup, architecture="concat", ridge=1e-3)))


@pytest.mark.parametrize("kwargs,field", [
    (dict(architecture="film"), "architecture"), (dict(task_scale=-1.0), "task_scale"),
    (dict(layer=3), "layer"), (dict(layer=1.0), "layer"), (dict(ridge=-1.0), "ridge"),
    (dict(weights="tasks"), "weights"), (dict(support_sizes=(1, 2)), "support_sizes"),
    (dict(support_sizes=(1, 2, 9)), "support_sizes"),
])
def test_bad_arguments_name_the_field(kwargs, field):
    ts, _ = task_set((4, 4, 4))
    with pytest.raises(ValueError, match=field):
        cond.mtl(SPEC, ts, **kwargs)


def test_bad_kernel_arguments_name_the_field():
    x, t = points()
    with pytest.raises(ValueError, match="t1"):
        cond.kernel(SPEC, x, t[:-1])
    with pytest.raises(ValueError, match="t1"):
        cond.kernel(SPEC, x, t - 1)
    with pytest.raises(ValueError, match="n_tasks"):
        cond.kernel(SPEC, x, t, n_tasks=2)
    with pytest.raises(ValueError, match="x2"):
        cond.kernel(SPEC, x, t, x[:, :2], t)
    with pytest.raises(ValueError, match="in_dim"):
        cond.net(SPEC, "concat", n_tasks=2, in_dim=0)


# ------------------------------------------------------------------------ overflow of task_scale
CONDITIONED = ("concat", "additive", "multiplicative")


def _usable_max(message: str) -> float:
    found = re.search(r"task_scale <= ([0-9.e+-]+)", message)
    assert found, message
    return float(found.group(1))


@pytest.mark.parametrize("arch", CONDITIONED)
def test_kernel_refuses_an_overflowing_task_scale_and_names_its_range(arch):
    """The kernel grows like task_scale^2: past float64's range it raises naming task_scale and the
    largest usable value (never inf/nan entries); half that value gives finite kernels."""
    x, t = points()
    with pytest.raises(NotComputable, match="task_scale") as err:
        cond.kernel(SPEC, x, t, architecture=arch, task_scale=1e200, layer=2)
    c_max = _usable_max(str(err.value))
    assert 1e50 < c_max < 1e200
    k = cond.kernel(SPEC, x, t, architecture=arch, task_scale=0.5 * c_max, layer=2)
    assert np.all(np.isfinite(k.theta)) and np.all(np.isfinite(k.sigma))
    with pytest.raises(NotComputable, match="task_scale"):
        cond.kernel(SPEC, x, t, architecture=arch, task_scale=2 * c_max, layer=2)


def test_task_scale_ignored_by_multi_head_never_overflows():
    x, t = points()
    for arch in ("multi-head-shared", "multi-head-independent", "independent"):
        big = cond.kernel(SPEC, x, t, architecture=arch, task_scale=1e200)
        assert np.array_equal(big.theta, cond.kernel(SPEC, x, t, architecture=arch).theta), arch


def test_kernel_overflowing_without_task_scale_asks_to_rescale():
    x, t = points()
    with pytest.raises(NotComputable, match="even at task_scale=0.*rescale"):
        cond.kernel(SPEC.replace(w_std=1e80), x, t, architecture="concat", task_scale=1.0)


@pytest.mark.parametrize("arch", CONDITIONED)
def test_mtl_with_an_overflowing_task_scale_is_not_computable(arch):
    """Was numpy's LinAlgError ('Eigenvalues did not converge') on the inf/nan kernel."""
    ts, _ = task_set((4, 4, 4))
    with pytest.raises(NotComputable, match=r"task_scale=1e\+160.*task_scale <= "):
        cond.mtl(SPEC, ts, architecture=arch, task_scale=1e160)
