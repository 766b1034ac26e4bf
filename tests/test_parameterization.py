"""Parameterizations of the finite net (theory.md §12): the NTK one unchanged, muP and standard against identities
of their abc scalings, the defining property of muP in trained nets, and closed forms refusing them."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import finite
from ntk_bridge.errors import NotComputable
from ntk_bridge.finite.movement import kernel_movement
from ntk_bridge.precision import x64
from ntk_bridge.predict import Adaptation

X = np.random.default_rng(0).standard_normal((6, 5))


def _old_dense(x, w, b, w_std, b_std):  # the NTK-parameterized Dense as written before parameterizations existed
    return (w_std / np.sqrt(w.shape[0])) * (x @ w) + b_std * b


def test_ntk_parameterization_computes_what_it_did():
    """Default spec: standard-normal weights and the NTK Dense, output bit for bit."""
    spec = nb.MLPSpec(depth=3, width=32, b_std=0.2, out_dim=2)
    p = spec.init(jax.random.PRNGKey(0), 5)
    x = X.astype(np.float32)
    h = x
    for w, b in p["body"]:
        h = jnp.maximum(_old_dense(h, w, b, spec.w_std, spec.b_std), 0.0)
    out = _old_dense(h, *p["head"], spec.head_std, spec.b_std)
    assert np.array_equal(np.asarray(spec.apply(p, x)), np.asarray(out))
    k = jax.random.split(jax.random.PRNGKey(0), 8)
    assert np.array_equal(np.asarray(p["body"][0][0]), np.asarray(jax.random.normal(k[0], (5, 32))))


@pytest.mark.parametrize("par", ["mup", "standard"])
def test_other_parameterizations_start_from_the_same_features(par):
    """m_l s_l is the NTK's std / sqrt(fan_in) in every hidden layer: the same features at initialization from one
    key (to float64 rounding); the head's output is the NTK net's times n^-1/2 under muP, unchanged under standard."""
    n = 256
    with x64():
        ntk = nb.MLPSpec(depth=2, width=n)
        other = ntk.replace(parameterization=par)
        p0, p1 = ntk.init(jax.random.PRNGKey(3), 5), other.init(jax.random.PRNGKey(3), 5)
        x = jnp.asarray(X)
        phi0, phi1 = ntk.features(p0["body"], x), other.features(p1["body"], x)
        np.testing.assert_allclose(np.asarray(phi1), np.asarray(phi0), rtol=1e-12)
        f0, f1 = ntk.apply(p0, x), other.apply(p1, x)
    np.testing.assert_allclose(np.asarray(f1), np.asarray(f0) * (n ** -0.5 if par == "mup" else 1.0), rtol=1e-12)


def test_mup_has_the_ntk_at_initialization():
    """Under muP the empirical NTK (in its own parameters, one learning rate) equals the NTK parameterization's at
    initialization: every layer's multiplier^2 grows by n (input, hidden) while the backpropagated signal shrinks by
    n^-1/2 (the head), and the head's own term is unchanged.  So the trainer's step 1/lambda_max is the same."""
    with x64():
        ntk = nb.MLPSpec(depth=3, width=128)
        mup = ntk.replace(parameterization="mup")
        x = jnp.asarray(X)
        k0 = nb.kernels.empirical(ntk, ntk.init(jax.random.PRNGKey(1), 5), x)
        k1 = nb.kernels.empirical(mup, mup.init(jax.random.PRNGKey(1), 5), x)
    np.testing.assert_allclose(k1.theta, k0.theta, rtol=1e-10)
    np.testing.assert_allclose(k1.sigma, k0.sigma, rtol=1e-10)


def test_mup_learning_rates_are_the_mup_packages():
    """One SGD step of size eta on the stored parameters moves the effective weights m_l W_l by eta m_l^2 dL/d(m W):
    relative to the NTK parameterization, muP's effective step is x n for the input and hidden layers and x 1 for
    the head (the mup package's MuSGD: vector-like input weights x width_mult, hidden x 1, readout / width_mult
    on a 1/width_mult output), standard's x n for hidden and head (its c = 1: the trainer's 1/lambda_max)."""
    n, d = 512, 5
    ntk = nb.MLPSpec(depth=3, width=n)
    ratio = {par: [ntk.replace(parameterization=par).multiplier(l, d if l == 0 else n) ** 2
                   / ntk.multiplier(l, d if l == 0 else n) ** 2 for l in range(4)] for par in ("mup", "standard")}
    np.testing.assert_allclose(ratio["mup"], [n, n, n, 1.0], rtol=1e-12)
    np.testing.assert_allclose(ratio["standard"], [1.0, n, n, n], rtol=1e-12)
    assert [ntk.replace(parameterization="mup").init_std(l) for l in range(4)] == pytest.approx([n ** -0.5] * 4)


def test_trained_features_move_by_a_width_independent_amount_under_mup():
    """The defining property (Yang & Hu): centered MTL nets of width 64 and 1024 on one task set; under muP the
    features' movement ratio stays near 1 (the NTK parameterization's falls near (64/1024)^(1/2) = 0.25,
    tests/test_feature_movement.py), and it is of order one."""
    train = nb.tasks.shared_feature(4, 5, 5, dim=8, seed=0)
    test = nb.tasks.shared_feature(2, 5, 5, dim=8, seed=1)
    moved = {}
    for n in (64, 1024):
        _, info = finite.fit_predict(nb.MLPSpec(depth=2, width=n, parameterization="mup"), train, test,
                                     method="mtl-shared", adapt=Adaptation(0.1, 3), seed=0, outer_steps=1000,
                                     tol=1e-5, return_info=True)
        assert info["converged"]
        moved[n] = info["feature_movement"]
    assert 0.7 < moved[1024] / moved[64] < 1.4, moved
    assert moved[1024] > 0.5, moved


def test_kernel_movement_of_a_scaled_head():
    """NTK parameterization: a head times c multiplies the body's part of the NTK by c^2 and leaves the head's
    (Sigma) unchanged, so the relative movement is |c^2 - 1| ||Theta - Sigma|| / ||Theta||."""
    with x64():
        spec = nb.MLPSpec(depth=2, width=64)
        p = spec.init(jax.random.PRNGKey(0), 5)
        k = nb.kernels.empirical(spec, p, jnp.asarray(X))
        moved = kernel_movement(spec, p, {"body": p["body"], "head": (3.0 * p["head"][0], p["head"][1])}, X)
        assert kernel_movement(spec, p, p, X) == 0.0
    assert moved == pytest.approx(8.0 * np.linalg.norm(k.theta - k.sigma) / np.linalg.norm(k.theta), rel=1e-10)


def test_closed_forms_refuse_other_parameterizations():
    spec = nb.MLPSpec(depth=2, parameterization="mup")
    train = nb.tasks.shared_feature(2, 3, 3, dim=4, seed=0)
    for call in (lambda: nb.kernels.kernels(spec, X), lambda: nb.predict.mtl(spec, train, train),
                 lambda: finite.analytic_lambda_max(spec, train)):
        with pytest.raises(NotComputable, match="parameterization='mup'"):
            call()
    with pytest.raises(NotComputable, match="lr_from='analytic'"):
        finite.fit_predict(spec.replace(width=16), train, train, lr_from="analytic", outer_steps=5)


def test_bad_parameterizations_name_the_field():
    with pytest.raises(ValueError, match="MLPSpec.parameterization"):
        nb.MLPSpec(parameterization="sp")
    with pytest.raises(ValueError, match="MLPSpec.b_std"):
        nb.MLPSpec(parameterization="mup", b_std=0.1)
