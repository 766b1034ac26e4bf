"""Real images (scikit-learn's digits) through the experiments: accuracy metric, closeness point,
kernel share, configs, the headline/digits summary selection and the verdict rows."""
import dataclasses

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import experiments, selection, store
from ntk_bridge.appendix import verdicts
from ntk_bridge.experiments import accuracy, closeness, kernel_share
from ntk_bridge.experiments.common import TaskConfig, point
from ntk_bridge.selection import on_digits

from builders import run_tiny_digits

def test_accuracy_on_digits_scores_argmax_accuracy_like_an_independent_computation():
    p = {"family": "digits-2way", "n_train": 3, "n_test": 2, "depth": 2, "tau": 0.5, "steps": 5, "seed": 1,
         "backend": "native"}
    res = accuracy.evaluate(p)
    assert accuracy.metric("digits-2way") == accuracy.metric("digits") == "accuracy"
    assert accuracy.metric("shared-feature") == "mse"
    # independent: the episodes drawn by tasks.digits itself, kernels and predictors through the public API
    train = nb.tasks.digits(3, n_way=2, k_shot=5, n_query=5, classes="train", seed=2)
    test = nb.tasks.digits(2, n_way=2, k_shot=5, n_query=5, classes="test", seed=3, exclude=train)
    spec = nb.MLPSpec(depth=2, out_dim=2)
    x0 = np.concatenate([train.xs[0], train.xq[0]])
    lam = np.linalg.eigvalsh(nb.kernels.kernels(spec, x0).theta)[-1]
    adapt = nb.Adaptation(lr=0.5 / (5 * lam), steps=5)
    assert res["lr"] == pytest.approx(adapt.lr, rel=1e-12)
    preds = {"mtl": nb.predict.mtl(spec, train, test, adapt=adapt),
             "anil-disjoint": nb.predict.gbml(spec, train, test, algo="anil", adapt=adapt, split="disjoint"),
             "no-transfer": nb.predict.no_transfer(spec, test, adapt=adapt)}
    n_points = test.n_tasks * test.n_query
    for k, pred in preds.items():
        acc = np.mean(pred.argmax(-1) == test.yq.argmax(-1))
        assert res[k]["error_metric"] == pytest.approx(acc, abs=1e-12), k
        assert round(res[k]["error_metric"] * n_points) == pytest.approx(res[k]["error_metric"] * n_points)
    assert {"fomaml-same", "fomaml-disjoint"} <= set(res)


def test_accuracy_settings_draw_their_sizes_and_old_records_without_fomaml_still_summarize(tmp_path):
    for fam, (n_way, shot, query) in {"digits": (5, 1, 3), "digits-5shot": (5, 5, 3), "digits-2way": (2, 5, 5),
                                      "digits-fixed": (5, 1, 3)}.items():
        train, test = accuracy.task_config(fam, 20, 20).draw(0)   # the full sizes fit the class pools
        assert train.out_dim == test.out_dim == n_way
        assert (train.n_support, train.n_query) == (n_way * shot, n_way * query)
    with pytest.raises(ValueError, match="families"):
        accuracy.Config(families=("digits-3way",))
    cfg = accuracy.Config(families=("digits-2way",), n_train=3, n_test=2, depths=(2,), seeds=2, inner_times=(0.5,),
                          widths=())
    real = accuracy.evaluate

    def without_fomaml(p):   # a record stored before FOMAML joined the methods
        return {k: v for k, v in real(p).items() if not k.startswith("fomaml")}

    mp = pytest.MonkeyPatch()
    mp.setattr(accuracy, "evaluate", without_fomaml)
    try:
        summ = accuracy.run(cfg, tmp_path)
    finally:
        mp.undo()
    row = accuracy.read(summ).rows[0]
    assert row.metric == "accuracy" and row.score("mtl-shared") is not None
    assert row.score("fomaml-same") is None and not row.ran("fomaml-same")


def test_quick_digits_closeness_point_matches_the_predictors_and_the_gap_falls_with_depth():
    cfg = experiments.configure("closeness", quick=True, family="digits")
    assert cfg.tasks.family == "digits" and ("closeness", cfg) in experiments.reproduce_plan(quick=True)
    base = {"tasks": store.to_jsonable(cfg.tasks), "seed": 0, "lr": cfg.lr, "steps": cfg.steps,
            "splits": list(cfg.splits), "backend": "native"}
    shallow, deep = (closeness.evaluate(dict(base, depth=L)) for L in (1, 16))
    train, test = cfg.tasks.draw(0)
    spec = nb.MLPSpec(depth=16, out_dim=2)
    adapt = nb.Adaptation(cfg.lr, cfg.steps)
    mtl = nb.predict.mtl(spec, train, test, adapt=adapt)
    for split in ("same", "disjoint"):
        anil = nb.predict.gbml(spec, train, test, algo="anil", adapt=adapt, split=split)
        assert deep[split]["anil"]["rel_gap"] == pytest.approx(nb.metrics.rel_gap(anil, mtl), rel=1e-8)
    # the theorem's setting on real images: the gap falls with depth (measured 3.2 -> 0.14 at these sizes)
    assert deep["same"]["anil"]["rel_gap"] < 0.25 * shallow["same"]["anil"]["rel_gap"]


@pytest.mark.parametrize("name", ["closeness", "accuracy", "ablate", "finite-closeness", "kernel-share"])
def test_every_family_experiment_configures_digits(name):
    cfg = experiments.configure(name, quick=False, family="digits")
    assert on_digits({"config": store.to_jsonable(cfg)})
    if name == "accuracy":
        assert set(cfg.families) == set(accuracy.DIGITS)
    elif name == "kernel-share":
        assert cfg.family == "digits"
    else:
        train, test = cfg.tasks.draw(0)   # the sizes fit the digits pools
        assert train.dim == 64 and test.n_tasks == cfg.tasks.n_test


def test_kernel_share_on_digits_keeps_the_exact_diagonal_share():
    cfg = kernel_share.Config(depths=(1, 3), n_points=6, seeds=1, n_boot=10, family="digits")
    p = dict(point(cfg, depth=3, seed=0), family="digits")
    res = kernel_share._compute(p)
    assert res["diag_share_max_dev"] < 1e-12   # Sigma(x,x) / Theta(x,x) = 1 / (L + 1) on real images too
    plain = point(dataclasses.replace(cfg, family=None), depth=3, seed=0)
    assert "family" not in plain   # points on the sphere keep their stored hashes
    with pytest.raises(ValueError, match="family"):
        kernel_share.Config(family="clusters")


def test_headline_and_digits_summaries_are_read_apart(tmp_path):
    from ntk_bridge.appendix.context import Context
    from ntk_bridge.figures import common

    synthetic = closeness.Config(tasks=TaskConfig(n_train=3, n_test=2, n_support=3, n_query=3), depths=(1, 2),
                                 seeds=2, lr_steps=(), widths=(), n_boot=20)
    first = closeness.run(synthetic, tmp_path)
    run_tiny_digits(tmp_path)   # newer than the synthetic sweep
    assert closeness.run(synthetic, tmp_path)["created"] == first["created"]   # rerun: summary kept, not rewritten
    assert selection.summary(tmp_path, "closeness", digits=True)["config"]["tasks"]["family"] == "digits"
    assert selection.summary(tmp_path, "closeness")["config_hash"] == first["config_hash"]
    ctx = Context(tmp_path, tmp_path / "out")
    assert ctx.read("closeness").config["tasks"]["family"] == "shared-feature"
    assert ctx.read("closeness", digits=True).config["tasks"]["family"] == "digits"
    assert common.summary(tmp_path, "closeness").config["tasks"]["family"] == "shared-feature"
    assert ctx.read("accuracy") is None and ctx.read("accuracy", digits=True).families == ("digits-2way", "digits-fixed")


def test_digits_verdict_rules():
    falls = dict(rel_first=3.0, rel_last=0.1, norm_first=3.0, norm_last=0.1, rel_r_lo=0.9, norm_r_lo=0.9)
    v = verdicts.c3_digits(falls, 3.3, 0.6)
    assert v.status == verdicts.REPRODUCED and "disjoint" in v.reason and "0.6" in v.reason
    flat = dict(falls, rel_last=2.0, norm_last=2.0)    # deepest > C3_DROP x shallowest
    assert verdicts.c3_digits(flat).status == verdicts.NOT
    assert verdicts.c3_digits(dict(falls, norm_r_lo=-0.1)).status == verdicts.PARTLY
    assert verdicts.c3_digits(None).status == verdicts.MISSING
    m = verdicts.C5_ACC_MARGIN
    assert verdicts.c5_digits([("accuracy", 0.5, 0.5 + m / 2, 0.9)]).status == verdicts.REPRODUCED
    assert verdicts.c5_digits([("accuracy", 0.5, 0.5 + 2 * m, 0.9)]).status == verdicts.NOT
    assert "worse than no transfer" in verdicts.c5_digits([("accuracy", 0.5, 0.5, 0.9)]).reason
    assert verdicts.c5_digits([]).status == verdicts.MISSING


def test_paper_repro_has_digits_rows_with_verdicts(tmp_path):
    from ntk_bridge.appendix import main

    run_tiny_digits(tmp_path / "results")
    repro = tmp_path / "repro.md"
    assert main(["--results", str(tmp_path / "results"), "--out", str(tmp_path / "out"), "--no-pdf",
                 "--paper-repro", str(repro)]) == 0
    text = repro.read_text()
    for claim in ("C3-digits", "C5-digits"):
        line = next(x for x in text.splitlines() if x.startswith(f"| {claim} |"))
        assert "not yet measured" not in line, line
    assert "Real data: every row of this table" in text
    assert "## C3-digits" in text and "## C5-digits" in text
    md = (tmp_path / "out" / "appendix.md").read_text()
    assert "Real images: scikit-learn's digits" in md and "Digits setting" in md


def test_accuracy_probe_rows_and_flagged_finite_runs_are_excluded(tmp_path):
    """The authors' probe: at infinite width one number for every method (= nb.probe.infinite on the same
    test tasks); at finite width per trained body (no transfer: the seed's initial body).  Trained nets
    that did not converge are excluded from the statistics unless include_flagged."""
    import jax

    cfg = accuracy.Config(families=("digits-2way",), n_train=3, n_test=2, depths=(1,), seeds=1, inner_times=(0.5,),
                          widths=(32,), finite_families=("digits-2way",), finite_depth=1, finite_seeds=1,
                          finite_outer_steps=2, finite_tol=1e-3)
    inf_row, fin_row = accuracy.read(accuracy.run(cfg, tmp_path)).rows
    _, test = accuracy.task_config("digits-2way", 3, 2).draw(0)
    want = nb.probe.infinite(nb.MLPSpec(depth=1, out_dim=2), test)
    assert all(inf_row.probe(m).mean == pytest.approx(want, abs=1e-12) for m in accuracy.METHODS)
    spec = nb.MLPSpec(depth=1, width=32, out_dim=2)
    body0 = spec.init(jax.random.split(jax.random.PRNGKey(0), 3)[0], test.dim)["body"]
    assert fin_row.probe("no-transfer").mean == pytest.approx(nb.probe.finite(spec, body0, test), abs=1e-12)
    trained = [m for m in accuracy.FINITE_METHODS if m.kind != "none"]
    for m in trained:   # 2 outer steps cannot reach 1e-3 of the initial loss
        assert fin_row.score(m) is None and "excluded" in fin_row.errors[m.label], m.label
        assert fin_row.probe(m) is None
    assert fin_row.score("no-transfer") is not None   # trains nothing: nothing to converge
    kept = accuracy.read(accuracy.run(dataclasses.replace(cfg, include_flagged=True), tmp_path)).rows[1]
    assert all(kept.score(m) is not None and kept.probe(m) is not None for m in trained)
