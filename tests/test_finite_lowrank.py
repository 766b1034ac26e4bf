"""The low-rank GBML path (ntk_bridge.finite.lowrank) against the reference (plain autodiff through per-task weights).

Both compute the meta-outputs of every task and the outer loss's gradient (second order for
MAML/ANIL, first order for FOMAML); they must agree to rounding: 1e-5 relative in float32,
1e-10 in float64 (issue #13), over depths 1-8, widths 16-512, multi-output heads, ``flow=True``
(a scanned inner loop) and both per-layer forms (low rank, dense per task).  Also: a finite
difference of the fast loss (an independent check that its gradient is the loss's derivative),
and ``fit_predict`` training MAML through the fast path unchanged in its result.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import rel_err

import ntk_bridge as nb
from ntk_bridge.finite import initial, lowrank, net
from ntk_bridge.finite.problem import problem, resolve
from ntk_bridge.precision import x64

TOL = {"float32": 1e-5, "float64": 1e-10}

# (method, depth, width, out_dim, flow, mode, b_std): every method, depth 1..8, width 16..512,
# k > 1, flow=True (scan), each per-layer form forced and chosen.
CASES = [
    ("maml", 1, 16, 1, False, "auto", 0.0),
    ("maml", 8, 64, 3, False, "auto", 0.0),
    ("maml", 2, 512, 2, False, "auto", 0.5),
    ("fomaml", 4, 128, 1, False, "lowrank", 0.3),
    ("fomaml", 1, 32, 2, True, "auto", 0.0),
    ("anil", 3, 256, 2, False, "auto", 0.2),
    ("maml", 2, 48, 1, True, "lowrank", 0.0),
    ("maml", 3, 64, 2, False, "dense", 0.1),
]


def _setup(method, depth, width, out_dim, flow, b_std, dtype, parameterization="ntk"):
    spec = nb.MLPSpec(depth=depth, width=width, out_dim=out_dim, b_std=b_std, parameterization=parameterization)
    train = nb.tasks.shared_feature(3, 4, 5, dim=6, out_dim=out_dim, seed=1)
    m = resolve(method)
    prep = initial.prepare(spec, train, train, method=m, dtype=dtype)
    cfg = problem(spec, m, nb.Adaptation(lr=0.2, steps=2, flow=flow), flow_substeps=5)
    leaves, tree = jax.tree_util.tree_flatten(prep.base)
    keys = jax.random.split(jax.random.PRNGKey(7), len(leaves))
    # a trained-looking delta (not zero), so that shared and per-task parts all matter
    delta = jax.tree_util.tree_unflatten(tree, [0.05 * jax.random.normal(k, a.shape).astype(a.dtype)
                                                for k, a in zip(keys, leaves)])
    return cfg, prep, delta


def _flat(tree):
    return np.concatenate([np.ravel(np.asarray(a, np.float64)) for a in jax.tree_util.tree_leaves(tree)])


# Other parameterizations (theory.md §12): per-layer multipliers and initial scales, the same two paths.
PARAM_CASES = [("mup", "maml", 2, 64, "auto"), ("mup", "maml", 3, 32, "lowrank"), ("standard", "maml", 2, 64, "dense")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("method,depth,width,out_dim,flow,mode,b_std,parameterization",
                         [c + ("ntk",) for c in CASES] + [(m, L, n, 1, False, mode, 0.0, p)
                                                          for p, m, L, n, mode in PARAM_CASES],
                         ids=[f"{c[0]}-L{c[1]}-n{c[2]}-k{c[3]}{'-flow' if c[4] else ''}-{c[5]}" for c in CASES]
                         + [f"{p}-{m}-L{L}-n{n}-{mode}" for p, m, L, n, mode in PARAM_CASES])
def test_fast_meta_outputs_and_gradient_equal_the_reference(method, depth, width, out_dim, flow, mode, b_std,
                                                            parameterization, dtype):
    with x64(dtype == "float64"):
        cfg, prep, delta = _setup(method, depth, width, out_dim, flow, b_std, dtype, parameterization)
        data, y = prep.train, prep.train["y_out"]

        def fast(d):
            return lowrank.meta_outputs(cfg, prep.base, d, data, cfg.first_order, mode)

        def ref(d):
            return net.reference_adapt_predict(cfg, prep.base, d, data, cfg.first_order)

        def value_and_grad(fn):  # ((loss, outputs), gradient), one compilation
            def loss(d):
                out = fn(d)
                return 0.5 * jnp.sum((out - y) ** 2), out
            return jax.jit(jax.value_and_grad(loss, has_aux=True))(delta)

        ((lf, out_f), gf), ((lr, out_r), gr) = value_and_grad(fast), value_and_grad(ref)
    assert gf["body"][0][0].dtype == np.dtype(dtype)
    kinds = lowrank.layer_kinds(cfg, data["x_in"].shape[1], data["x_in"].shape[-1], mode)
    if method == "anil":
        assert kinds == ("shared",) * depth + ("dense",)
    elif mode != "auto":
        assert set(kinds) == {mode}
    tol = TOL[dtype]
    assert rel_err(out_f, out_r) < tol, rel_err(out_f, out_r)
    assert abs(float(lf) / float(lr) - 1) < tol
    assert rel_err(_flat(gf), _flat(gr)) < tol, rel_err(_flat(gf), _flat(gr))
    for a, b in zip(jax.tree_util.tree_leaves(gf), jax.tree_util.tree_leaves(gr)):
        assert a.shape == b.shape


def test_layer_kinds_choose_the_smaller_form():
    spec = nb.MLPSpec(depth=3, width=512, out_dim=2)
    cfg = problem(spec, "maml", nb.Adaptation(lr=0.1, steps=5))
    # r = 5 * 5 = 25: the input layer (16 x 512) and the head (512 x 2) stay dense per task
    assert lowrank.layer_kinds(cfg, 5, 16) == ("dense", "lowrank", "lowrank", "dense")
    flow = problem(spec, "maml", nb.Adaptation(lr=0.1, steps=5, flow=True), flow_substeps=20)
    # r = 5 * 100 = 500: 500 * 1024 > 512^2, every layer dense per task
    assert lowrank.layer_kinds(flow, 5, 16) == ("dense",) * 4
    assert lowrank.layer_kinds(problem(spec, "anil", nb.Adaptation()), 5, 16) == ("shared",) * 3 + ("dense",)
    with pytest.raises(ValueError, match="mode"):
        lowrank.layer_kinds(cfg, 5, 16, mode="sparse")


def test_fast_gradient_matches_a_finite_difference():
    """float64 central difference of the fast loss along a random direction = its autodiff gradient."""
    with x64():
        cfg, prep, delta = _setup("maml", 3, 32, 2, False, 0.1, "float64")
        y = prep.train["y_out"]

        def loss(d):
            return 0.5 * jnp.sum((lowrank.meta_outputs(cfg, prep.base, d, prep.train, False, "lowrank") - y) ** 2)

        leaves, tree = jax.tree_util.tree_flatten(delta)
        keys = jax.random.split(jax.random.PRNGKey(3), len(leaves))
        v = jax.tree_util.tree_unflatten(tree, [jax.random.normal(k, a.shape, a.dtype) for k, a in zip(keys, leaves)])
        g = jax.grad(loss)(delta)
        h = 1e-5
        shift = lambda s: jax.tree_util.tree_map(lambda a, b: a + s * b, delta, v)  # noqa: E731
        fd = (float(loss(shift(h))) - float(loss(shift(-h)))) / (2 * h)
    directional = float(_flat(g) @ _flat(v))
    assert abs(fd / directional - 1) < 1e-6, (fd, directional)


def test_fit_predict_maml_uses_the_fast_path_and_matches_the_reference(monkeypatch):
    """A short MAML training run with the fast path (default) and with the reference swapped in."""
    spec = nb.MLPSpec(depth=2, width=64)
    train = nb.tasks.shared_feature(3, 4, 4, dim=6, seed=1)
    test = nb.tasks.shared_feature(2, 4, 4, dim=6, seed=2)
    kw = dict(method="maml", adapt=nb.Adaptation(0.2, 2), outer_steps=10, chunk=5, dtype="float64", return_info=True)
    calls = []
    real = lowrank.meta_outputs
    jax.clear_caches()  # the jitted trainers trace again, with the function patched in
    monkeypatch.setattr(lowrank, "meta_outputs", lambda *a, **k: calls.append(1) or real(*a, **k))
    fast, info_fast = nb.finite.fit_predict(spec, train, test, **kw)
    assert calls, "fit_predict did not train MAML through lowrank.meta_outputs"
    jax.clear_caches()
    monkeypatch.setattr(lowrank, "meta_outputs",
                        lambda cfg, base, delta, data, first_order, mode="auto":
                        net.reference_adapt_predict(cfg, base, delta, data, first_order))
    ref, info_ref = nb.finite.fit_predict(spec, train, test, **kw)
    assert info_fast["steps"] == info_ref["steps"] == 10
    assert rel_err(info_fast["history"], info_ref["history"]) < 1e-10
    assert rel_err(fast, ref) < 1e-10
