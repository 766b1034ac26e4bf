"""Feature movement (theory.md §12): an identity of ReLU features, and the lazy regime's n^-1/2 in trained nets."""
import jax
import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import finite
from ntk_bridge.finite.movement import feature_movement
from ntk_bridge.predict import Adaptation


@pytest.mark.parametrize("spec", [nb.MLPSpec(depth=1, width=16), nb.ConvSpec(depth=1, channels=4, image_shape=(4, 4, 1))],
                         ids=["mlp", "conv"])
def test_scaling_a_bias_free_layer_moves_features_by_its_factor(spec):
    """ReLU is positively homogeneous: with b_std = 0, the first layer's weights times 3 give phi_T = 3 phi_0,
    a relative movement of exactly 2 at every point; the body itself, none."""
    x = np.random.default_rng(0).standard_normal((7, 16))
    body0 = spec.init(jax.random.PRNGKey(0), 16)["body"]
    (w, b), *rest = body0
    assert feature_movement(spec, body0, body0, x) == 0.0
    assert feature_movement(spec, body0, [(3.0 * w, b), *rest], x) == pytest.approx(2.0, rel=1e-6)


def test_trained_nets_features_move_like_width_to_the_minus_half():
    """Centered MTL nets of width 64 and 1024 on one task set: the features' movement ratio near
    (64 / 1024)^(1/2) = 0.25 (the NTK parameterization's lazy regime; width-independent movement gives 1)."""
    train = nb.tasks.shared_feature(4, 5, 5, dim=8, seed=0)
    test = nb.tasks.shared_feature(2, 5, 5, dim=8, seed=1)
    moved = {}
    for n in (64, 1024):
        _, info = finite.fit_predict(nb.MLPSpec(depth=2, width=n), train, test, method="mtl-shared",
                                     adapt=Adaptation(0.1, 3), seed=0, outer_steps=1000, tol=1e-5, return_info=True)
        assert info["converged"] and np.isfinite(info["feature_movement"]) and info["feature_movement"] > 0
        moved[n] = info["feature_movement"]
    assert 0.15 < moved[1024] / moved[64] < 0.45, moved
