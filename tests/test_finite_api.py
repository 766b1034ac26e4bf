"""``nb.finite.fit_predict``'s contract: a ``Method`` or a name, NumPy scalars, checked arguments."""
import numpy as np
import pytest
from conftest import rel_err

import ntk_bridge as nb
from ntk_bridge import finite, predict
from ntk_bridge.methods import Method
from ntk_bridge.precision import x64
from ntk_bridge.predict import Adaptation

ADAPT = Adaptation(lr=0.5, steps=5)
SPEC = nb.MLPSpec(depth=1, width=32)
KW = dict(adapt=ADAPT, outer_steps=40)


@pytest.fixture(scope="module")
def tasks():
    return nb.tasks.shared_feature(3, 4, 4, dim=8, seed=1), nb.tasks.shared_feature(2, 4, 4, dim=8, seed=2)


@pytest.mark.parametrize("described,plain", [
    (Method.gbml("anil", "same"), dict(method="anil", split="same")),
    ("anil-same", dict(method="anil", split="same")),
    ("maml-disjoint", dict(method="maml")),
    (Method.mtl("independent"), dict(method="mtl-independent")),
    ("mtl-shared+fresh", dict(method="mtl-shared", test_head="fresh")),
])
def test_method_descriptions_train_the_same_net(tasks, described, plain):
    train, test = tasks
    a, info = finite.fit_predict(SPEC, train, test, method=described, return_info=True, **KW)
    b = finite.fit_predict(SPEC, train, test, **plain, **KW)
    np.testing.assert_array_equal(a, b)
    assert info["method"] == nb.methods.parse(described).label


def test_split_and_test_head_override_the_name(tasks):
    train, test = tasks
    a = finite.fit_predict(SPEC, train, test, method="anil-same", split="disjoint", **KW)
    b = finite.fit_predict(SPEC, train, test, method="anil", **KW)
    c = finite.fit_predict(SPEC, train, test, method="anil", split="same", **KW)
    np.testing.assert_array_equal(a, b)
    assert rel_err(b, c) > 1e-3  # the split changes the trained net


def test_no_transfer_is_finetuning_of_the_initial_net(tasks):
    train, test = tasks
    with x64():
        pred, info = finite.fit_predict(SPEC, train, test, method="no-transfer", adapt=ADAPT, dtype="float64",
                                        return_info=True)
        prep = finite.prepare(SPEC, train, test, method="no-transfer", dtype="float64")
        kfn = lambda x1, x2=None: nb.kernels.empirical(SPEC, prep.test_base, x1, x2)  # noqa: E731
        ref = predict.no_transfer_from_kernels(kfn, test, adapt=ADAPT)
    assert rel_err(pred, ref) < 1e-10
    assert info["steps"] == 0 and info["converged"]


def test_numpy_and_jax_scalars_are_accepted(tasks):
    import jax.numpy as jnp

    train, test = tasks
    a = finite.fit_predict(SPEC, train, test, method="anil", seed=np.int64(2), outer_steps=np.int64(40),
                           lr_scale=np.float32(1.5), tol=np.float32(1e-6), momentum=jnp.asarray(0.5),
                           n_ensemble=np.int32(1), flow_substeps=np.int64(20), adapt=ADAPT)
    b = finite.fit_predict(SPEC, train, test, method="anil", seed=2, outer_steps=40, lr_scale=float(np.float32(1.5)),
                           tol=float(np.float32(1e-6)), momentum=0.5, adapt=ADAPT)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs,field", [
    ({"method": "mtl-shared", "split": "mixed"}, "split"),
    ({"test_head": "random"}, "test_head"),
    ({"method": 3}, "method"),
    ({"lr_from": "exact"}, "lr_from"),
    ({"power_iters": 0}, "power_iters"),
    ({"chunk": 2.0}, "chunk"),
    ({"tol": 1.0}, "tol"),
    ({"tol": np.float32(np.nan)}, "tol"),
    ({"seed": np.int64(-1)}, "seed"),
    ({"progress": "yes"}, "progress"),
    ({"return_info": 1}, "return_info"),
    ({"spec": "mlp"}, "spec"),
    ({"train": None}, "train"),
])
def test_bad_input_names_the_field(tasks, kwargs, field):
    train, test = tasks
    args = {"spec": SPEC, "train": train, "test": test, **kwargs}
    with pytest.raises(ValueError, match=field):
        finite.fit_predict(args.pop("spec"), args.pop("train"), args.pop("test"), **args)


def test_prepare_checks_its_arguments(tasks):
    train, test = tasks
    for kwargs, field in (({"seed": 1.5}, "seed"), ({"centered": 1}, "centered"), ({"dtype": "int8"}, "dtype"),
                          ({"method": "reptile"}, "method")):
        with pytest.raises(ValueError, match=field):
            finite.prepare(SPEC, train, test, **kwargs)


@pytest.mark.parametrize("name", ["mtl-shared", "mtl-independent", "no-transfer", "anil", "maml-same"])
def test_parse_keeps_fresh_from_the_name_as_from_the_keyword_and_checks_split_for_every_kind(name):
    """``"<name>+fresh"`` and ``parse(name, test_head="fresh")`` are one method for every kind (no transfer
    dropped the suffix); a bad ``split`` is refused whatever the kind (MTL and no transfer ignored it)."""
    assert nb.methods.parse(f"{name}+fresh") == nb.methods.parse(name, test_head="fresh")
    assert nb.methods.parse(f"{name}+fresh").test_head == "fresh"
    with pytest.raises(ValueError, match="split must be one of"):
        nb.methods.parse(name, split="bogus")
