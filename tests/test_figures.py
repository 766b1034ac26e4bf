"""Figures smoke test: every script draws from a tiny stored result set, reading records only."""
import numpy as np
import pytest

import figures
import ntk_bridge as nb
from ntk_bridge import finite, predict
from ntk_bridge.experiments import ablate, accuracy, closeness, cost, kernel_share, width
from ntk_bridge.experiments.common import TaskConfig

TINY = TaskConfig(n_train=3, n_test=2, n_support=3, n_query=3)


def _fake_fit_predict(spec, train, test, *, method, adapt, split="disjoint", seed=0, return_info=False, **kw):
    """The closed form plus width^-1/2 noise, standing in for training (drawing is under test, not training)."""
    if method == "mtl-shared":
        pred = predict.mtl(spec, train, test, adapt=adapt)
    else:
        pred = predict.gbml(spec, train, test, algo=method, adapt=adapt, split=split)
    pred = pred + np.random.default_rng(seed).standard_normal(pred.shape) / np.sqrt(spec.width)
    info = {"converged": True, "steps": 1, "final_loss": 0.0, "initial_loss": 1.0, "wall_s": 0.0}
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
    finally:
        mp.undo()
    return root


def test_every_figure_draws_from_records_only(results, tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a figure recomputed a prediction instead of reading the records")

    for name in ("gbml", "mtl", "no_transfer", "gbml_from_kernels", "mtl_from_kernels", "no_transfer_from_kernels"):
        monkeypatch.setattr(predict, name, forbidden)
    monkeypatch.setattr(finite, "fit_predict", forbidden)
    monkeypatch.setattr(nb.kernels, "kernels", forbidden)
    assert figures.main(results, tmp_path) == 0
    for name in figures.SCRIPTS:
        for ext in ("png", "pdf"):
            path = tmp_path / f"{name}.{ext}"
            assert path.exists() and path.stat().st_size > 5000, path


def test_one_script_alone_and_missing_results(results, tmp_path):
    from figures import common, kernel_share as fig_ks

    paths = fig_ks.main(results, tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    with pytest.raises(common.MissingResults, match="ntk-bridge kernel-share"):
        fig_ks.main(tmp_path / "empty", tmp_path)
