"""No silent wrong answers from finite training: each guard against an independent computation of its cause.

* an inner loop past its stability edge (``lr * lambda_max > 2``, lambda_max of the net's own
  empirical inner kernel, recomputed here with NumPy) raises ``NotComputable`` naming the
  bound, for the test-time fine-tuning (MTL) and for GBML's training inner loop, and not
  below the bound;
* a degenerate net (``width=1``, seed 0: its one unit is dead on every point, a zero
  Jacobian) raises instead of predicting zeros;
* outer training that diverges at every step size raises.
"""
import re

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import finite
from ntk_bridge.errors import NotComputable
from ntk_bridge.predict import Adaptation

SPEC = nb.MLPSpec(depth=2, width=32)


@pytest.fixture(scope="module")
def small():
    """The tasks of the reported bug (issue #12): MSE 214 at lr 5 without an error, 0.57 at lr 0.1."""
    return (nb.tasks.shared_feature(4, 3, 4, dim=4, seed=0), nb.tasks.shared_feature(3, 3, 4, dim=4, seed=1))


def _lambda_max(spec, params, x, kernel):
    """Largest eigenvalue over tasks of the empirical ``kernel`` blocks on ``x (tasks, p, d)``, NumPy float64."""
    out = []
    for xi in np.asarray(x, dtype=np.float64):
        k = getattr(nb.kernels.empirical(spec, params, xi), kernel)
        out.append(np.linalg.eigvalsh(np.asarray(k, dtype=np.float64))[-1])
    return max(out)


@pytest.mark.parametrize("lr_from", ["analytic", "power"])
def test_reported_divergence_raises(small, lr_from):
    train, test = small
    with pytest.raises(NotComputable, match=r"inner loop diverges on the test supports.*lower adapt\.lr below"):
        finite.fit_predict(SPEC, train, test, method="mtl-independent", adapt=Adaptation(5.0, 3), outer_steps=300,
                           lr_from=lr_from)
    pred = finite.fit_predict(SPEC, train, test, method="mtl-independent", adapt=Adaptation(0.1, 3),
                              outer_steps=300, lr_from=lr_from)
    assert nb.metrics.mse(pred, test.yq) < 3.0  # a sane fit; 214 was the silent wrong answer


def test_test_time_edge_is_the_empirical_sigma_bound(small):
    """The bound in the message is 2 / lambda_max(Sigma) of the test net; 1.05x it raises, 0.9x it trains."""
    train, test = small
    prep = finite.prepare(SPEC, train, test, method="mtl-independent")
    lam = _lambda_max(SPEC, prep.test_base, test.xs, "sigma")
    with pytest.raises(NotComputable, match="at initialization") as err:
        finite.fit_predict(SPEC, train, test, method="mtl-independent", adapt=Adaptation(1.05 * 2 / lam, 3),
                           outer_steps=3)
    bound = float(re.search(r"below ([0-9.e+-]+)", str(err.value)).group(1))
    assert bound == pytest.approx(2 / lam, rel=1e-3)
    _, info = finite.fit_predict(SPEC, train, test, method="mtl-independent", adapt=Adaptation(0.9 * bound, 3),
                                 outer_steps=0, return_info=True)  # (training moves Sigma: this net's by ~10%)
    assert info["inner_edge"]["init"]["test"] == pytest.approx(0.9 * bound * lam, rel=1e-3)
    # gradient flow has no edge: the same lr trains (its substeps are far below it)
    finite.fit_predict(SPEC, train, test, method="mtl-independent", adapt=Adaptation(1.05 * bound, 3, flow=True),
                       outer_steps=3)


def test_training_inner_loop_edge_is_checked(small):
    """MAML on support ∪ query (split same) adapts on more points than the test supports: a larger
    lambda_max(Theta).  An lr between the two edges is caught on the training tasks' inner sets."""
    train, test = small
    prep = finite.prepare(SPEC, train, test, method="maml-same")
    lam_train = _lambda_max(SPEC, prep.base, np.concatenate([train.xs, train.xq], axis=1), "theta")
    lam_test = _lambda_max(SPEC, prep.test_base, test.xs, "theta")
    assert lam_train > 1.2 * lam_test
    with pytest.raises(NotComputable, match=r"at initialization.*training tasks' inner sets.*Theta"):
        finite.fit_predict(SPEC, train, test, method="maml-same", adapt=Adaptation(1.05 * 2 / lam_train, 2),
                           outer_steps=0)
    _, info = finite.fit_predict(SPEC, train, test, method="maml-same", adapt=Adaptation(0.95 * 2 / lam_train, 2),
                                 outer_steps=0, lr_from="power", return_info=True)  # (the analytic kernel may
    # be past its own edge at this lr: the outer step is then taken from the net's)
    assert info["inner_edge"]["init"]["train"] == pytest.approx(1.9, rel=1e-3)


@pytest.mark.parametrize("method", ["mtl-shared", "anil", "maml"])
def test_width_one_is_degenerate(small, method):
    train, test = small
    spec = nb.MLPSpec(depth=2, width=1)
    prep = finite.prepare(spec, train, test, method=method)
    for t in (train, test):  # seed 0: its one unit is dead on every point
        assert np.all(np.asarray(spec.features(prep.test_base["body"], np.concatenate([t.xs, t.xq], 1))) == 0)
    with pytest.raises(NotComputable, match=r"degenerate at width 1.*wider net"):
        finite.fit_predict(spec, train, test, method=method, adapt=Adaptation(0.1, 3), outer_steps=3)
    finite.fit_predict(spec.replace(width=64), train, test, method=method, adapt=Adaptation(0.1, 3), outer_steps=3)


def test_outer_divergence_raises(small):
    train, test = small
    with pytest.raises(NotComputable, match="diverges even with the step"):
        finite.fit_predict(SPEC, train, test, method="anil", adapt=Adaptation(0.1, 3), lr_scale=1e6, outer_steps=400)
