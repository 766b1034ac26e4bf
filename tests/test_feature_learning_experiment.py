"""The feature-learning experiment (theory.md §12): its numbers recomputed another way, its rules and its config."""
import dataclasses

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import finite, metrics, store
from ntk_bridge.appendix import verdicts
from ntk_bridge.appendix.sections import feature_learning as section
from ntk_bridge.experiments import feature_learning as fl
from ntk_bridge.experiments.common import kernel_table, scaled_adaptation

from builders import FL_CFG, seed_trained_points

CFG = dataclasses.replace(FL_CFG, include_flagged=True)   # the tiny nets stop at 40 steps: keep them all


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    root = tmp_path_factory.mktemp("fl")
    seed_trained_points(fl, CFG, root)
    return root, fl.read(fl.run(CFG, root))


def _records(root) -> dict:
    return {(c["setting"], c["parameterization"], c["method"], c["width"], c["seed"]): r["result"]
            for r in store.load(root, fl.NAME, kind="point") for c in [r["config"]]}


def test_a_stored_net_is_the_net_fit_predict_trains(summary):
    """One muP ANIL net retrained straight through nb.finite.fit_predict (the inner loop by hand from the NTK):
    its predictions and movements equal the stored ones."""
    root, _ = summary
    rec = _records(root)["digits", "mup", "anil", 32, 1]
    train, test = fl.tasks("digits", FL_CFG.n_tasks)
    lam = np.linalg.eigvalsh(nb.kernels.kernels(nb.MLPSpec(depth=FL_CFG.depth),
                                                np.concatenate([train.xs[0], train.xq[0]])).theta)[-1]
    adapt = nb.Adaptation(FL_CFG.tau / (FL_CFG.steps * lam), FL_CFG.steps)
    pred, info = finite.fit_predict(nb.MLPSpec(depth=FL_CFG.depth, width=32, parameterization="mup", out_dim=5),
                                    train, test, method="anil", adapt=adapt, seed=1, outer_steps=FL_CFG.outer_steps,
                                    tol=FL_CFG.tol, target_scale=1.0, return_info=True)
    np.testing.assert_allclose(np.asarray(rec["pred"]), pred, rtol=1e-5, atol=1e-6)
    assert rec["feature_movement"] == pytest.approx(info["feature_movement"], rel=1e-5)
    assert rec["accuracy"] == metrics.accuracy(pred, test.yq)


def test_gaps_limits_and_fits_recomputed_from_the_records(summary):
    root, s = summary
    recs = _records(root)
    for row in s.result.gaps:
        vals = [np.linalg.norm(np.subtract(recs[row.setting, row.parameterization, row.method, row.width, k]["pred"],
                                           recs[row.setting, row.parameterization, "mtl-shared", row.width, k]["pred"]))
                / np.linalg.norm(recs[row.setting, row.parameterization, "mtl-shared", row.width, k]["pred"])
                for k in range(FL_CFG.seeds)]
        assert row.gap.mean == pytest.approx(np.mean(vals), rel=1e-10)
    for row in s.result.limits:
        a = [np.asarray(recs[row.setting, row.parameterization, row.method, w, k]["pred"])
             for w in (row.a, row.b) for k in range(FL_CFG.seeds)]
        vals = [np.linalg.norm(a[k] - a[FL_CFG.seeds + k]) / np.linalg.norm(a[FL_CFG.seeds + k])
                for k in range(FL_CFG.seeds)]
        assert row.distance.mean == pytest.approx(np.mean(vals), rel=1e-10)
    for f in FL_CFG.settings:
        for par in FL_CFG.parameterizations:
            for m in FL_CFG.methods:
                y = [np.log(recs[f, par, m, n, k]["feature_movement"]) for n in FL_CFG.widths
                     for k in range(FL_CFG.seeds)]
                x = [np.log(n) for n in FL_CFG.widths for _ in range(FL_CFG.seeds)]
                slope = np.polyfit(x, y, 1)[0]
                assert s.fit(f, par, 1.0, m).r == pytest.approx(-slope, rel=1e-9, abs=1e-12)


def test_no_transfer_is_the_same_under_both_parameterizations(summary):
    """No transfer adapts the head only, a linear model on the same initial features with the same head multiplier:
    its centered predictions do not depend on the head's initial scale, so the two parameterizations agree."""
    root, _ = summary
    recs = _records(root)
    for f in FL_CFG.settings:
        for n in FL_CFG.widths:
            np.testing.assert_allclose(recs[f, "mup", "no-transfer", n, 0]["pred"],
                                       recs[f, "ntk", "no-transfer", n, 0]["pred"], rtol=1e-4, atol=1e-5)


def test_leaving_the_kernel_regime_counts_only_under_ntk():
    flagged = {"converged": True, "left_kernel_regime": True, "rises": 2, "max_step_ratio": 1.3, "steps": 5,
               "final_loss": 0.0, "initial_loss": 1.0}
    assert fl.exclusion(flagged, "mup", False) is None
    assert "left the kernel regime" in fl.exclusion(flagged, "ntk", False)
    assert fl.exclusion(flagged, "ntk", True) is None
    unconverged = dict(flagged, left_kernel_regime=False, converged=False, final_loss=0.5)
    assert "not converged" in fl.exclusion(unconverged, "mup", False)
    assert "not computable" in fl.exclusion({"not_computable": "x", "converged": False}, "mup", True)


def test_movement_bar():
    """The issue's bar on the fitted ratio 8^-r from width 128 to 1024."""
    fit = lambda r: dataclasses.replace(fl.PowerFit(), r=r)   # noqa: E731
    assert section.movement_check("ntk", fit(0.5)) == "yes" and section.movement_check("ntk", fit(0.2)) == "no"
    assert section.movement_check("mup", fit(0.1)) == "yes" and section.movement_check("mup", fit(0.3)) == "no"
    assert section.movement_check("mup", fit(-0.3)) == "no"


def test_verdict_rules():
    assert verdicts.c3_mup([]).status == verdicts.MISSING
    assert verdicts.c3_mup([("a", 0.3, 0.5), ("b", 0.2, 0.4)]).status == verdicts.REPRODUCED
    assert verdicts.c3_mup([("a", 0.6, 0.5), ("b", 0.2, 0.4)]).status == verdicts.PARTLY
    assert verdicts.c3_mup([("a", 0.6, 0.5), ("b", 0.5, 0.4), ("c", 0.1, 0.2)]).status == verdicts.NOT
    assert verdicts.c5_mup([]).status == verdicts.MISSING
    assert verdicts.c5_mup([("d", 0.7, 0.72, 0.6)]).status == verdicts.REPRODUCED
    assert verdicts.c5_mup([("d", 0.4, 0.3, 0.6)]).status == verdicts.PARTLY      # within, no transfer wins
    assert verdicts.c5_mup([("d", 0.4, 0.7, 0.6)]).status == verdicts.PARTLY      # transfer wins, MTL not within
    assert verdicts.c5_mup([("d", 0.4, 0.7, 0.8), ("e", 0.2, 0.5, 0.6)]).status == verdicts.NOT


@pytest.mark.parametrize("field,value", [("settings", ("sinusoid",)), ("parameterizations", ("sp",)),
                                         ("scales", (0.0,)), ("methods", ("anil",)), ("methods", ("mtl-shared", "no-transfer")),
                                         ("widths", (64,)), ("max_widths", (("fomaml", 64),)), ("float64_methods", ("maml",)), ("tau", 0.0),
                                         ("n_tasks", 0), ("include_flagged", "yes")])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(FL_CFG, **{field: value})


def test_an_unknown_setting_is_a_value_error_naming_the_choices():
    from ntk_bridge.experiments import accuracy
    with pytest.raises(ValueError, match="family must be a task family .* got 'nope'"):
        fl.tasks("nope", 3)
    with pytest.raises(ValueError, match="got 'omniglot'"):
        accuracy.task_config("omniglot", 2, 2)
