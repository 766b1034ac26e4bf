"""The paper's test protocol (theory.md §6): a fresh random head of the seed on the trained body.

* untrained (``outer_steps=0``), the fresh-head prediction is exactly the no-transfer fine-tuning
  with the empirical kernels of the net *with that head* (float64): the head is the fresh one
  and the centering subtracts the net's own initial output with it;
* trained, it approaches the infinite-width mean, which is the no-transfer baseline
  (``nb.predict.closed_form``), like ``width^-1/2``, while the trained-head protocol stays O(1)
  away from it (the check can tell the protocols apart).
"""
import jax
import numpy as np
import pytest
from conftest import rel_err

import ntk_bridge as nb
from ntk_bridge import finite, methods, metrics, predict
from ntk_bridge.precision import x64
from ntk_bridge.predict import Adaptation

ADAPT = Adaptation(lr=0.5, steps=5)


@pytest.fixture(scope="module")
def tasks():
    return nb.tasks.shared_feature(4, 5, 5, dim=8, seed=1), nb.tasks.shared_feature(2, 5, 5, dim=8, seed=2)


def test_one_fresh_head_per_seed_for_every_method(tasks):
    train, test = tasks
    spec = nb.MLPSpec(depth=1, width=16)
    heads = [finite.prepare(spec, train, test, method=m, test_head="fresh", seed=3).test_base["head"]
             for m in finite.METHODS]
    for h in heads[1:]:
        leaves = zip(jax.tree_util.tree_leaves(h), jax.tree_util.tree_leaves(heads[0]))
        assert all(np.array_equal(a, b) for a, b in leaves)
    init_head = finite.prepare(spec, train, test, method="anil", seed=3).base["head"]
    other_seed = finite.fresh_head(spec, 4)
    assert not np.allclose(heads[0][0], init_head[0]) and not np.allclose(heads[0][0], other_seed[0])


@pytest.mark.parametrize("method", ["mtl-shared", "anil", "maml", "fomaml"])
def test_untrained_fresh_head_is_finetuning_with_that_head(tasks, method):
    train, test = tasks
    spec = nb.MLPSpec(depth=2, width=64)
    m = methods.parse(method, test_head="fresh")
    # MAML/FOMAML adapt the nonlinear net: tiny targets keep that adaptation linear (error ~ scale)
    kw = dict(adapt=ADAPT, outer_steps=0, dtype="float64", target_scale=1.0 if m.inner == "head" else 1e-6)
    tol = 1e-10 if m.inner == "head" else 1e-5
    with x64():
        pred, info = finite.fit_predict(spec, train, test, method=m, return_info=True, **kw)
        head = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), finite.fresh_head(spec, 0))
        p0 = finite.prepare(spec, train, test, method=method, dtype="float64").base
        net = {"body": p0["body"], "head": head}
        kfn = lambda x1, x2=None: nb.kernels.empirical(spec, net, x1, x2)  # noqa: E731
        ref = predict.no_transfer_from_kernels(kfn, test, adapt=ADAPT, inner=m.inner)
        trained_head = finite.fit_predict(spec, train, test, method=method, **kw)
    assert info["init_output_max_abs"] == 0.0  # centered with the fresh head
    assert rel_err(pred, ref) < tol
    if m.inner == "all":  # MAML's inner kernel depends on the head: the protocols differ even untrained
        assert rel_err(trained_head, ref) > 1e-3


@pytest.mark.parametrize("method", ["mtl-shared", "anil", pytest.param("maml", marks=pytest.mark.slow)])
def test_trained_fresh_head_approaches_no_transfer_with_width(tasks, method):
    train, test = tasks
    spec = nb.MLPSpec(depth=1)
    kfn = predict.analytic(spec)
    fresh = methods.parse(method, test_head="fresh")
    baseline = predict.closed_form(fresh, kfn, train, test, adapt=ADAPT)
    np.testing.assert_allclose(baseline, predict.no_transfer(spec, test, adapt=ADAPT, inner=fresh.inner), rtol=1e-12)
    gap = {w: np.mean([metrics.rel_gap(finite.fit_predict(spec.replace(width=w), train, test, method=fresh,
                                                          adapt=ADAPT, seed=s), baseline) for s in range(6)])
           for w in (128, 2048)}
    trained = finite.fit_predict(spec.replace(width=2048), train, test, method=method, adapt=ADAPT)
    # Per initialization (8 seeds, jax 0.10.2): 0.27-0.32 +- 0.08-0.10 at width 128, 0.065 +- 0.016 at 2048, and
    # their ratio 0.23-0.27 +- 0.09-0.12 (width^-1/2 predicts 0.25): one seed's ratio exceeds 0.4 about once in
    # seven.  Means over 6 seeds: the ratio's sd ~0.037, so 0.4 is 4 sd away, and 0.15 is 13 sd from 0.065.
    # The trained head: 1.5-2.6.
    assert gap[2048] < 0.15 and gap[2048] < 0.4 * gap[128], gap
    assert metrics.rel_gap(trained, baseline) > 1.0
