"""The conv experiment (theory.md §11): each part's numbers recomputed another way, its rules and its config."""
import dataclasses

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import metrics, predict, probe
from ntk_bridge.appendix import verdicts
from ntk_bridge.experiments import accuracy, conv
from ntk_bridge.experiments.common import TaskConfig

from builders import CONV_CFG, CONV_IMAGES, seed_trained_points

CFG = dataclasses.replace(CONV_CFG, include_flagged=True)


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    root = tmp_path_factory.mktemp("conv")
    seed_trained_points(conv, CFG, root)
    return root, conv.read(conv.run(CFG, root))


def _by_hand(spec, train, tau, steps):
    """The inner loop of reach tau: lr = tau / (steps lambda_max(Theta)), Theta straight from the CNTK (no table)."""
    x0 = np.concatenate([train.xs[0], train.xq[0]])
    lam = np.linalg.eigvalsh(nb.kernels.kernels(spec, x0).theta)[-1]
    return predict.Adaptation(tau / (steps * lam), steps)


def test_closeness_gaps_equal_closed_forms_computed_directly(summary):
    _, s = summary
    assert s.archs == ("conv-gap", "conv-flatten", "mlp")
    for arch in s.archs:
        part = s.closeness(arch)
        for i, L in enumerate(CFG.depths):
            gaps = []
            for seed in range(CFG.seeds):
                train, test = CFG.tasks.draw(seed)
                spec = (nb.MLPSpec(depth=L, out_dim=2) if arch == "mlp" else
                        nb.ConvSpec(depth=L, pool=arch.split("-")[1], out_dim=2, image_shape=(8, 8, 1)))
                kfn = predict.analytic(spec)
                adapt = _by_hand(spec, train, CFG.tau, CFG.steps)
                mtl = predict.closed_form("mtl-shared", kfn, train, test, adapt=adapt)
                anil = predict.closed_form("anil-same", kfn, train, test, adapt=adapt)
                gaps.append(np.linalg.norm(anil - mtl) / np.linalg.norm(mtl))
            st = part.gap("same", "anil")[i]
            assert st.n == CFG.seeds
            assert st.mean == pytest.approx(np.mean(gaps), rel=1e-8), (arch, L)


def test_conv_and_mlp_parts_differ():
    """The two architectures are different kernels on the same images (a switch that did nothing would pass above
    only if both tests compared the same thing)."""
    train, _ = CFG.tasks.draw(0)
    x = train.xs[0]
    a = nb.kernels.kernels(nb.ConvSpec(depth=2, image_shape=(8, 8, 1)), x).theta
    b = nb.kernels.kernels(nb.MLPSpec(depth=2), x).theta
    c = nb.kernels.kernels(nb.ConvSpec(depth=2, pool="flatten", image_shape=(8, 8, 1)), x).theta
    for u, v in ((a, b), (a, c), (b, c)):
        u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
        assert np.linalg.norm(u - v) > 0.05


def test_accuracy_and_probe_equal_direct_computation(summary):
    _, s = summary
    row = next(r for r in s.accuracy("conv-gap").rows if r.family == "digits-2way")
    tasks = accuracy.task_config("digits-2way", CFG.n_acc, CFG.n_acc)
    train, test = dataclasses.replace(tasks, options=tasks.options + (("as_images", True),)).draw(0)
    assert train.image_shape == (8, 8, 1)
    spec = nb.ConvSpec(depth=row.depth, out_dim=train.out_dim, image_shape=(8, 8, 1))
    adapt = _by_hand(spec, train, CFG.tau, CFG.steps)
    for m in ("mtl-shared", "anil-disjoint", "no-transfer"):
        pred = predict.closed_form(m, predict.analytic(spec), train, test, adapt=adapt)
        assert row.score(m).mean == pytest.approx(metrics.accuracy(pred, test.yq), abs=1e-12), m
    assert row.probe("mtl-shared").mean == pytest.approx(probe.infinite(spec, test, CFG.probe_C), abs=1e-12)


def test_channel_fit_is_the_least_squares_of_the_stored_errors(summary):
    _, s = summary
    pts = s.trained("mtl-shared")
    assert len(pts) == len(CFG.channels) * CFG.finite_seeds and all(p.err is not None for p in pts)
    y = np.array([[p.err for p in pts if p.seed == seed] for seed in range(CFG.finite_seeds)])
    slope, icpt = np.polyfit(np.log(CFG.channels), np.log(y).mean(axis=0), 1)
    fit = s.channel_fit("mtl-shared")
    assert fit.ok and fit.r == pytest.approx(-slope, rel=1e-9) and fit.c == pytest.approx(np.exp(icpt), rel=1e-9)
    assert fit.r_lo <= fit.r_hi and fit.x == CFG.channels


def test_a_trained_err_is_the_distance_to_the_closed_form(summary):
    """One stored net retrained: its error to the CNTK closed form as recorded (the point is deterministic)."""
    _, s = summary
    p = s.trained("mtl-shared")[0]
    train, test = CFG.finite_tasks.draw(0)
    spec = nb.ConvSpec(depth=CFG.finite_depth, pool=CFG.finite_pool, out_dim=2, image_shape=(8, 8, 1))
    adapt = _by_hand(spec, train, CFG.tau, CFG.steps)
    closed = predict.closed_form("mtl-shared", predict.analytic(spec), train, test, adapt=adapt)
    pred = nb.finite.fit_predict(spec.replace(channels=p.channels), train, test, method="mtl-shared", adapt=adapt,
                                 seed=p.seed, outer_steps=CFG.outer_steps, tol=CFG.tol)
    assert p.err == pytest.approx(np.linalg.norm(pred - closed) / np.linalg.norm(closed), rel=1e-5)


def test_flagged_nets_are_kept_out_unless_asked(summary):
    """The same points read with include_flagged=False (an axis: nothing recomputed): unconverged nets excluded."""
    root, s = summary
    strict = conv.read(conv.run(dataclasses.replace(CFG, include_flagged=False), root))
    for p, q in zip(s.result.channels, strict.result.channels):
        assert p.err == q.err and p.excluded is None
        assert (q.excluded is None) == (p.converged and not p.left_kernel_regime)
        if not p.converged:
            assert q.excluded.startswith("not converged")
    if all(q.excluded for q in strict.result.channels):
        assert not strict.channel_fit("mtl-shared").ok


def test_max_channels_caps_a_method(tmp_path, monkeypatch):
    """A method is trained only up to its cap; its fit runs over the channel counts it was trained at."""
    trained = []

    def fake_train(p):
        trained.append((p["method"], p["channels"]))
        return {"err": 1.0 / p["channels"] ** 0.5, "converged": True, "left_kernel_regime": False}

    monkeypatch.setattr(conv, "_train", fake_train)
    cfg = dataclasses.replace(CFG, settings=(), channels=(4, 8, 16), finite_methods=("mtl-shared", "anil-same"),
                              max_channels=(("anil", 8),))
    s = conv.read(conv.run(cfg, tmp_path))
    want = {("mtl-shared", c) for c in (4, 8, 16)} | {("anil-same", 4), ("anil-same", 8)}
    assert sorted(set(trained)) == sorted(want)
    assert s.channel_fit("anil-same").x == (4, 8) and s.channel_fit("mtl-shared").x == (4, 8, 16)
    assert s.channel_fit("mtl-shared").r == pytest.approx(0.5, rel=1e-12)
    with pytest.raises(ValueError, match="max_channels"):
        dataclasses.replace(CFG, max_channels=(("maml", 8),))   # not one of finite_methods


@pytest.mark.parametrize("field, value", [
    ("tasks", TaskConfig("digits", 2, 2, 1, 1, options=(("n_way", 2),))),    # vectors, not images
    ("finite_tasks", TaskConfig("shared-feature", 2, 2, 1, 1)),
    ("archs", ("conv-gap", "resnet")), ("archs", ("conv",)), ("finite_pool", "max"), ("depths", (2,)), ("splits", ("both",)),
    ("settings", ("digits-10way",)), ("channels", (0, 8)), ("finite_methods", ("reptile",)), ("tau", 0.0),
    ("tau", 11.0), ("tol", 1.0)])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field if field != "finite_methods" else "reptile"):
        dataclasses.replace(CFG, **{field: value})


def test_images_option_is_required_and_kept():
    assert dict(conv.Config().tasks.options)["as_images"] is True
    assert dict(CONV_IMAGES)["as_images"] is True


def test_verdict_rules_follow_the_inputs():
    falls = {"rel_first": 1.0, "rel_last": 0.2, "norm_first": 1.0, "norm_last": 0.3, "rel_r_lo": 0.3,
             "norm_r_lo": 0.2, "rel_monotone": True, "norm_monotone": True}
    flat = dict(falls, rel_last=0.9, norm_last=0.95, rel_r_lo=-0.1, norm_r_lo=-0.1)
    assert verdicts.c3_conv({}).status == verdicts.MISSING
    assert verdicts.c3_conv({"conv-gap": None}).status == verdicts.MISSING
    assert verdicts.c3_conv({"conv-gap": falls, "conv-flatten": falls}).status == verdicts.REPRODUCED
    assert verdicts.c3_conv({"conv-gap": flat}).status == verdicts.NOT
    v = verdicts.c3_conv({"conv-gap": falls, "conv-flatten": flat}, {"rel_first": 1.25, "rel_last": 0.2})
    assert v.status == verdicts.NOT      # the worst of the poolings
    assert "conv-gap: reproduced" in v.reason and "conv-flatten: not reproduced" in v.reason
    assert "1.25 -> 0.2" in v.reason
    vacuous = dict(falls, mse_last=0.3, mtl_mse_last=0.3, none_mse_last=0.25)
    assert verdicts.c3_conv({"conv-gap": vacuous}).status == verdicts.PARTLY
    assert verdicts.c5_conv([]).status == verdicts.MISSING
    assert verdicts.c5_conv([("accuracy", 0.8, 0.82), ("accuracy", 0.7, 0.71)]).status == verdicts.REPRODUCED
    assert verdicts.c5_conv([("accuracy", 0.5, 0.8)]).status == verdicts.NOT
