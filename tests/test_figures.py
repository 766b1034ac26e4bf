"""Figures: every module draws from a tiny stored result set, reading records only, writing under --out only."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import cli, experiments, figures, finite, predict
from ntk_bridge.experiments import ablate, accuracy, closeness, cost, kernel_share, width
from ntk_bridge.experiments.common import TaskConfig

from builders import (DIST_CFG, FC_CFG, fake_fc_compute, run_tiny_conv, run_tiny_digits,
                      run_tiny_feature_learning)

TINY = TaskConfig(n_train=3, n_test=2, n_support=3, n_query=3)


def _fake_fit_predict(spec, train, test, *, method, adapt, split="disjoint", seed=0, return_info=False, **kw):
    """The closed form plus width^-1/2 noise, standing in for training (drawing is under test, not training)."""
    import jax

    named_split = isinstance(method, str) and method.split("+")[0].endswith(("-same", "-disjoint"))
    m = finite.resolve(method, None if named_split else split)
    pred = predict.closed_form(m, predict.analytic(spec), train, test, adapt=adapt)
    pred = pred + np.random.default_rng(seed).standard_normal(pred.shape) / np.sqrt(spec.width)
    info = {"converged": True, "steps": 1, "final_loss": 0.0, "initial_loss": 1.0, "wall_s": 0.0,
            "left_kernel_regime": False, "rises": 0, "max_step_ratio": 1.0,
            "body": spec.init(jax.random.PRNGKey(seed), train.dim)["body"]}
    return (pred, info) if return_info else pred


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    mp = pytest.MonkeyPatch()
    mp.setattr(finite, "fit_predict", _fake_fit_predict)
    try:
        kernel_share.run(kernel_share.Config(depths=(1, 2, 4), n_points=5, dim=4, seeds=2, n_boot=20), root)
        closeness.run(closeness.Config(tasks=TINY, depths=(1, 2, 4), seeds=2, lr_steps=((0.02, 1), (0.05, 2)),
                                       lr_steps_depths=(1, 2), widths=(16, 64), finite_depths=(1,), finite_seeds=1,
                                       n_boot=20), root)
        width.run(width.Config(tasks=TINY, depths=(1,), widths=(16, 64, 256), methods=("mtl-shared", "anil"),
                               seeds=2, n_boot=20), root)
        accuracy.run(accuracy.Config(families=("shared-feature", "clusters"), n_train=3, n_test=2, depths=(2,),
                                     seeds=2, widths=(16,), finite_families=("clusters",), finite_seeds=1), root)
        cost.run(cost.Config(depth=1, widths=(8, 16), n_tasks=2, n_support=2, n_query=2, dim=3, steps=2, n_steps=2,
                             repeats=2), root)
        ablate.run(ablate.Config(tasks=TINY, depths=(2,), seeds=2, steps_grid=(1, 5), lr_grid=(0.01, 0.02),
                                 n_train_grid=(2, 3), similarity_grid=(0.5, 1.0), scaling_depths=(1, 2)), root)
        experiments.module("conditioning").run(experiments.module("conditioning").Config(
            architectures=("concat",), similarities=(0.0, 1.0), seeds=2, task_scales=(1.0,), support_sizes=(2, 3),
            n_query=3, dim=4, n_boot=20), root)
        experiments.module("ntk-fluctuation").run(experiments.module("ntk-fluctuation").Config(
            depths=(1, 2), widths=(16, 32), n_nets=20, n_boot=20, beta_max=0.2), root)
        experiments.module("distribution").run(DIST_CFG, root)
        from ntk_bridge.experiments import finite_closeness  # synthetic points: drawing is under test
        mp.setattr(finite_closeness, "compute_point", fake_fc_compute)
        finite_closeness.run(FC_CFG, root)
        run_tiny_digits(root)
    finally:
        mp.undo()
    run_tiny_conv(root)   # real training (the fake above draws MLPs only)
    run_tiny_feature_learning(root)
    return root


def test_every_figure_draws_from_records_only_under_out(results, tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a figure recomputed a prediction instead of reading the records")

    for name in ("gbml", "mtl", "no_transfer", "gbml_from_kernels", "mtl_from_kernels", "no_transfer_from_kernels"):
        monkeypatch.setattr(predict, name, forbidden)
    monkeypatch.setattr(finite, "fit_predict", forbidden)
    monkeypatch.setattr(nb.kernels, "kernels", forbidden)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out = tmp_path / "out"
    assert figures.main(results, out) == 0
    expected = {f"{name}.{ext}" for name in figures.names() for ext in ("png", "pdf")}
    assert {p.name for p in out.iterdir()} == expected
    for name in expected:
        assert (out / name).stat().st_size > 5000, name
    assert list(cwd.iterdir()) == []  # nothing written relative to the working folder


def test_one_module_runs_as_a_script(results, tmp_path):
    """``python -m ntk_bridge.figures.kernel_share`` from any folder: the package, not a checkout's ``figures/``."""
    proc = subprocess.run([sys.executable, "-m", "ntk_bridge.figures.kernel_share", "--results", str(results),
                           "--out", str(tmp_path / "figs")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["kernel_share.pdf", "kernel_share.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figs"]


@pytest.mark.parametrize("how", ["missing", "empty"])
def test_no_results_is_an_error_in_one_line(tmp_path, capsys, how):
    results = tmp_path / "results"
    if how == "empty":
        results.mkdir()
    out = tmp_path / "figs"
    assert cli.main(["figures", "--results", str(results), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(results) in err and "Traceback" not in err
    assert ("does not exist" if how == "missing" else "no experiment summary") in err
    assert not out.exists()


def test_one_figure_without_its_experiment(results, tmp_path):
    from ntk_bridge.figures import common, kernel_share as fig_ks

    assert [p.suffix for p in fig_ks.main(results, tmp_path)] == [".png", ".pdf"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(common.MissingResults, match="ntk-bridge kernel-share"):
        fig_ks.main(tmp_path / "empty", tmp_path)


def test_captions_and_sections_are_declared_in_code():
    for name in figures.names():
        mod = figures.module(name)
        assert mod.EXPERIMENT in experiments.names(), name
        assert mod.SECTION in experiments.sections(), name
        assert isinstance(mod.CAPTION, str) and len(mod.CAPTION) > 40, name
        assert figures.caption(name) == mod.CAPTION and not mod.__doc__.startswith(mod.CAPTION)
        assert callable(mod.main)


# Summary keys as the experiments store them ("same/anil/rel_gap", "2/anil/err", "per_step_s/maml", ...):
# only each experiment's own ``read`` may split them.
STORED_KEY = re.compile(r"""["'](?:same|disjoint|fit|lr_steps|mse|per_step_s|ratio)/|\}/(?:err|fit|gap_to_mtl|"""
                        r"""converged|rel_gap|normalized_gap)|/(?:rel_gap|normalized_gap)["']""")


def test_figures_and_appendix_read_summaries_only_through_the_readers():
    pkg = Path(nb.__file__).parent
    files = sorted((pkg / "figures").glob("*.py")) + sorted((pkg / "appendix").rglob("*.py"))
    assert len(files) > 10
    offenders = [f"{f.relative_to(pkg)}:{i}: {line.strip()}" for f in files
                 for i, line in enumerate(f.read_text().splitlines(), 1) if STORED_KEY.search(line)]
    assert offenders == []
    for name in experiments.names():
        assert callable(experiments.module(name).read), name


def test_required_width_panel_says_why_when_no_law_gives_a_width():
    """A fit whose exponent interval reaches 0: no curve, so the panel says why instead of an empty legend."""
    from ntk_bridge.experiments.finite_closeness import DepthWidthLaw
    from ntk_bridge.figures import common, finite_closeness as fig_fc

    class Spanning:
        depths, widths, targets = (1, 2), (64, 256), (0.1, 0.05)

        def fit(self, label):
            return DepthWidthLaw(r=-0.3, c=1.0, r_lo=-0.7, r_hi=0.1, level=0.9) if label == "mtl-shared" else None

        def required_width(self, label, eps):
            return (None, None)

    fig, ax = common.plt.subplots()
    fig_fc.required_width_panel(ax, Spanning(), ["mtl-shared", "anil-same"])
    text = " ".join(t.get_text() for t in ax.texts)
    assert not ax.lines and ax.get_legend() is None
    assert "No required width" in text and "[-0.10, 0.70] reaches 0" in text and "no fit" in text
    common.plt.close(fig)
