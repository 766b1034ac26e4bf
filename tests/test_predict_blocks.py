"""Work done once: each kernel entry evaluated at most once, no cross-test-task block, one
factorization for any number of training times ``t`` (issue #10, #11)."""
import numpy as np
import pytest

import ntk_bridge as nb
from conftest import rel_err
from ntk_bridge import predict

from builders import CountingKernel

SPEC = nb.MLPSpec(depth=2)
TRAIN = nb.tasks.shared_feature(100, 2, 3, dim=4, seed=3)     # 100 training tasks
TEST = nb.tasks.shared_feature(4, 2, 3, dim=4, seed=4)
AD = nb.Adaptation(0.1, 3)

CALLS = {
    **{f"{a}-{s}": (lambda fn, a=a, s=s: predict.gbml_from_kernels(fn, TRAIN, TEST, algo=a, adapt=AD, split=s,
                                                                    ridge=1e-6))
       for a in predict.ALGOS for s in predict.SPLITS},
    **{f"mtl-{h}": (lambda fn, h=h: predict.mtl_from_kernels(fn, TRAIN, TEST, heads=h, adapt=AD, ridge=1e-6))
       for h in predict.HEADS},
    "no-transfer": lambda fn: predict.no_transfer_from_kernels(fn, TEST, adapt=AD),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_each_kernel_entry_is_evaluated_once(name):
    counting = CountingKernel(TRAIN, TEST)
    got = CALLS[name](counting)
    n_entries = counting.check()
    assert rel_err(got, CALLS[name](predict.analytic(SPEC))) < 1e-12
    n_train = TRAIN.n_tasks * 5
    if name.startswith(("anil", "maml")) or name == "mtl-shared":    # the full training Gram is needed
        assert n_entries >= n_train * (n_train + 1) // 2


# ------------------------------------------------------------------------ many t, one factorization
TR = nb.tasks.shared_feature(10, 4, 6, dim=6, seed=1)
TE = nb.tasks.shared_feature(3, 4, 6, dim=6, seed=2)
TIMES = list(np.geomspace(1e-2, 1e3, 10))
SYMMETRIC = [("gbml", dict(algo="anil")), ("gbml", dict(algo="maml", split="same")), ("mtl", dict(heads="shared"))]


def _predictor(kind, kw, device):
    make = predict.gbml_predictor if kind == "gbml" else predict.mtl_predictor
    return make(predict.analytic(SPEC), TR, TE, adapt=AD, device=device, **kw)


def _count_calls(monkeypatch, owner, name, size):
    """Count calls of ``owner.name`` on ``(size, size)`` matrices (the outer kernel's factorization)."""
    calls = []
    true = getattr(owner, name)

    def counted(a, *args, **kwargs):
        if getattr(a, "shape", None) == (size, size):
            calls.append(a.shape)
        return true(a, *args, **kwargs)
    monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.mark.parametrize("device", ["numpy", "cpu"])
@pytest.mark.parametrize("kind,kw", SYMMETRIC, ids=["anil", "maml-same", "mtl"])
def test_many_times_factorize_once_and_equal_separate_calls(kind, kw, device, monkeypatch):
    import jax.numpy as jnp
    import scipy.linalg

    size = 100 if kind == "mtl" else (100 if kw.get("split") == "same" else 60)
    eighs = _count_calls(monkeypatch, jnp.linalg if device == "cpu" else scipy.linalg, "eigh", size)
    fn = _predictor(kind, kw, device)
    grid = fn(TIMES)
    assert len(eighs) == 1 and grid.shape == (10, 3, 6, 1)
    fn(TIMES[3])
    assert len(eighs) == 1
    wrapper = predict.gbml if kind == "gbml" else predict.mtl
    for t, pred in zip(TIMES, grid):
        assert np.max(np.abs(pred - wrapper(SPEC, TR, TE, adapt=AD, t=t, device=device, **kw))) < 1e-10


def test_fomaml_many_times_use_one_eigendecomposition(monkeypatch):
    eigs = _count_calls(monkeypatch, np.linalg, "eig", 60)
    fn = _predictor("gbml", dict(algo="fomaml"), "numpy")
    grid = fn([None] + TIMES)
    assert len(eigs) == 1 and grid.shape == (11, 3, 6, 1)
    for t, pred in zip([None] + TIMES, grid):
        ref = predict.gbml(SPEC, TR, TE, algo="fomaml", adapt=AD, t=t, device="numpy")
        assert np.max(np.abs(pred - ref)) < 1e-10


def test_predictor_limits_and_info():
    fn = _predictor("gbml", dict(algo="maml"), "cpu")
    no_transfer = predict.no_transfer(SPEC, TE, adapt=AD, inner="all")
    assert np.max(np.abs(fn(0.0) - no_transfer)) < 1e-12          # t = 0: the initial function is zero
    both = fn(np.array([1.0, 2.0]))
    assert both.shape == (2, 3, 6, 1) and np.array_equal(both[1], fn(2.0))
    assert fn(None).shape == (3, 6, 1) and np.isfinite(fn.info["cond"])
    assert fn.info["n_outer"] == 60 and fn.info["train_tasks"] == 10
