"""One error contract across modules: the same bad input gets the same kind of error everywhere.

``NotComputable`` (a ``ValueError``) for well-posed requests that cannot be computed at these
settings, so a sweep records them; ``ValueError`` naming the argument for bad input; and the
README's attribute paths work in a fresh interpreter.
"""
import subprocess
import sys

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge.errors import NotComputable


def _repeated_support_point():
    ts = nb.tasks.shared_feature(3, 4, 4, dim=4, similarity=0.5, seed=0)
    xs = ts.xs.copy()
    xs[:, 1] = xs[:, 0]
    return nb.TaskSet(xs, ts.ys, ts.xq, ts.yq)


def test_singular_conditioned_kernel_is_not_computable_like_predict_mtl():
    """A repeated support point: nb.predict.mtl and nb.conditioning.mtl both say NotComputable, suggesting ridge."""
    spec, dup = nb.MLPSpec(depth=2), _repeated_support_point()
    with pytest.raises(NotComputable, match="singular.*ridge"):
        nb.predict.mtl(spec, dup, dup)
    for arch in ("concat", "multi-head-shared"):
        with pytest.raises(NotComputable, match="singular.*ridge.*repeated training points"):
            nb.conditioning.mtl(spec, dup, architecture=arch)


@pytest.mark.parametrize("call", [
    lambda spec, ts: nb.predict.mtl(spec, ts, ts),
    lambda spec, ts: nb.conditioning.mtl(spec, ts),
], ids=["predict.mtl", "conditioning.mtl"])
def test_spec_out_dim_must_match_the_tasks(call):
    ts = nb.tasks.shared_feature(3, 4, 4, dim=4, seed=0)       # one output
    with pytest.raises(ValueError, match=r"out_dim 1, spec.out_dim is 3"):
        call(nb.MLPSpec(depth=1, out_dim=3), ts)


def test_readme_path_finite_conditioned_fit_predict_in_a_fresh_process():
    """``import ntk_bridge as nb; nb.finite.conditioned.fit_predict`` without importing the submodule first."""
    code = "import ntk_bridge as nb; assert callable(nb.finite.conditioned.fit_predict)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("call", ["gbml", "mtl"])
def test_inputs_so_small_the_kernel_underflows_name_the_inputs_not_a_zero_ridge(call):
    """Inputs x1e-200: every kernel entry underflows to 0, so no ridge helps (it used to suggest ridge=0)."""
    import dataclasses

    spec = nb.MLPSpec(depth=2)
    train, test = nb.tasks.shared_feature(5, 5, 5, dim=4, seed=0), nb.tasks.shared_feature(3, 5, 5, dim=4, seed=1)
    tiny = {name: dataclasses.replace(t, xs=t.xs * 1e-200, xq=t.xq * 1e-200) for name, t in (("train", train),
                                                                                             ("test", test))}
    assert not nb.kernels.kernels(spec, tiny["train"].xs[0]).theta.any()      # the premise: it underflows
    adapt = nb.Adaptation(0.1, 5)
    with pytest.raises(NotComputable) as info:
        if call == "gbml":
            nb.predict.gbml(spec, tiny["train"], tiny["test"], algo="anil", adapt=adapt)
        else:
            nb.predict.mtl(spec, tiny["train"], tiny["test"], adapt=adapt)
    message = str(info.value)
    assert "underflows" in message and "rescale them" in message and "ridge=0" not in message
    with pytest.raises(NotComputable, match=r"pass ridge > 0, e\.g\. ridge=[1-9]"):    # a singular, not tiny, kernel
        nb.predict.mtl(spec, dataclasses.replace(train, xs=np.repeat(train.xs[:, :1], 5, axis=1)), test, adapt=adapt)
