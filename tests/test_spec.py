"""MLPSpec: validation, parameter shapes, and the pure-JAX net against the neural-tangents one."""
import math

import jax
import numpy as np
import pytest

import ntk_bridge as nb
from conftest import TOL, rel_err


@pytest.mark.parametrize("field,value", [
    ("depth", 0), ("depth", 2.0), ("depth", True), ("width", -3), ("out_dim", 0),
    ("w_std", 0.0), ("w_std", math.nan), ("w_std", "1"), ("head_std", math.inf), ("head_std", -1.0),
    ("b_std", -0.1), ("b_std", math.nan), ("b_std", None),
])
def test_invalid_fields_raise_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"MLPSpec.{field}"):
        nb.MLPSpec(**{field: value})


def test_numpy_scalars_are_accepted_and_stored_as_python_numbers():
    spec = nb.MLPSpec(depth=np.int64(4), width=np.int32(16), w_std=np.float32(1.5), b_std=np.float64(0.1),
                      head_std=np.float32(0.5), out_dim=np.array(2))
    assert spec == nb.MLPSpec(depth=4, width=16, w_std=float(np.float32(1.5)), b_std=0.1, head_std=0.5, out_dim=2)
    assert {k: type(v) for k, v in spec.to_dict().items()} == {
        "depth": int, "width": int, "w_std": float, "b_std": float, "head_std": float, "out_dim": int,
        "parameterization": str}
    assert hash(spec) == hash(nb.MLPSpec(**spec.to_dict()))
    assert nb.MLPSpec(w_std=2).w_std == 2.0 and type(nb.MLPSpec(w_std=2).w_std) is float
    with pytest.raises(ValueError, match="MLPSpec.depth"):
        nb.MLPSpec(depth=np.float64(4.0))
    with pytest.raises(ValueError, match="MLPSpec.width"):
        nb.MLPSpec(width=np.bool_(True))
    assert spec.init(jax.random.PRNGKey(0), np.int64(3))["body"][0][0].shape == (3, 16)


def test_stax_without_neural_tangents_names_the_nt_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "neural_tangents", None)   # import fails as if not installed
    with pytest.raises(ModuleNotFoundError, match=r'neural-tangents is not installed.*ntk-bridge\[nt\]'):
        nb.MLPSpec(depth=2).stax()
    x = np.random.default_rng(0).standard_normal((3, 4))
    nb.kernels._nt_kernel_fn.cache_clear()
    with pytest.raises(ModuleNotFoundError, match=r'ntk-bridge\[nt\]'):
        nb.kernels.kernels(nb.MLPSpec(depth=2), x, backend="nt")


def test_replace_validates_and_round_trips():
    spec = nb.MLPSpec(depth=3, width=32, b_std=0.1, out_dim=2)
    assert nb.MLPSpec(**spec.to_dict()) == spec
    assert spec.replace(width=8).width == 8 and spec.replace(width=8).depth == 3
    with pytest.raises(ValueError, match="MLPSpec.depth"):
        spec.replace(depth=0)


def test_init_shapes_and_bad_in_dim():
    spec = nb.MLPSpec(depth=3, width=7, out_dim=2)
    p = spec.init(jax.random.PRNGKey(0), 5)
    assert [(w.shape, b.shape) for w, b in p["body"]] == [((5, 7), (7,)), ((7, 7), (7,)), ((7, 7), (7,))]
    assert (p["head"][0].shape, p["head"][1].shape) == ((7, 2), (2,))
    for bad in (0, 2.5, "3"):
        with pytest.raises(ValueError, match="in_dim"):
            spec.init(jax.random.PRNGKey(0), bad)


def _nt_params(spec, params):
    """Our ``{"body", "head"}`` in neural-tangents' serial layout: ``(W, b)`` per Dense, ``()`` per Relu.

    With ``b_std = 0`` the spec builds neural-tangents Dense layers without a bias (``b = None``).
    """
    def dense(w, b):
        return (w, None if spec.b_std == 0 else b[None, :])   # nt keeps b as (1, n)
    layers = []
    for w, b in params["body"]:
        layers += [dense(w, b), ()]
    return layers + [dense(*params["head"])]


@pytest.mark.nt
@pytest.mark.parametrize("b_std,out_dim", [(0.0, 1), (0.25, 3)], ids=["nobias-k1", "bias-k3"])
def test_apply_matches_neural_tangents_apply_fn(x64, b_std, out_dim):
    spec = nb.MLPSpec(depth=3, width=24, b_std=b_std, head_std=0.8, out_dim=out_dim)
    params = spec.init(jax.random.PRNGKey(3), 4)
    x = np.random.default_rng(0).standard_normal((6, 4))
    init_fn, apply_fn, _ = spec.stax()
    _, nt_params = init_fn(jax.random.PRNGKey(0), x.shape)
    ours = _nt_params(spec, params)
    assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(nt_params)
    assert jax.tree_util.tree_map(np.shape, ours) == jax.tree_util.tree_map(np.shape, nt_params)
    out = spec.apply(params, x)
    assert out.shape == (6, out_dim)
    assert rel_err(out, apply_fn(ours, x)) < TOL[np.dtype(np.float64)]
    assert rel_err(spec.head_apply(params["head"], spec.features(params["body"], x)), out) == 0.0


# ------------------------------------------------------------------------ ConvSpec (theory.md §11)
@pytest.mark.parametrize("pool", ["gap", "flatten"])
def test_conv_net_is_neural_tangents_conv_net(pool):
    """The pure-JAX conv net equals neural-tangents' ``apply_fn`` of ``ConvSpec.stax()`` on the same parameters."""
    nt = pytest.importorskip("neural_tangents")
    del nt
    import jax
    import jax.numpy as jnp

    from ntk_bridge.precision import x64
    from ntk_bridge.spec import ConvSpec

    spec = ConvSpec(depth=2, channels=5, pool=pool, b_std=0.3, image_shape=(8, 8, 1), out_dim=2)
    x = nb.tasks.digits(1, as_images=True).xs[0]
    with x64():
        params = spec.init(jax.random.PRNGKey(0), 64)
        ours = np.asarray(spec.apply(params, jnp.asarray(x)))
        _, apply_fn, _ = spec.stax()
        nt_params = [p for w, b in params["body"] for p in ((w, b.reshape(1, 1, 1, -1)), ())] + [(), params["head"]]
        theirs = np.asarray(apply_fn(nt_params, jnp.asarray(x.reshape(-1, 8, 8, 1))))
        phi = spec.features(params["body"], jnp.asarray(x))
    assert np.abs(ours - theirs).max() < 1e-12 * np.abs(theirs).max() and np.abs(theirs).max() > 0.01
    assert phi.shape == (x.shape[0], 5 if pool == "gap" else 64 * 5)


def test_conv_spec_bad_input():
    from ntk_bridge.spec import ConvSpec

    with pytest.raises(ValueError, match="filter must be odd"):
        ConvSpec(filter=2)
    with pytest.raises(ValueError, match="pool"):
        ConvSpec(pool="max")
    with pytest.raises(ValueError, match="image_shape must be"):
        ConvSpec(image_shape=(8, 8))
    with pytest.raises(ValueError, match="image_shape"):
        ConvSpec(image_shape=(8, 8, 1)).images(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="image_shape, which is None"):
        ConvSpec().init(None, 64)
