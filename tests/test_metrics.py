"""``ntk_bridge.metrics``: fits checked on synthetic data with a known law."""
import numpy as np
import pytest

from ntk_bridge import metrics


def test_fit_width_exponent_recovers_a_common_exponent():
    """y = c_L n^-0.5 x log-normal noise over 3 depths x 4 widths x 6 seeds: b near 0.5, one constant per depth;
    one seed's value left out changes nothing structural; a single width cannot be fitted."""
    rng = np.random.default_rng(0)
    groups = [L for L in (1, 4, 16) for _ in range(4)]
    widths = [n for _ in range(3) for n in (64, 256, 1024, 4096)]
    c = {1: 2.0, 4: 0.7, 16: 0.1}
    y = np.array([[c[g] * n ** -0.5 * np.exp(0.1 * rng.standard_normal()) for g, n in zip(groups, widths)]
                  for _ in range(6)])
    keep = np.ones_like(y, dtype=bool)
    keep[2, 5] = False
    out = metrics.fit_width_exponent(groups, widths, y, keep, n_boot=300)
    assert out["b"] == pytest.approx(0.5, abs=0.05) and out["b_lo"] < out["b"] < out["b_hi"]
    assert out["b_lo"] > 0.4 and out["b_hi"] < 0.6
    assert {g: pytest.approx(c[g], rel=0.2) for g in c} == out["groups"]
    with pytest.raises(ValueError, match="two widths"):
        metrics.fit_width_exponent([1, 2], [64, 64], y[:, :2], keep[:, :2])


def test_fit_power_law_with_no_usable_resample_says_so():
    """One seed, two points, one resample: a draw of the same point twice fits no line.  Seeds 0 and 4 draw it
    (numpy's default_rng), so the fit raises a ValueError naming n_boot, never numpy's IndexError."""
    import ntk_bridge as nb

    hits = 0
    for seed in range(8):
        cols = np.random.default_rng(seed).integers(0, 2, 2)
        if np.unique(cols).size < 2:
            hits += 1
            with pytest.raises(ValueError, match="raise n_boot"):
                nb.metrics.fit_power_law([1.0, 2.0], [1.0, 0.5], n_boot=1, seed=seed)
        else:
            assert nb.metrics.fit_power_law([1.0, 2.0], [1.0, 0.5], n_boot=1, seed=seed)["r_lo"] == pytest.approx(1.0)
    assert hits >= 1
