"""Finite-width training (ntk_bridge.finite) against independent computations.

* the closed forms of ``nb.predict`` fed the *empirical* kernels of the same initial net
  (the net's linearization), with small targets so that training stays linear;
* finite differences of the outer loss (second-order MAML gradient), and the gradient at
  manually adapted parameters (first-order MAML);
* the analytic closed forms as width grows (the width experiment, the one width sweep).

Guards, the fresh test head, method descriptions and the timing harness: ``test_finite_*.py``.
"""
import importlib.util
import pathlib
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TOL, rel_err

import ntk_bridge as nb
from ntk_bridge import finite, predict
from ntk_bridge.experiments import width
from ntk_bridge.experiments.common import TaskConfig
from ntk_bridge.precision import x64
from ntk_bridge.predict import Adaptation

ADAPT = Adaptation(lr=0.5, steps=5)


@pytest.fixture(scope="module")
def tasks():
    train = nb.tasks.shared_feature(4, 5, 5, dim=8, seed=1)
    test = nb.tasks.shared_feature(2, 5, 5, dim=8, seed=2)
    return train, test


def test_finite_does_not_import_neural_tangents():
    code = textwrap.dedent("""
        import sys
        import ntk_bridge as nb
        from ntk_bridge import finite
        train = nb.tasks.shared_feature(2, 3, 3, dim=4, seed=0)
        for method in ("mtl-independent", "maml"):  # lr 0.1: at width 8 the default 0.5 leaves the stable range
            pred = finite.fit_predict(nb.MLPSpec(depth=1, width=8), train, train, method=method, outer_steps=3,
                                      adapt=nb.Adaptation(0.1, 3))
            assert pred.shape == (2, 3, 1), pred.shape
        assert "neural_tangents" not in sys.modules, "finite imported neural_tangents"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


@pytest.mark.parametrize("method", finite.METHODS)
def test_centered_net_is_exactly_zero_at_init_and_training_converges(tasks, method):
    train, test = tasks
    spec = nb.MLPSpec(depth=1, width=256)
    _, info = finite.fit_predict(spec, train, test, method=method, adapt=ADAPT, return_info=True)
    assert info["init_output_max_abs"] == 0.0
    assert info["converged"] and info["final_loss"] <= 1e-7 * info["initial_loss"], info["final_loss"]
    assert info["steps"] < 3000 and info["history"].shape == (info["steps"],)
    _, info_raw = finite.fit_predict(spec, train, test, method=method, adapt=ADAPT, centered=False,
                                     outer_steps=0, return_info=True)
    assert info_raw["init_output_max_abs"] > 1e-2  # an uncentered net is not zero at init


def test_power_iteration_step_converges(tasks):
    """The finite net's own lambda_max (jvp/vjp power iteration through MAML's inner loop) ~ the analytic one.

    The bound 0.25 on ``lambda_max / analytic - 1`` was checked against its spread over initializations
    (2026-12-04, 20 seeds, width 512): mean 0.032, sd 0.057, largest 0.14, so 0.25 lies 3.8 sd above the
    mean (4.9 below): a change of random stream fails it with probability about 1e-4."""
    train, test = tasks
    spec = nb.MLPSpec(depth=1, width=512)
    _, info = finite.fit_predict(spec, train, test, method="maml", adapt=ADAPT, lr_from="power", return_info=True)
    analytic = finite.analytic_lambda_max(spec, train, method="maml", adapt=ADAPT)
    assert abs(info["lambda_max"] / analytic - 1) < 0.25, (info["lambda_max"], analytic)
    assert info["converged"]


def test_diverging_step_is_undone_and_halved(tasks):
    train, test = tasks
    spec = nb.MLPSpec(depth=1, width=128)
    _, info = finite.fit_predict(spec, train, test, method="anil", adapt=ADAPT, lr_scale=20.0, return_info=True)
    assert info["lr_halvings"] >= 2 and info["converged"], info["lr_halvings"]
    assert np.all(np.isfinite(info["history"])) and np.isclose(info["history"][0], info["initial_loss"], rtol=1e-5)


def test_untrained_centered_mtl_is_head_finetuning_from_zero(tasks):
    """Head-only adaptation of a linear head is exactly ``Sigma(X', X) T Y`` with the net's own Sigma."""
    train, test = tasks
    spec = nb.MLPSpec(depth=2, width=64)
    with x64():
        pred = finite.fit_predict(spec, train, test, method="mtl-shared", adapt=ADAPT, outer_steps=0,
                                  dtype="float64")
        prep = finite.prepare(spec, train, test, method="mtl-shared", dtype="float64")
        kfn = lambda x1, x2=None: nb.kernels.empirical(spec, prep.test_base, x1, x2)  # noqa: E731
        ref = predict.no_transfer_from_kernels(kfn, test, adapt=ADAPT)
    assert rel_err(pred, ref) < 1e-10


LINEAR_CASES = [("mtl-shared", "disjoint", ADAPT), ("anil", "disjoint", ADAPT), ("anil", "same", ADAPT),
                ("maml", "disjoint", Adaptation(lr=2.0, steps=3)), ("maml", "same", ADAPT),
                ("fomaml", "disjoint", Adaptation(lr=2.0, steps=3)), ("anil", "disjoint", Adaptation(2.0, 2, True))]


@pytest.mark.parametrize("method,split,adapt", LINEAR_CASES,
                         ids=[f"{m}-{s}-lr{a.lr}-{'flow' if a.flow else a.steps}" for m, s, a in LINEAR_CASES])
def test_trained_net_matches_its_linearization(tasks, method, split, adapt):
    """Small targets keep training linear: the trained net equals the closed form on its empirical kernels.

    Targets x1e-5 move each ReLU's pre-activations too little to flip any: with x1e-3 (before) one flip
    changes the empirical kernel by O(1/width), and over 12 initializations the error reached 5.9e-3 (MTL)
    to 1.1e-2 (FOMAML) against the bound 1e-2, whatever the training tolerance (measured 2026-12-04; 0.9
    decades of spread in log10).  At x1e-5, trained to 1e-14 of the initial loss, the 12 initializations
    give 2e-7..1.4e-6 (log10 sd 0.1) for the discrete inner loops, so 1e-4 is 20 sd away; the flow case
    carries the 50-substep discretization of the flow, 9.3e-4..1.3e-3 (log10 sd 0.07), bound 5e-3."""
    train, test = tasks
    spec = nb.MLPSpec(depth=1, width=256)
    with x64():
        prep = finite.prepare(spec, train, test, method=method, split=split, dtype="float64")
        kfn = lambda x1, x2=None: nb.kernels.empirical(spec, prep.test_base, x1, x2)  # noqa: E731
        if method == "mtl-shared":
            ref = predict.mtl_from_kernels(kfn, train, test, heads="shared", adapt=adapt)
        else:
            ref = predict.gbml_from_kernels(kfn, train, test, algo=method, adapt=adapt, split=split)
        # the first-order closed form is far from the second-order one here
        ref2 = predict.gbml_from_kernels(kfn, train, test, algo="maml", adapt=adapt, split=split)
    pred = finite.fit_predict(spec, train, test, method=method, adapt=adapt, split=split, dtype="float64",
                              target_scale=1e-5, flow_substeps=50, tol=1e-14, outer_steps=20000)
    assert rel_err(pred, ref) < (5e-3 if adapt.flow else 1e-4)
    if method == "fomaml":
        assert rel_err(ref2, ref) > 0.1


def test_float32_matches_float64(tasks):
    train, test = tasks
    spec = nb.MLPSpec(depth=2, width=128)
    a, info = finite.fit_predict(spec, train, test, method="anil", adapt=ADAPT, device="cpu", return_info=True)
    b = finite.fit_predict(spec, train, test, method="anil", adapt=ADAPT, dtype="float64")
    assert rel_err(a, b) < TOL[np.dtype(np.float32)]
    assert info["device"].startswith("cpu") and info["dtype"] == "float32"


def test_outer_gradients_second_and_first_order(tasks):
    """MAML's gradient = finite differences of its loss; FOMAML's = the query-loss gradient at adapted params."""
    with x64():
        _check_outer_gradients(*tasks)


def _check_outer_gradients(train, _):
    spec = nb.MLPSpec(depth=1, width=32)
    adapt = Adaptation(lr=2.0, steps=3)
    prep = finite.prepare(spec, train, train, method="maml", dtype="float64")
    zero = jax.tree_util.tree_map(jnp.zeros_like, prep.base)
    grads = {}
    for m in ("maml", "fomaml"):
        grads[m] = jax.grad(finite.loss, argnums=1)(finite.problem(spec, m, adapt), zero, prep.base, prep.train)
    flat = {m: jnp.concatenate([g.ravel() for g in jax.tree_util.tree_leaves(v)]) for m, v in grads.items()}
    assert rel_err(flat["fomaml"], flat["maml"]) > 0.05  # the second-order term is not negligible

    # second order: directional finite difference of the true MAML loss
    cfg = finite.problem(spec, "maml", adapt)
    v = jax.tree_util.tree_map(lambda a: jax.random.normal(jax.random.PRNGKey(3), a.shape, a.dtype), zero)
    eps = 1e-5
    loss = lambda d: finite.loss(cfg, d, prep.base, prep.train)  # noqa: E731
    shift = lambda s: jax.tree_util.tree_map(lambda a: s * eps * a, v)  # noqa: E731
    fd = (loss(shift(1.0)) - loss(shift(-1.0))) / (2 * eps)
    directional = sum(jnp.vdot(g, a) for g, a in zip(jax.tree_util.tree_leaves(grads["maml"]),
                                                     jax.tree_util.tree_leaves(v)))
    assert abs(float(fd - directional)) < 1e-6 * abs(float(directional))

    # first order: adapt each task by hand, gradient of its query loss at the adapted parameters
    def task_grad(xs, ys, xq, yq):
        p = prep.base
        sq = lambda p, x, y: 0.5 * jnp.sum((spec.apply(p, x) - spec.apply(prep.base, x) - y) ** 2)  # noqa: E731
        for _ in range(adapt.steps):
            p = jax.tree_util.tree_map(lambda a, g: a - adapt.lr * g, p, jax.grad(sq)(p, xs, ys))
        return jax.grad(sq)(p, xq, yq)

    manual = [task_grad(*(jnp.asarray(a[i]) for a in (train.xs, train.ys, train.xq, train.yq)))
              for i in range(train.n_tasks)]
    manual = jnp.concatenate([sum(leaves).ravel() for leaves in zip(*map(jax.tree_util.tree_leaves, manual))])
    assert rel_err(flat["fomaml"], manual) < 1e-10


@pytest.mark.slow
def test_finite_approaches_closed_form_with_width(tmp_path):
    """Error to the infinite-width closed form at width 2048 well below the error at width 128 (2 seeds).

    Slow tier (a minute, second-order MAML at width 2048); the fast tier checks the same approach for
    MTL and ANIL (tests/test_finite_width.py, tests/test_experiments.py::test_width_tiny_records_match_closed_form).
    """
    cfg = width.Config(tasks=TaskConfig(n_train=4, n_test=2, n_support=5, n_query=5, options=(("dim", 8),)),
                       depths=(1,), widths=(128, 2048), methods=width.ALL_METHODS, seeds=2, lr=ADAPT.lr,
                       steps=ADAPT.steps, split="disjoint", n_boot=20)
    record = width.run(cfg, tmp_path)
    summary = width.read(record)
    assert summary.excluded == ()
    for method in cfg.methods:
        small, large = (e.mean for e in summary.err(1, method))
        assert large < 0.6 * small, (method, small, large)
    assert max(r["result"]["steps"] for r in nb.store.points_of(tmp_path, record)) < 3000


def test_cross_head_kernel_shrinks_with_width(tasks):
    x = tasks[0].merged()[0].reshape(-1, 8)
    spec = nb.MLPSpec(depth=2)
    ratio = {w: np.mean([finite.cross_head_kernel(spec.replace(width=w), x, seed=s)["ratio"] for s in range(12)])
             for w in (64, 1024)}
    # O(width^-1/2): a factor 4 over 16x the width; demand at least 2.5.  Measured (16 seeds, 2026-12-04): factor
    # 4.2, one seed's log-ratio spreads by 0.31 (width 64) and 0.21 (1024), so over 12 seeds log(4.2 / 2.5) is
    # 5 standard errors (3 seeds, before: 2.5, a 0.6% false-failure rate)
    assert ratio[1024] < ratio[64] / 2.5, ratio
    assert ratio[1024] < 0.1, ratio


def test_ensemble_is_the_mean_of_its_members(tasks):
    train, test = tasks
    spec = nb.MLPSpec(depth=1, width=64)
    kw = dict(method="anil", adapt=ADAPT, centered=False)
    both = finite.fit_predict(spec, train, test, n_ensemble=2, seed=5, **kw)
    each = [finite.fit_predict(spec, train, test, seed=s, **kw) for s in (5, 6)]
    assert rel_err(both, (each[0] + each[1]) / 2) < 1e-6
    assert rel_err(each[0], each[1]) > 1e-2  # the members differ


@pytest.mark.parametrize("kwargs,field", [
    ({"method": "reptile"}, "method"),
    ({"split": "mixed"}, "split"),
    ({"dtype": "float16"}, "dtype"),
    ({"device": "tpu"}, "device"),
    ({"n_ensemble": 0}, "n_ensemble"),
    ({"outer_steps": -1}, "outer_steps"),
    ({"lr_scale": 0.0}, "lr_scale"),
    ({"momentum": 1.0}, "momentum"),
    ({"target_scale": -1.0}, "target_scale"),
    ({"adapt": (0.5, 5)}, "adapt"),
    ({"centered": 1}, "centered"),
    ({"seed": 1.5}, "seed"),
])
def test_bad_input_names_the_field(tasks, kwargs, field):
    train, test = tasks
    with pytest.raises(ValueError, match=field):
        finite.fit_predict(nb.MLPSpec(depth=1, width=8), train, test, **kwargs)


def test_mismatched_dims_raise(tasks):
    train, test = tasks
    other = nb.tasks.shared_feature(2, 5, 5, dim=4, seed=2)
    with pytest.raises(ValueError, match="xs"):
        finite.fit_predict(nb.MLPSpec(depth=1, width=8), train, other)
    with pytest.raises(ValueError, match="out_dim"):
        finite.fit_predict(nb.MLPSpec(depth=1, width=8, out_dim=2), train, test)


def _benchmark(name):
    path = pathlib.Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_width_benchmark_smoke():
    out = _benchmark("width_gpu").main(["--widths", "16", "32", "--methods", "anil", "--seeds", "1"])
    row = out["methods"]["anil"]
    assert row["widths"] == [16, 32] and len(row["gap"][0]) == 2 and row["slope"] is not None


def test_train_cost_benchmark_smoke():
    """The benchmark reports the harness's times; its ratios are those of the methods' own median times."""
    out = _benchmark("train_cost").main(["--quick"])
    assert len(out["sizes"]) == 2
    for size in out["sizes"]:
        times = size["methods"]
        assert all(v["per_step_s"] > 0 and len(v["per_step_all_s"]) == out["repeats"] for v in times.values())
        for m, v in times.items():  # against the medians recomputed from the raw per-call times
            median = np.median(v["per_step_all_s"]) / np.median(times["mtl-shared"]["per_step_all_s"])
            assert size["ratio_to_mtl"][m] == pytest.approx(median, rel=1e-12)
    # the harness's arithmetic against a clock the test controls: tests/test_finite_timing.py


def test_sweep_net_benchmark_smoke():
    """The benchmark trains the sweep's own points: a tiny MAML net at L = 1, n = 16, twice."""
    out = _benchmark("sweep_net").main(["--methods", "maml", "--depth", "1", "--width", "16", "--seeds", "2",
                                        "--outer-steps", "20"])
    nets = out["methods"]["maml"]["nets"]
    assert [n["seed"] for n in nets] == [0, 1] and all(n["wall_s"] >= n["train_s"] > 0 for n in nets)
    assert out["methods"]["maml"]["first_net_s"] == nets[0]["wall_s"]
