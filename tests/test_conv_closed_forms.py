"""Closed forms of a ConvSpec on image tasks (theory.md §11): every method runs from the spec, reading the tasks'
flat rows as images, and equals the same closed form fed neural-tangents' CNTK directly (pinned stack)."""
from __future__ import annotations

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import metrics
from ntk_bridge.predict import Adaptation, analytic, closed_form, distribution
from ntk_bridge.kernels import Kernels

TRAIN = nb.tasks.digits(3, n_way=2, k_shot=1, n_query=1, as_images=True, seed=0)
TEST = nb.tasks.digits(2, n_way=2, k_shot=1, n_query=1, classes="test", as_images=True, seed=1)
ADAPT = Adaptation(0.1, 3)
METHODS = ("mtl-shared", "mtl-independent", "anil-disjoint", "anil-same", "maml-same", "fomaml-disjoint",
           "no-transfer", "anil-same+fresh")


def _nt_kernel_fn(spec):
    """``kernel_fn(x1, x2=None)`` of neural-tangents' CNTK on flat digit rows, float64, no toolkit kernel code."""
    from ntk_bridge.precision import x64

    _, _, kfn = spec.stax()

    def kernel_fn(x1, x2=None):
        with x64():
            a = np.asarray(x1).reshape(-1, 8, 8, 1)
            b = None if x2 is None else np.asarray(x2).reshape(-1, 8, 8, 1)
            k = kfn(a, b, ("ntk", "nngp"))
            return Kernels(np.asarray(k.ntk, dtype=np.float64), np.asarray(k.nngp, dtype=np.float64))
    return kernel_fn


@pytest.mark.parametrize("pool", ["gap", "flatten"])
def test_every_method_runs_from_a_conv_spec_and_equals_neural_tangents_kernels(pool):
    pytest.importorskip("neural_tangents")
    spec = nb.ConvSpec(depth=2, pool=pool, b_std=0.1, out_dim=2)
    bound = spec.replace(image_shape=(8, 8, 1))
    for m in METHODS:
        ours = closed_form(m, analytic(bound), TRAIN, TEST, adapt=ADAPT)
        ref = closed_form(m, _nt_kernel_fn(spec), TRAIN, TEST, adapt=ADAPT)
        assert ours.shape == (2, 2, 2) and metrics.rel_gap(ours, ref) < 1e-8, m
    spec_level = nb.predict.gbml(spec, TRAIN, TEST, algo="maml", adapt=ADAPT, split="same")   # binds image_shape
    assert metrics.rel_gap(spec_level, closed_form("maml-same", _nt_kernel_fn(spec), TRAIN, TEST, adapt=ADAPT)) < 1e-8
    d = distribution(spec, TRAIN, TEST, "anil-same", adapt=ADAPT)
    assert np.array_equal(d.mean, closed_form("anil-same", analytic(bound), TRAIN, TEST, adapt=ADAPT))
    assert np.all(np.linalg.eigvalsh(d.cov) > -1e-12)


def test_conv_specs_need_image_tasks():
    flat = nb.tasks.digits(2, n_way=2, k_shot=1, n_query=1, seed=0)
    with pytest.raises(ValueError, match="needs image inputs"):
        nb.predict.mtl(nb.ConvSpec(out_dim=2), flat, flat)
    with pytest.raises(ValueError, match="image_shape is"):
        nb.predict.mtl(nb.ConvSpec(out_dim=2, image_shape=(4, 16, 1)), TRAIN, TEST)
    with pytest.raises(ValueError, match="MLPSpec or a ConvSpec"):
        analytic("conv")
