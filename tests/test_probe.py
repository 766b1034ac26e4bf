"""The logistic-regression probe (the authors' MTL test-time procedure), nb.probe."""
import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import probe


def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_gram_features_reproduce_the_gram_and_refuse_an_indefinite_matrix():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 5))
    g = a @ a.T                                  # rank 5: seven eigenvalues are rounding-level
    f = probe.gram_features(g)
    np.testing.assert_allclose(f @ f.T, g, atol=1e-10 * np.abs(g).max())
    with pytest.raises(ValueError, match="not positive semi-definite"):
        probe.gram_features(g - 0.1 * np.abs(g).max() * np.eye(12))


def test_probe_on_gram_features_equals_the_probe_on_the_features():
    """Representer theorem: an L2-penalized logistic regression sees its features only through
    their inner products, so eigen-form features of the Gram give the same probabilities."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    phi = rng.normal(size=(25 + 40, 300)) + 0.3 * rng.normal(size=300)      # 5-way 5-shot + 40 queries
    y = np.concatenate([np.repeat(np.arange(5), 5), rng.integers(0, 5, 40)])
    f = probe.gram_features(phi @ phi.T)                                     # 65 columns, not 300
    probs = []
    for feats in (phi, f):
        u = _unit(feats)
        model = LogisticRegression(C=probe.C_AUTHORS, max_iter=5000, tol=1e-12).fit(u[:25], y[:25])
        probs.append(model.predict_proba(u[25:]))
    np.testing.assert_allclose(probs[1], probs[0], atol=1e-5)
    assert probe.task_accuracy(f[:25], y[:25], f[25:], y[25:]) == probe.task_accuracy(phi[:25], y[:25], phi[25:], y[25:])


@pytest.mark.parametrize("b_std", [0.0, 1.0])
def test_infinite_width_feature_kernel_is_the_wide_nets_feature_gram(b_std):
    """(Sigma - b_std^2) / head_std^2 is the last hidden layer's Gram E[phi phi']: a wide random
    net's phi phi^T / width matches it to O(1/sqrt(width)); without the bias correction it would not."""
    import jax

    spec = nb.MLPSpec(depth=2, width=8192, b_std=b_std, head_std=0.7, out_dim=5)
    tasks = nb.tasks.digits(1, 5, 1, 3, classes="test", seed=0)
    x = np.concatenate([tasks.xs[0], tasks.xq[0]])
    phi = np.asarray(spec.features(spec.init(jax.random.PRNGKey(0), x.shape[1])["body"], x), dtype=np.float64)
    finite = phi @ phi.T / spec.width
    sigma = nb.kernels.kernels(spec, x).sigma
    infinite = (sigma - b_std ** 2) / spec.head_std ** 2
    scale = np.abs(infinite).max()
    # over 40 initializations (jax 0.10.2): 0.074 +- 0.017 x scale at b_std 0 (max 0.106), 0.035 +- 0.018 at
    # b_std 1: the bound is 4.4 sd away, a false failure below 1e-4 for any random stream
    assert np.abs(finite - infinite).max() < 0.15 * scale
    if b_std > 0:
        assert np.abs(finite - sigma / spec.head_std ** 2).max() > 0.5 * scale


def test_a_wide_random_body_probes_like_the_infinite_width_one():
    import jax

    spec = nb.MLPSpec(depth=2, width=4096, out_dim=5)
    test = nb.tasks.digits(10, 5, 1, 3, classes="test", seed=3)
    body = spec.init(jax.random.PRNGKey(1), test.dim)["body"]
    acc_inf = nb.probe.infinite(spec, test)
    acc_fin = nb.probe.finite(spec, body, test)
    assert 0.4 < acc_inf <= 1.0                     # far above chance (0.2) on real digits
    # 150 query points; over 20 initializations (jax 0.10.2) acc_fin - acc_inf = -0.017 +- 0.017 (max |.| 0.053):
    # the bound is 4.9 sd away
    assert abs(acc_fin - acc_inf) <= 0.1


def test_probe_refuses_regression_targets_and_a_bad_C():
    spec = nb.MLPSpec(depth=1, out_dim=1)
    reg = nb.tasks.shared_feature(2, 5, 5, dim=4, seed=0)
    with pytest.raises(ValueError, match="test.ys.*one-hot"):
        nb.probe.infinite(spec, reg)
    cls = nb.tasks.digits(2, 2, 1, 1, classes="test", seed=0)
    with pytest.raises(ValueError, match="C"):
        nb.probe.infinite(nb.MLPSpec(depth=1, out_dim=2), cls, C=0.0)


def test_gram_features_refuse_a_non_symmetric_matrix_and_reproduce_a_psd_one():
    """F F^T = gram for a valid (full-rank) PSD input; a non-symmetric matrix has no such F."""
    rng = np.random.default_rng(2)
    a = rng.normal(size=(6, 9))
    g = a @ a.T
    f = probe.gram_features(g)
    np.testing.assert_allclose(f @ f.T, g, rtol=0, atol=1e-12 * np.abs(g).max())
    probe.gram_features(g + 1e-14 * np.abs(g).max() * rng.normal(size=g.shape))   # rounding-level asymmetry
    skew = g + 0.5 * np.triu(np.ones_like(g), 1)         # PSD symmetric part, but not a Gram matrix
    with pytest.raises(ValueError, match="gram.*not symmetric"):
        probe.gram_features(skew)


def test_probe_spec_out_dim_must_match_the_tasks():
    test = nb.tasks.digits(2, 5, 1, 1, classes="test", seed=0)       # 5-way: out_dim 5
    with pytest.raises(ValueError, match=r"out_dim 5, spec.out_dim is 3"):
        nb.probe.infinite(nb.MLPSpec(depth=1, out_dim=3), test)
    import jax

    spec = nb.MLPSpec(depth=1, width=16, out_dim=3)
    body = spec.init(jax.random.PRNGKey(0), test.dim)["body"]
    with pytest.raises(ValueError, match=r"out_dim 5, spec.out_dim is 3"):
        nb.probe.finite(spec, body, test)


def _bad_body(case):
    """``(spec, body, message)``: a depth-1, width-16 spec on the 64-pixel digits and a body that does not fit it."""
    import jax

    spec = nb.MLPSpec(depth=1, width=16, out_dim=2)
    w, b = (np.asarray(a) for a in spec.init(jax.random.PRNGKey(0), 64)["body"][0])
    if case == "none":
        return spec, None, "body must be a sequence of depth = 1"
    if case == "depth":
        return spec, spec.replace(depth=2).init(jax.random.PRNGKey(0), 64)["body"], "body has 2 layers, spec.depth is 1"
    if case == "in-dim":
        return spec, [(w[:10], b)], r"body\[0\] has W of shape \(10, 16\), expected \(64, 16\)"
    if case == "width":
        return spec, [(w[:, :8], b[:8])], r"body\[0\] has W of shape \(64, 8\), expected \(64, 16\)"
    if case == "bias":
        return spec, [(w, b[:3])], r"body\[0\] has b of shape \(3,\), expected \(16,\)"
    if case == "nan":
        return spec, [(np.where(w == w[0, 0], np.nan, w), b)], r"body\[0\] has non-finite"
    return spec, [w], r"body\[0\] must be a pair \(W, b\)"


@pytest.mark.parametrize("case", ["none", "depth", "in-dim", "width", "bias", "nan", "not-a-pair"])
def test_finite_probe_checks_the_body_against_spec_and_tasks(case):
    """A depth-1 spec with a 2-layer body used to score 0.9; None / wrong shapes / NaN failed inside NumPy or sklearn."""
    spec, body, match = _bad_body(case)
    test = nb.tasks.digits(2, 2, 1, 1, classes="test", seed=0)
    with pytest.raises(ValueError, match=match):
        nb.probe.finite(spec, body, test)


def test_a_one_class_support_given_as_lists_scores_the_query_by_that_class():
    """The one-class shortcut predicts the support's class everywhere: lists and arrays give the same fraction."""
    phi = np.eye(3)
    assert probe.task_accuracy(phi[:2], [1, 1], phi, [1, 0, 1]) == pytest.approx(2 / 3)
    assert probe.task_accuracy(phi[:2], np.array([1, 1]), phi, np.array([1, 0, 1])) == pytest.approx(2 / 3)
