"""Every public entry point takes NumPy and JAX scalars where it takes a Python number, and
rejects bad values with a ValueError naming the field (one parametrized table).

For each (entry point, field): the call with the Python value and the calls with a NumPy
scalar and a 0-d JAX array of it give the same result (compared exactly), and a bad value
raises ``ValueError`` whose message names the field.
"""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge.experiments import closeness, width


def _tasks(**kw):
    return nb.tasks.shared_feature(**{"n_tasks": 2, "n_support": 2, "n_query": 2, "dim": 3, **kw})


_TRAIN, _TEST = _tasks(seed=0), _tasks(seed=1)
_SPEC = nb.MLPSpec(depth=1)


def _gbml(**kw):
    return nb.predict.gbml(_SPEC, _TRAIN, _TEST, algo="anil", adapt=nb.Adaptation(0.1, 2), split="same", **kw)


def _mtl(**kw):
    return nb.predict.mtl(_SPEC, _TRAIN, _TEST, adapt=nb.Adaptation(0.1, 2), **kw)


def _finite(**kw):
    return nb.finite.fit_predict(nb.MLPSpec(depth=1, width=8), _TRAIN, _TEST, method="anil",
                                 adapt=nb.Adaptation(0.1, 2), **{"outer_steps": 3, **kw})


def _kernels(**kw):
    return nb.kernels.kernels(_SPEC, _TRAIN.xs[0], **kw).theta


def _fit(**kw):
    return nb.metrics.fit_power_law([1, 2, 4], [[1.0, 0.6, 0.3], [1.1, 0.5, 0.26]], **{"n_boot": 20, **kw})


# (id, call(**{field: value}), field, good Python value, a bad value)
CASES = [
    ("MLPSpec.depth", nb.MLPSpec, "depth", 3, 0),
    ("MLPSpec.width", nb.MLPSpec, "width", 64, -2),
    ("MLPSpec.out_dim", nb.MLPSpec, "out_dim", 2, 1.5),
    ("MLPSpec.w_std", nb.MLPSpec, "w_std", 1.5, -1.0),
    ("MLPSpec.b_std", nb.MLPSpec, "b_std", 0.25, float("nan")),
    ("MLPSpec.head_std", nb.MLPSpec, "head_std", 0.5, 0.0),
    ("Adaptation.lr", lambda **kw: nb.Adaptation(**{"steps": 3, **kw}), "lr", 0.125, -0.1),
    ("Adaptation.steps", lambda **kw: nb.Adaptation(**{"lr": 0.1, **kw}), "steps", 4, 2.5),
    ("shared_feature.n_tasks", lambda **kw: _tasks(**kw).xs, "n_tasks", 3, 0),
    ("shared_feature.dim", lambda **kw: _tasks(**kw).xs, "dim", 4, 0),
    ("shared_feature.similarity", lambda **kw: _tasks(**kw).ys, "similarity", 0.5, 1.5),
    ("shared_feature.seed", lambda **kw: _tasks(**kw).ys, "seed", 7, "x"),
    ("sinusoid.n_support", lambda **kw: nb.tasks.sinusoid(2, **kw).xs, "n_support", 3, 0),
    ("clusters.n_way", lambda **kw: nb.tasks.gaussian_clusters(2, **kw).ys, "n_way", 3, 0),
    ("digits.k_shot", lambda **kw: nb.tasks.digits(2, n_way=2, **kw).xs, "k_shot", 2, 0),
    ("kernels.block_size", _kernels, "block_size", 2, 0),
    ("predict.gbml.ridge", _gbml, "ridge", 2.0 ** -10, -1.0),
    ("predict.gbml.t", _gbml, "t", 5.0, -1.0),
    ("predict.mtl.ridge", _mtl, "ridge", 2.0 ** -10, float("inf")),
    ("finite.fit_predict.seed", _finite, "seed", 3, -1),
    ("finite.fit_predict.outer_steps", _finite, "outer_steps", 4, 2.5),
    ("finite.fit_predict.lr_scale", _finite, "lr_scale", 1.0, 0.0),
    ("metrics.fit_power_law.n_boot", _fit, "n_boot", 30, 0),
    ("metrics.fit_power_law.level", _fit, "level", 0.75, 1.5),
    ("closeness.Config.seeds", lambda **kw: closeness.Config(**kw), "seeds", 2, 0),
    ("closeness.Config.lr", lambda **kw: closeness.Config(**kw), "lr", 0.03125, -1.0),
    ("width.Config.outer_steps", lambda **kw: width.Config(**kw), "outer_steps", 10, 0),
]


def _variants(value):
    """The Python value as a NumPy scalar and as a 0-d JAX array (every float here is exact in float32)."""
    if isinstance(value, int):
        return {"numpy": np.int64(value), "jax": jnp.asarray(value, dtype=jnp.int32)}
    assert np.float32(value) == value, "pick float values that float32 holds exactly"
    return {"numpy": np.float32(value), "jax": jnp.asarray(value, dtype=jnp.float32)}


def _same(a, b):
    if hasattr(a, "AXES"):  # an experiment config: equal, and the same record hash
        assert a == b and nb.store.config_hash("x", a) == nb.store.config_hash("x", b)
    elif dataclasses.is_dataclass(a):
        assert a == b
        for f in dataclasses.fields(a):  # stored as plain Python values, so hashing and JSON work
            assert type(getattr(a, f.name)) is type(getattr(b, f.name)), f.name
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_numpy_and_jax_scalars_are_accepted(case):
    _, call, field, good, _ = case
    expected = call(**{field: good})
    for value in _variants(good).values():
        _same(call(**{field: value}), expected)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_values_name_the_field(case):
    _, call, field, _, bad = case
    with pytest.raises(ValueError, match=field):
        call(**{field: bad})


@pytest.mark.parametrize("bad", [True, np.bool_(True)])
def test_a_bool_is_not_a_count(bad):
    with pytest.raises(ValueError, match="depth"):
        nb.MLPSpec(depth=bad)
