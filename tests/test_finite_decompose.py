"""The decomposition of a trained net's error (theory.md §8) and the kernel-regime schedule (issue #14).

The linearized net is computed independently here, in parameter space from the explicit
Jacobians of the engine's own initial net (``finite.prepare``'s draw, seed for seed): inner
loops as explicit GD steps on the linear model, outer training as its minimum-norm limit
from zero (what GD from ``d = 0`` converges to).  It must equal ``finite.linearized_predict``
(the closed form fed the empirical kernels) to 1e-8 in float64, for every method.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import ntk_bridge as nb
from ntk_bridge import finite, metrics
from ntk_bridge.finite.decompose import empirical_kernel_fn, initial_params
from ntk_bridge.precision import x64
from ntk_bridge.predict import Adaptation

SPEC = nb.MLPSpec(depth=2, width=24)
ADAPT = Adaptation(0.05, 3)
TOL = 1e-8
_TRAIN = nb.tasks.make("shared-feature", 3, n_support=2, n_query=2, dim=4, seed=0)
_TEST = nb.tasks.make("shared-feature", 2, n_support=2, n_query=2, dim=4, seed=1)


def _images(tasks, seed):
    """``tasks`` with its inputs replaced by random 4x4x2 images (labels kept): a conv net's tasks."""
    rng = np.random.default_rng(seed)
    img = lambda x: rng.standard_normal(x.shape[:2] + (4, 4, 2)) / 4.0   # noqa: E731
    return nb.TaskSet(img(tasks.xs), tasks.ys, img(tasks.xq), tasks.yq)


# The check runs on an MLP and on a conv net (theory.md §11: its empirical kernels from its Jacobians).
NETS = {"mlp": (SPEC, _TRAIN, _TEST),
        "conv": (nb.ConvSpec(depth=2, channels=6, b_std=0.2, image_shape=(4, 4, 2)), _images(_TRAIN, 0),
                 _images(_TEST, 1))}


def _engine_p0(seed, net="mlp"):
    """The engine's initial net, read off ``finite.prepare`` (float64): not re-drawn here."""
    spec, train, test = NETS[net]
    with x64():
        prep = finite.prepare(spec, train, test, method="anil", seed=seed, dtype="float64")
        return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), prep.base)


class Lin:
    """Explicit Jacobians of the net ``p0`` (single output) of ``spec`` and its head mask."""

    def __init__(self, p0, spec=SPEC):
        self.spec = spec
        with x64():
            self.flat0, self.unravel = ravel_pytree(p0)
            mask = {"body": jax.tree_util.tree_map(jnp.zeros_like, p0["body"]),
                    "head": jax.tree_util.tree_map(jnp.ones_like, p0["head"])}
            self.head = np.asarray(ravel_pytree(mask)[0])
        self._cache = {}

    def jac(self, x):
        key = np.asarray(x).tobytes()
        if key not in self._cache:
            with x64():
                f = lambda flat, xx: self.spec.apply(self.unravel(flat), xx)[..., 0]
                self._cache[key] = np.asarray(jax.jacobian(f)(self.flat0, jnp.asarray(x)))
        return self._cache[key]

    def adapt(self, d, x, y, mask, f0=0.0):
        """``ADAPT.steps`` GD steps on ``0.5 ||f0(x) + J(x) d - y||^2`` over the masked parameters (affine in ``d``)."""
        j = self.jac(x)
        mask = mask if d.ndim == 1 else mask[:, None]
        y = (y - f0) if d.ndim == 1 else (y - f0)[:, None]
        for _ in range(ADAPT.steps):
            d = d - ADAPT.lr * mask * (j.T @ (j @ d - y))
        return d

    def f0(self, x):
        """The net's own initial outputs ``f(x; p0)`` (single output)."""
        with x64():
            return np.asarray(self.spec.apply(self.unravel(self.flat0), jnp.asarray(x)))[..., 0]


def _min_norm(a, b, y):
    """``argmin ||d||`` of ``a d + b = y``: GD from zero on ``0.5 ||a d + b - y||^2`` converges there."""
    return a.T @ np.linalg.solve(a @ a.T, y - b)


def _affine(fn, size):
    """``fn(d) = A d + b`` as ``(A, b)`` (``fn`` affine and vectorized over columns of ``d``)."""
    b = fn(np.zeros((size, 1)))[:, 0]
    return fn(np.eye(size)) - b[:, None], b


def _independent(method, split, seed, uncentered=False, net="mlp"):
    """The linearized net in parameter space (explicit Jacobians, minimum-norm limits); ``uncentered``: started
    from the net's own initial outputs ``f0`` instead of zero (theory.md §9)."""
    spec, tr, te = NETS[net]
    lin = Lin(_engine_p0(seed, net), spec)
    f0 = lin.f0 if uncentered else (lambda x: np.zeros(np.shape(x)[0]))
    size = lin.flat0.size
    inner = lin.head if method in ("anil", "mtl-shared") else np.ones(size)
    if method == "mtl-shared":  # body + one head per task, every head starting at w0
        x, y = tr.merged()
        js = [lin.jac(x[i]) for i in range(tr.n_tasks)]
        body = 1.0 - lin.head
        n_head = int(lin.head.sum())
        hidx = np.flatnonzero(lin.head)
        a = np.zeros((sum(j.shape[0] for j in js), size + tr.n_tasks * n_head))
        row = 0
        for i, j in enumerate(js):
            a[row:row + j.shape[0], :size] = j * body
            a[row:row + j.shape[0], size + i * n_head:size + (i + 1) * n_head] = j[:, hidx]
            row += j.shape[0]
        sol = _min_norm(a, np.concatenate([f0(x[i]) for i in range(tr.n_tasks)]), y[..., 0].ravel())
        d_test = sol[:size] * body  # the test net: trained body, common initial head w0
    else:
        if split == "same":
            xin, yin = tr.merged()
            xout, yout = xin, yin
        else:
            xin, yin, xout, yout = tr.xs, tr.ys, tr.xq, tr.yq

        def meta(d):
            return np.concatenate([(f0(xout[i]) if d.ndim == 1 else f0(xout[i])[:, None])
                                   + lin.jac(xout[i]) @ lin.adapt(d, xin[i], yin[i, :, 0], inner, f0(xin[i]))
                                   for i in range(tr.n_tasks)])

        a, b = _affine(meta, size)
        target = yout[..., 0].ravel()
        if method == "fomaml":  # first-order fixed point: sum_i J(X'_i)^T r_i = 0, d in the span of the J(X'_i)^T
            jq = np.concatenate([lin.jac(xout[i]) for i in range(tr.n_tasks)])
            d_test = jq.T @ np.linalg.solve(a @ jq.T, target - b)
        else:
            d_test = _min_norm(a, b, target)
    out = [f0(te.xq[i]) + lin.jac(te.xq[i]) @ lin.adapt(d_test, te.xs[i], te.ys[i, :, 0], inner, f0(te.xs[i]))
           for i in range(te.n_tasks)]
    return np.stack(out)[..., None]


@pytest.mark.parametrize("net", ["mlp", "conv"])
@pytest.mark.parametrize("method,split", [("mtl-shared", "same"), ("anil", "same"), ("anil", "disjoint"),
                                          ("maml", "same"), ("fomaml", "same")])
def test_linearized_equals_empirical_closed_form(method, split, net):
    seed = 3
    spec, train, test = NETS[net]
    ref = _independent(method, split, seed, net=net)
    got = finite.linearized_predict(spec, train, test, method=method, adapt=ADAPT, split=split, seed=seed)
    assert metrics.rel_gap(got, ref) < TOL
    other = _independent(method, split, seed + 1, net=net)  # another seed is another net: the seed really is used
    assert metrics.rel_gap(other, ref) > 1e-3


@pytest.mark.parametrize("method,split", [("mtl-shared", "same"), ("anil", "same"), ("anil", "disjoint"),
                                          ("maml", "same"), ("fomaml", "disjoint")])
def test_uncentered_linearized_net_is_affine_in_f0(method, split):
    """theory.md §9: the linearized net started from its own initial outputs f0 (parameter space, above) equals
    ``predict.uncentered``: the centered closed form on the net's empirical kernels plus ``M f0``."""
    from ntk_bridge.predict import predictive

    seed = 2
    ref = _independent(method, split, seed, uncentered=True)
    p0 = initial_params(SPEC, _TRAIN, _TEST, method=method, split=split, seed=seed)
    lin = Lin(_engine_p0(seed))
    f_train = np.stack([lin.f0(x) for x in _TRAIN.merged()[0]])[..., None]
    f_test = np.stack([lin.f0(x) for x in np.concatenate([_TEST.xs, _TEST.xq], axis=1)])[..., None]
    m = nb.methods.parse(method, split=split)
    got = predictive.uncentered(m, empirical_kernel_fn(SPEC, p0), _TRAIN, _TEST, f_train, f_test, adapt=ADAPT)
    assert metrics.rel_gap(got, ref) < TOL
    centered = _independent(method, split, seed)
    assert metrics.rel_gap(ref, centered) > 1e-2      # f0 matters: the check can fail


def test_engine_trains_the_same_p0():
    """The engine's untrained centered net (head-only test loop: exactly linear) = the closed form at t = 0."""
    pred = finite.fit_predict(SPEC, _TRAIN, _TEST, method="anil-same", adapt=ADAPT, seed=3, outer_steps=0,
                              dtype="float64")
    p0 = initial_params(SPEC, _TRAIN, _TEST, method="anil-same", seed=3)
    want = nb.predict.closed_form("anil-same", empirical_kernel_fn(SPEC, p0), _TRAIN, _TEST, adapt=ADAPT, t=0.0)
    assert metrics.rel_gap(pred, want) < 1e-8


def test_decompose_triangle_and_fresh():
    out = finite.decompose(SPEC, _TRAIN, _TEST, method="anil-same", adapt=ADAPT, seed=0, outer_steps=400)
    assert out["err"] <= out["fluctuation"] + out["drift"] + 1e-12
    assert metrics.rel_gap(out["linearized"], finite.linearized_predict(
        SPEC, _TRAIN, _TEST, method="anil-same", adapt=ADAPT, seed=0)) == 0.0
    fresh = finite.decompose(SPEC, _TRAIN, _TEST, method="anil-same", test_head="fresh", adapt=ADAPT, seed=0,
                             outer_steps=50)
    assert fresh["linearized"] is None and fresh["drift"] is None and fresh["err"] > 0
    assert fresh["err"] <= fresh["fluctuation"] + fresh["seen"] + 1e-12


def test_one_training_both_heads():
    """``both_heads``: one training read under both protocols equals two separate trainings, one per
    protocol (the fresh head does not enter the outer loop); untrained, the fresh part's net is exactly
    its own empirical-kernel closed form (head-only test loop: linear), so ``seen`` is 0."""
    kw = dict(adapt=ADAPT, seed=1, outer_steps=60, dtype="float64")
    both = finite.decompose(SPEC, _TRAIN, _TEST, method="anil-same", both_heads=True, **kw)
    for head in ("trained", "fresh"):
        alone = finite.decompose(SPEC, _TRAIN, _TEST, method="anil-same", test_head=head, **kw)
        assert metrics.rel_gap(both[head]["trained"], alone["trained"]) < 1e-12
        assert both[head]["err"] == pytest.approx(alone["err"], rel=1e-10)
    assert metrics.rel_gap(both["trained"]["trained"], both["fresh"]["trained"]) > 1e-2   # another head: another prediction
    untrained = finite.decompose(SPEC, _TRAIN, _TEST, method="mtl-shared", both_heads=True,
                                 **dict(kw, outer_steps=0))
    assert untrained["fresh"]["seen"] < 1e-8   # (the trained part's linearization is trained to convergence: not 0)
    assert untrained["info"]["prediction_errors"] == {}


def test_loss_monitor():
    mon = finite.loss_monitor([4.0, 2.0, 2.1, 1.0], 0.5)
    assert mon["rises"] == 1 and mon["max_step_ratio"] == pytest.approx(1.05)
    assert not mon["left_kernel_regime"] and mon["max_loss_ratio"] == 1.0
    mon = finite.loss_monitor([1.0, 3.0, 0.1])
    assert mon == {"rises": 1, "max_step_ratio": 3.0, "max_loss_ratio": 3.0, "left_kernel_regime": True}


def test_default_schedule_monotone_and_recorded():
    """Default schedule: empirical lambda_max, momentum 0: the loss never rises; the info says so."""
    _, info = finite.fit_predict(SPEC, _TRAIN, _TEST, method="mtl-shared", adapt=ADAPT, outer_steps=200,
                                 return_info=True)
    assert info["schedule"] == finite.SCHEDULE
    assert info["left_kernel_regime"] is False and info["max_step_ratio"] <= 1.0 + 1e-6
    _, heavy = finite.fit_predict(SPEC, _TRAIN, _TEST, method="mtl-shared", adapt=ADAPT, outer_steps=200,
                                  lr_from="analytic", lr_scale=2.0, momentum=0.7, return_info=True)
    assert heavy["schedule"] != finite.SCHEDULE and heavy["rises"] >= 0
