"""The predictive distribution over initializations (theory.md §9, ``nb.predict.distribution``).

Independent checks: (1) Monte Carlo: initial functions drawn here from the output NNGP on every
point (one joint Gaussian per process, built in this file from the method's heads), pushed through
the uncentered closed form; many draws at once as output columns; the sample mean and covariance
must match within their sampling error; (2) neural-tangents' own ensemble posterior
(``gradient_descent_mse_ensemble(..., compute_cov=True)``) for one task trained from a random
initialization, on the pinned stack; (3) the expected squared gap between two methods from one
initialization against the Monte Carlo mean of ``||pred_a - pred_b||^2``.  That ``M f0`` itself is
the uncentered linearized net is checked in ``test_finite_decompose`` (parameter space, 1e-8).
"""
from __future__ import annotations

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import metrics
from ntk_bridge.predict import Adaptation, analytic, closed_form
from ntk_bridge.predict import predictive as dist

SPEC = nb.MLPSpec(depth=3, b_std=0.1)
ADAPT = Adaptation(0.05, 3)
TRAIN = nb.tasks.make("shared-feature", 4, n_support=3, n_query=3, dim=4, seed=0)
TEST = nb.tasks.make("shared-feature", 2, n_support=3, n_query=2, dim=4, seed=1)
METHODS = ("mtl-shared", "mtl-independent", "anil-same", "anil-disjoint", "maml-same", "fomaml-disjoint",
           "no-transfer", "anil-same+fresh", "mtl-shared+fresh")
DRAWS = 4000


def _draws(method, rng, n):
    """``n`` initial functions on the training and test points, drawn from the NNGP per process (here, not
    through ``dist.latent``): ``(f_train (N, s+q, n), f_test (Nt, s+q, n))``."""
    kfn = analytic(SPEC)
    x_tr = TRAIN.merged()[0]
    x_te = np.concatenate([TEST.xs, TEST.xq], axis=1)
    (N, p), (Nt, pt) = x_tr.shape[:2], x_te.shape[:2]
    gauss = lambda x: rng.multivariate_normal(np.zeros(len(x)), kfn(x).sigma, size=n, method="eigh").T  # noqa: E731
    m = nb.methods.parse(method)
    independent = m.kind == "mtl" and m.heads == "independent"
    joint = gauss(np.concatenate([x_tr.reshape(N * p, -1), x_te.reshape(Nt * pt, -1)]))   # w0's process
    f_train = (np.stack([gauss(x) for x in x_tr]) if independent else joint[:N * p].reshape(N, p, n))
    f_test = (gauss(x_te.reshape(Nt * pt, -1)) if independent or m.test_head == "fresh" else joint[N * p:]
              ).reshape(Nt, pt, n)
    return f_train, f_test


def _tiled(tasks, n):
    return nb.TaskSet(tasks.xs, np.repeat(tasks.ys, n, -1), tasks.xq, np.repeat(tasks.yq, n, -1))


def _monte_carlo(method, seed, n=DRAWS):
    """``(n, Nt, q)``: uncentered predictions for ``n`` independent initial functions, one closed form."""
    f_train, f_test = _draws(method, np.random.default_rng(seed), n)
    pred = dist.uncentered(method, analytic(SPEC), _tiled(TRAIN, n), _tiled(TEST, n), f_train, f_test, adapt=ADAPT)
    return np.moveaxis(pred, -1, 0)


@pytest.mark.parametrize("method", METHODS)
def test_mean_and_covariance_against_monte_carlo(method):
    d = dist.distribution(SPEC, TRAIN, TEST, method, adapt=ADAPT)
    assert np.array_equal(d.mean, closed_form(method, analytic(SPEC), TRAIN, TEST, adapt=ADAPT))
    preds = _monte_carlo(method, seed=7)
    sd = np.sqrt(np.einsum("nqq->nq", d.cov))
    z = (preds.mean(0) - d.mean[..., 0]) / (sd / np.sqrt(DRAWS))
    assert np.abs(z).max() < 4.5                                   # mean within 4.5 standard errors
    dev = preds - preds.mean(0)
    emp = np.einsum("inq,inp->nqp", dev, dev) / (DRAWS - 1)
    # sampling error of a covariance entry: sqrt((C_qq C_pp + C_qp^2) / n); the largest deviation stays within 5
    se = np.sqrt((np.einsum("nqq,npp->nqp", d.cov, d.cov) + d.cov ** 2) / DRAWS)
    assert np.max(np.abs(emp - d.cov) / se) < 5.0
    full = dist.distribution(SPEC, TRAIN, TEST, method, adapt=ADAPT, full=True).cov_full()
    q = TEST.n_query
    for j in range(TEST.n_tasks):    # the per-task blocks (no test Gram matrix) are the whole covariance's
        assert metrics.rel_gap(d.cov[j], full[j * q:(j + 1) * q, j * q:(j + 1) * q]) < 1e-12


@pytest.mark.parametrize("method", METHODS + ("maml-disjoint", "fomaml-same", "anil-disjoint+fresh"))
@pytest.mark.parametrize("t, ridge", [(None, 0.0), (3.0, 0.0), (None, 1e-3)])
def test_covariance_equals_the_factor_of_the_kernel_on_every_point(method, t, ridge):
    """Second method, exact: factor the NNGP kernel on every point of every process the method reads
    (``dist.latent``), push each factor column through the uncentered closed form (``M L``), and
    ``(M L)(M L)^T`` is the covariance the kernel-block form computes without that kernel."""
    kfn = analytic(SPEC)
    m = nb.methods.parse(method)
    d = dist.distribution(SPEC, TRAIN, TEST, m, adapt=ADAPT, t=t, ridge=ridge, full=True)
    lat = dist.latent(kfn, TRAIN, TEST, [m])
    f_train, f_test = lat.values(m)
    zero = nb.TaskSet(TRAIN.xs, 0 * f_train[:, :3], TRAIN.xq, 0 * f_train[:, 3:])
    zero_test = nb.TaskSet(TEST.xs, 0 * f_test[:, :3], TEST.xq, 0 * f_test[:, 3:])
    factor = dist.uncentered(m, kfn, zero, zero_test, f_train, f_test, adapt=ADAPT, t=t, ridge=ridge)
    factor = factor.reshape(-1, lat.rank)
    assert metrics.rel_gap(d.cov_full(), factor @ factor.T) < 1e-9
    blocks = dist.distribution(SPEC, TRAIN, TEST, m, adapt=ADAPT, t=t, ridge=ridge).cov
    assert metrics.rel_gap(blocks, d.cov) < 1e-12
    assert np.array_equal(d.mean, closed_form(m, kfn, TRAIN, TEST, adapt=ADAPT, t=t, ridge=ridge))


def test_fresh_heads_decorrelate_test_tasks():
    """Under a fresh head the test tasks share nothing trained from f0: the cross-task covariance is the NNGP's
    test-time loop alone, which the Monte Carlo of the joint draws reproduces; with the trained head the shared
    training correlates them more."""
    fresh = dist.distribution(SPEC, TRAIN, TEST, "anil-same+fresh", adapt=ADAPT, full=True).cov_full()
    preds = _monte_carlo("anil-same+fresh", seed=3).reshape(DRAWS, -1)
    emp = np.cov(preds, rowvar=False)
    assert np.abs(emp - fresh).max() < 5 * np.sqrt(2 / DRAWS) * np.abs(fresh).max()


@pytest.mark.parametrize("pair", [("mtl-shared", "anil-same"), ("mtl-shared", "maml-same"),
                                  ("mtl-independent", "anil-same")])
def test_gap_distribution_against_monte_carlo(pair):
    a, b = pair
    gap = dist.gap_distribution(SPEC, TRAIN, TEST, a, b, adapt=ADAPT)
    mu_a, mu_b = (closed_form(m, analytic(SPEC), TRAIN, TEST, adapt=ADAPT) for m in pair)
    assert gap.mean_part == pytest.approx(np.sum((mu_a - mu_b) ** 2, axis=(1, 2)), rel=1e-12)
    # joint draws: the processes both read are one (w0's); MTL's independent heads are their own
    rng = np.random.default_rng(11)
    kfn = analytic(SPEC)
    x_tr = TRAIN.merged()[0]
    x_te = np.concatenate([TEST.xs, TEST.xq], axis=1)
    (N, p), (Nt, pt) = x_tr.shape[:2], x_te.shape[:2]
    pts = np.concatenate([x_tr.reshape(N * p, -1), x_te.reshape(Nt * pt, -1)])
    joint = rng.multivariate_normal(np.zeros(len(pts)), kfn(pts).sigma, size=DRAWS, method="eigh").T
    shared = (joint[:N * p].reshape(N, p, DRAWS), joint[N * p:].reshape(Nt, pt, DRAWS))
    indep_tr = np.stack([rng.multivariate_normal(np.zeros(p), kfn(x).sigma, size=DRAWS, method="eigh").T
                         for x in x_tr])
    fresh_te = rng.multivariate_normal(np.zeros(Nt * pt), kfn(x_te.reshape(Nt * pt, -1)).sigma, size=DRAWS,
                                       method="eigh").T.reshape(Nt, pt, DRAWS)
    preds = []
    for m in pair:
        ind = m == "mtl-independent"
        f = (indep_tr, fresh_te) if ind else shared
        preds.append(dist.uncentered(m, kfn, _tiled(TRAIN, DRAWS), _tiled(TEST, DRAWS), *f, adapt=ADAPT))
    sq = np.sum((preds[0] - preds[1]) ** 2, axis=1)          # (Nt, draws)
    assert gap.total == pytest.approx(sq.mean(1), rel=6 * sq.std(1).max() / np.sqrt(DRAWS) / sq.mean(1).min())
    assert gap.expected == pytest.approx(float(gap.total.sum()))
    assert np.all(gap.var_part > 0) and np.all(gap.mean_part >= 0)


def test_sample_draws_the_distribution():
    d = dist.distribution(SPEC, TRAIN, TEST, "anil-same", adapt=ADAPT, full=True)
    s = d.sample(seed=0, n=DRAWS)
    assert s.shape == (DRAWS,) + d.mean.shape
    assert np.array_equal(s, d.sample(seed=0, n=DRAWS)) and not np.array_equal(s, d.sample(seed=1, n=DRAWS))
    dev = s[..., 0] - s[..., 0].mean(0)
    emp = np.einsum("inq,inp->nqp", dev, dev) / (DRAWS - 1)
    se = np.sqrt((np.einsum("nqq,npp->nqp", d.cov, d.cov) + d.cov ** 2) / DRAWS)
    assert np.max(np.abs(emp - d.cov) / se) < 5.0


def test_neural_tangents_ensemble_posterior():
    """One test task with a fresh head and a full-NTK test loop run as gradient flow is neural-tangents'
    ``gradient_descent_mse_ensemble`` on that task: mean and covariance over initializations.  neural-tangents
    averages its MSE over the ``|Y|`` training outputs, so its time is the toolkit's flow time x ``|Y|``."""
    nt = pytest.importorskip("neural_tangents")
    from ntk_bridge.precision import x64

    tau = 0.7
    one = nb.TaskSet(TEST.xs[:1], TEST.ys[:1], TEST.xq[:1], TEST.yq[:1])
    d = dist.distribution(SPEC, TRAIN, one, "maml-same+fresh", adapt=Adaptation(tau, 1, flow=True))
    with x64():
        _, _, kernel_fn = SPEC.stax()
        fn = nt.predict.gradient_descent_mse_ensemble(kernel_fn, one.xs[0], one.ys[0], diag_reg=0.0)
        mean, cov = fn(t=tau * one.ys[0].size, x_test=one.xq[0], get="ntk", compute_cov=True)
        _, cov_later = fn(t=2 * tau * one.ys[0].size, x_test=one.xq[0], get="ntk", compute_cov=True)
    assert metrics.rel_gap(d.mean[0], np.asarray(mean)) < 1e-12
    assert metrics.rel_gap(d.cov[0], np.asarray(cov)) < 1e-12
    assert metrics.rel_gap(d.cov[0], np.asarray(cov_later)) > 0.1   # another time: another covariance


def test_bad_input():
    d = dist.distribution(SPEC, TRAIN, TEST, "anil-same", adapt=ADAPT)
    with pytest.raises(ValueError, match="full=True"):
        d.cov_full()
    with pytest.raises(ValueError, match="full=True"):
        d.sample(0, 2)
    with pytest.raises(ValueError, match="spec_or_kernel_fn"):
        dist.distribution("deep", TRAIN, TEST, "anil")
    with pytest.raises(ValueError, match="f0_train"):
        dist.uncentered("anil", analytic(SPEC), TRAIN, TEST, np.zeros((1, 1, 1)), np.zeros((2, 5, 1)))
    with pytest.raises(ValueError, match="method"):
        dist.distribution(SPEC, TRAIN, TEST, "reptile")


def test_uncentered_ensemble_approaches_the_distribution():
    """64 uncentered trained MTL nets (width 256): their sample mean is the closed form within its standard error,
    their per-task covariance the infinite-width one within its sampling error (relative ~ (2/64)^1/2 = 0.18);
    centered nets (no random initial function) are far from that covariance (the check can fail)."""
    from ntk_bridge import finite

    spec = nb.MLPSpec(depth=2, width=256)
    kw = dict(method="mtl-shared", seeds=64, adapt=ADAPT, outer_steps=1000, tol=1e-5)
    ens = finite.ensemble(spec, TRAIN, TEST, **kw)
    d = dist.distribution(nb.MLPSpec(depth=2), TRAIN, TEST, "mtl-shared", adapt=ADAPT)
    assert len(ens.seeds) == 64 and ens.excluded == ()
    se = np.sqrt(np.einsum("nqq->nq", d.cov) / 64)[..., None]
    assert np.abs((ens.mean - d.mean) / se).max() < 5.0
    assert np.linalg.norm(ens.cov - d.cov) / np.linalg.norm(d.cov) < 0.45
    centered = finite.ensemble(spec, TRAIN, TEST, centered=True, **dict(kw, seeds=8))
    assert np.linalg.norm(centered.cov - d.cov) / np.linalg.norm(d.cov) > 0.8
    with pytest.raises(ValueError, match="seed"):
        finite.ensemble(spec, TRAIN, TEST, seed=3)


def test_cost_benchmark_smoke():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[1] / "benchmarks" / "distribution_cost.py"
    spec = importlib.util.spec_from_file_location("distribution_cost", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.main(["--train-tasks", "3", "--test-tasks", "2", "--support", "2", "--query", "2", "--depth", "2",
                       "--methods", "anil-same", "fomaml-disjoint"])
    assert [o["method"] for o in out] == ["anil-same", "fomaml-disjoint"]
    assert all(o["same_mean"] and o["test_queries"] == 2 * 2 and o["distribution_s"] > 0 for o in out)
