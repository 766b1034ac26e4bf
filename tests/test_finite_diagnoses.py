"""Each finite-fit diagnosis names the quantity it was computed from and the input that is out of range.

* training inputs 1e4x larger than the test inputs: no "degenerate" net (no hidden unit is dead);
  MTL trains and equals the closed form on the net's empirical kernels (a ReLU net without bias
  is homogeneous, so such inputs are the lazy regime of small targets); ANIL's head-only inner
  loop on them is past its edge, and the message says so with the inputs' norm;
* inputs so small (large) that the net's kernel underflows (overflows): the inputs' field, not a dead net;
* targets out of range (``target_scale=1e30`` in float32, targets 1e10 in float32 or 1e20 in
  float64): the targets, with their ratio to the net's output scale ``sqrt(Theta(x, x))``
  recomputed here;
* outer training that diverges because of its step: ``lr_scale``, not the targets or ``adapt.lr``;
* MAML's test-time loop blown up, within its edge, by test targets: the test targets, not ``adapt.lr``.
"""
import re

import numpy as np
import pytest
from conftest import rel_err

import ntk_bridge as nb
from ntk_bridge import finite
from ntk_bridge.errors import NotComputable
from ntk_bridge.predict import Adaptation

SPEC = nb.MLPSpec(depth=2, width=64)
ADAPT = Adaptation(0.1, 3)


@pytest.fixture(scope="module")
def small():
    return nb.tasks.shared_feature(4, 3, 4, dim=4, seed=0), nb.tasks.shared_feature(3, 3, 4, dim=4, seed=1)


def _scaled(ts, x=1.0, y=1.0):
    return nb.TaskSet(ts.xs * x, ts.ys * y, ts.xq * x, ts.yq * y)


def _ratio(train, target_scale=1.0):
    """Largest ``|target_scale * y|`` of the training targets over ``sqrt(mean Theta(x, x))`` of their inputs."""
    prep = finite.prepare(SPEC, train, train, method="mtl-shared")
    x, y = train.merged()
    theta = np.asarray(nb.kernels.empirical(SPEC, prep.test_base, x.reshape(-1, x.shape[-1])).theta, np.float64)
    return target_scale * np.max(np.abs(y)) / np.sqrt(np.mean(np.diag(theta)))


def _number(pattern, text):
    return float(re.search(pattern, text).group(1))


def test_large_training_inputs_train_mtl_to_its_linearization(small):
    train, test = small
    big = _scaled(train, x=1e4)
    pred = finite.fit_predict(SPEC, big, test, method="mtl-shared", adapt=ADAPT, seed=0)
    ref = finite.linearized_predict(SPEC, big, test, method="mtl-shared", adapt=ADAPT, seed=0)
    assert rel_err(pred, ref) < 1e-3  # (2.5e-5 measured; the unscaled inputs' linearization is 0.85 away)


def test_large_training_inputs_name_the_inner_loop_and_the_inputs(small):
    train, test = small
    with pytest.raises(NotComputable) as err:
        finite.fit_predict(SPEC, _scaled(train, x=1e4), test, method="anil", adapt=ADAPT, seed=0)
    msg = str(err.value)
    assert "degenerate" not in msg
    assert re.search(r"inner loop diverges on the training tasks' inner sets.*inputs up to \|x\| = 1e\+04.*"
                     r"lower adapt\.lr.*rescale the inputs", msg), msg


@pytest.mark.parametrize("x,cause", [(1e-25, r"underflows float32 on 28 points of train\.xs, train\.xq"),
                                     (1e20, r"overflows on train\.xs, train\.xq \(inputs up to \|x\| = 1e\+20\)")],
                         ids=["underflow", "overflow"])
def test_inputs_out_of_the_dtypes_range_name_their_field(small, x, cause):
    train, test = small
    with pytest.raises(ValueError) as err:
        finite.fit_predict(SPEC, _scaled(train, x=x), test, method="mtl-shared", adapt=ADAPT, seed=0)
    msg = str(err.value)
    assert "degenerate" not in msg
    assert re.search(cause + ".*rescale the inputs", msg), msg


@pytest.mark.parametrize("method", ["mtl-shared", "anil"])
def test_target_scale_out_of_range_names_target_scale(small, method):
    train, test = small
    with pytest.raises(NotComputable) as err:
        finite.fit_predict(SPEC, train, test, method=method, adapt=ADAPT, seed=0, target_scale=1e30)
    msg = str(err.value)
    assert "wider net" not in msg and "degenerate" not in msg
    assert re.search(r"initial outer loss is inf in float32.*target_scale x train\.ys.*lower target_scale", msg), msg
    assert _number(r"are ([0-9.e+-]+)x the net's output scale", msg) == pytest.approx(_ratio(train, 1e30), rel=1e-3)


@pytest.mark.parametrize("method,dtype,y,found", [
    # the first chunk diverges at every step size: delta stays 0, and its last step is 2^-8 / lambda_max
    ("mtl-shared", "float32", 1e10, r"diverges even with the step 256x smaller, although it is within the stability "
                                    r"edge of the net's linearization \(step x lambda_max = 0\.00391 <= 2\): the net "
                                    r"leaves its linearization"),
    # the inner loop's first step already leaves the linearization
    ("fomaml", "float64", 1e20, r"initial outer loss is nan in float64, with the net's kernel finite on every input, "
                                r"and its inner loops within their edges"),
], ids=["mtl-shared", "fomaml"])
def test_huge_targets_are_named_as_the_cause(small, method, dtype, y, found):
    train, test = small
    with pytest.raises(NotComputable) as err:
        finite.fit_predict(SPEC, _scaled(train, y=y), _scaled(test, y=y), method=method, adapt=ADAPT, seed=0,
                           dtype=dtype, outer_steps=400)
    msg = str(err.value)
    assert "lr_scale" not in msg and "adapt.lr" not in msg and "degenerate" not in msg
    assert re.search(found, msg), msg
    if "leaves its linearization" in found:   # the other fixes it names: the net's size, and float64 round-off
        assert f"widen the net (width {SPEC.width}); or train in float64 (dtype='float64')" in msg, msg
    assert re.search(r"the targets \(train\.ys, train\.yq, up to \|y\| = .*standardize train\.ys", msg), msg
    assert _number(r"are ([0-9.e+-]+)x the net's output scale", msg) == pytest.approx(_ratio(train) * y, rel=1e-3)


def test_outer_divergence_from_the_step_names_lr_scale(small):
    train, test = small
    with pytest.raises(NotComputable) as err:
        finite.fit_predict(SPEC, train, test, method="anil", adapt=ADAPT, lr_scale=1e6, outer_steps=400)
    msg = str(err.value)
    assert re.search(r"diverges even with the step 256x smaller.*> 2.*lower lr_scale", msg), msg
    assert "targets" not in msg and "adapt.lr" not in msg
    # the first chunk diverges at every step size: delta stays 0 and the last step is 1e6 / 2^8 / lambda_max
    assert _number(r"the net's \(meta-\)NTK = ([0-9.e+-]+)", msg) == pytest.approx(1e6 / 2 ** 8, rel=1e-3)


def test_non_finite_test_time_predictions_name_the_test_targets(small):
    """MAML's test-time loop adapts every layer: test targets 1e20x the output scale blow it up within its edge."""
    train, test = small
    with pytest.raises(NotComputable) as err:
        finite.fit_predict(SPEC, train, _scaled(test, y=1e20), method="fomaml", adapt=ADAPT, seed=0,
                           dtype="float64", outer_steps=0)
    msg = str(err.value)
    assert "adapt.lr" not in msg and "flow=True" not in msg
    assert re.search(r"test-time fine-tuning produced non-finite predictions.*<= 2.*the targets \(test\.ys, up to "
                     r"\|y\| = .*standardize test\.ys", msg), msg
