"""The conditioning experiment (issue #16): a tiny sweep, its summary recomputed from its points, figure, appendix."""
import dataclasses
import math

import numpy as np
import pytest

from ntk_bridge import experiments, store
from ntk_bridge.experiments import conditioning as exp

TINY = exp.Config(architectures=("concat", "multi-head-shared"), similarities=(0.0, 0.3, 0.6, 1.0), seeds=2,
                  task_scales=(0.5, 2.0), support_sizes=(2, 4, 6), n_query=6, dim=4, n_boot=50,
                  finite_widths=(32, 128), finite_similarities=(0.0, 1.0), finite_seeds=2)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    summary = exp.run(TINY, root)
    return root, summary


def _my_crossing(sims, ratios):
    """Independent: the last similarity where mean ratio - 1 changes sign, linearly interpolated."""
    last = None
    for i in range(len(sims) - 1):
        a, b = ratios[i] - 1.0, ratios[i + 1] - 1.0
        if (a > 0) != (b > 0):
            last = sims[i] + (sims[i + 1] - sims[i]) * a / (a - b)
    return last


def test_registered():
    assert experiments.module("conditioning") is exp
    assert "conditioning" in experiments.names()
    q = exp.Config.quick()
    assert len(q.similarities) <= 5 and q.seeds <= 2 and len(q.architectures) <= 3


def _kernel_points(root, summary):
    return [p for p in store.points_of(root, summary) if p["config"].get("kind") != "finite"]


def test_summary_is_recomputed_from_points(results):
    root, summary = results
    points = _kernel_points(root, summary)
    s = exp.read(summary)
    n_curves = len(TINY.architectures) + len(TINY.task_scales) + len(TINY.architectures) * len(TINY.weightings)
    assert len(s.curves) == n_curves
    assert len(points) == n_curves * len(TINY.similarities) * TINY.seeds
    for c in s.curves:
        mine = {}
        for p in points:
            cfg = p["config"]
            if (cfg["architecture"], cfg["task_scale"], cfg["weighting"], cfg["ridge"]) == (
                    c.architecture, c.task_scale, c.weighting, c.ridge):
                mine.setdefault(cfg["similarity"], []).append(p["result"])
        assert sorted(mine) == list(c.similarities)
        means = []
        for row in c.rows:
            res = mine[row.similarity]
            assert len(res) == TINY.seeds == row.ratio.n
            ratios = [np.mean(r["mse"]) / np.mean(r["mse_independent"]) for r in res]
            assert row.ratio.mean == pytest.approx(np.mean(ratios), rel=1e-12)
            assert row.ratio.std == pytest.approx(np.std(ratios, ddof=1), rel=1e-10, abs=1e-15)
            assert sorted(row.task_ratio) == list(TINY.support_sizes)
            for i, n in enumerate(TINY.support_sizes):
                assert row.task_ratio[n].mean == pytest.approx(
                    np.mean([r["mse"][i] / r["mse_independent"][i] for r in res]), rel=1e-12)
            means.append(np.mean(ratios))
        x = _my_crossing(c.similarities, means)
        if x is None:
            assert not c.crossing.found and math.isnan(c.crossing.similarity)
            assert c.crossing.status == ("hurts" if min(means) > 1 else "helps")
        else:
            assert c.crossing.found and c.crossing.similarity == pytest.approx(x, rel=1e-12)
            assert c.similarities[0] <= x <= c.similarities[-1]
            if c.crossing.boot_none_frac < 1:
                assert c.crossing.lo <= c.crossing.hi
    # weighting matters only with ridge: the main curves run at TINY.ridge, the weighting ones at weighting_ridge
    assert {c.ridge for c in s.group("weighting")} == {TINY.weighting_ridge}
    assert {c.ridge for c in s.group("main")} == {TINY.ridge}


def test_points_mse_against_direct_call(results):
    """One point's MSEs equal a direct conditioning.mtl call against independent nets."""
    from ntk_bridge import conditioning
    from ntk_bridge.spec import MLPSpec
    from ntk_bridge.tasks import shared_feature

    root, summary = results
    p = next(r for r in _kernel_points(root, summary) if r["config"]["architecture"] == "concat")
    cfg = p["config"]
    tasks = shared_feature(3, 6, 6, dim=4, similarity=cfg["similarity"], seed=cfg["seed"])
    kw = dict(ridge=cfg["ridge"], weights=cfg["weighting"], support_sizes=(2, 4, 6))
    pred = conditioning.mtl(MLPSpec(depth=2), tasks, architecture="concat", task_scale=cfg["task_scale"], **kw)
    ind = conditioning.mtl(MLPSpec(depth=2), tasks, architecture="independent", **kw)
    np.testing.assert_allclose(p["result"]["mse"], np.mean((pred - tasks.yq) ** 2, axis=(1, 2)), rtol=1e-12)
    np.testing.assert_allclose(p["result"]["mse_independent"], np.mean((ind - tasks.yq) ** 2, axis=(1, 2)),
                               rtol=1e-12)


def test_finite_arm_is_recomputed_from_points(results):
    """The finite-width summary from its point records; one point against a direct training call."""
    from ntk_bridge import conditioning
    from ntk_bridge.finite import conditioned
    from ntk_bridge.spec import MLPSpec
    from ntk_bridge.tasks import shared_feature

    root, summary = results
    points = [p for p in store.points_of(root, summary) if p["config"].get("kind") == "finite"]
    archs = TINY.architectures + ("independent",)
    assert len(points) == len(archs) * len(TINY.finite_widths) * len(TINY.finite_similarities) * TINY.finite_seeds
    res = {(p["config"]["architecture"], p["config"]["width"], p["config"]["similarity"], p["config"]["seed"]):
           p["result"] for p in points}
    s = exp.read(summary)
    assert [(f.architecture, f.width) for f in s.finite] == [(a, w) for a in TINY.architectures
                                                             for w in TINY.finite_widths]
    for f in s.finite:
        assert f.similarities == TINY.finite_similarities
        for row in f.rows:
            seeds = range(TINY.finite_seeds)
            mine = [np.mean(res[(f.architecture, f.width, row.similarity, k)]["mse"])
                    / np.mean(res[("independent", f.width, row.similarity, k)]["mse"]) for k in seeds]
            assert row.ratio.mean == pytest.approx(np.mean(mine), rel=1e-12) and row.ratio.n == TINY.finite_seeds
            errs = [res[(f.architecture, f.width, row.similarity, k)]["rel_err"] for k in seeds]
            assert row.rel_err.mean == pytest.approx(np.mean(errs), rel=1e-12)
            assert row.left_kernel_regime == 0 and row.not_converged == 0
    # the error to the closed form falls with width (4x: the mean over architectures, seeds and similarities)
    by_width = {w: np.mean([r["rel_err"] for (a, ww, _, _), r in res.items() if ww == w]) for w in TINY.finite_widths}
    assert by_width[128] < 0.8 * by_width[32], by_width
    # one point recomputed directly
    p = next(p for p in points if p["config"]["architecture"] == "concat" and p["config"]["width"] == 32)
    cfg = p["config"]
    tasks = shared_feature(3, 6, 6, dim=4, similarity=cfg["similarity"], seed=cfg["seed"])
    kw = dict(architecture="concat", task_scale=cfg["task_scale"], support_sizes=(2, 4, 6), layer=1)
    pred = conditioned.fit_predict(MLPSpec(depth=2, width=32), tasks, seed=cfg["seed"], **kw)
    ref = conditioning.mtl(MLPSpec(depth=2), tasks, ridge=cfg["ridge"], **kw)
    np.testing.assert_allclose(p["result"]["mse"], np.mean((pred - tasks.yq) ** 2, axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(p["result"]["mse_closed_form"], np.mean((ref - tasks.yq) ** 2, axis=(1, 2)),
                               rtol=1e-12)


def test_crossing_helper():
    assert exp.crossing((0.0, 0.5, 1.0), (1.2, 0.8, 0.6)) == {"status": "crossing", "similarity": 0.25,
                                                              "n_crossings": 1}
    assert exp.crossing((0.0, 1.0), (0.9, 0.5))["status"] == "helps"
    assert exp.crossing((0.0, 1.0), (1.1, 1.5))["status"] == "hurts"
    c = exp.crossing((0.0, 0.5, 1.0, 1.5), (1.2, 0.8, 1.2, 0.8))
    assert c["n_crossings"] == 3 and c["similarity"] == pytest.approx(1.25)


@pytest.mark.parametrize("bad", [dict(similarities=(0.5, 0.2)), dict(similarities=(0.0, 1.5)),
                                 dict(architectures=("independent",)), dict(weightings=("nope",)),
                                 dict(seeds=0), dict(weighting_ridge=0.0), dict(support_sizes=(3,)),
                                 dict(layer=3), dict(finite_widths=(0,)), dict(finite_widths=[64]),
                                 dict(finite_similarities=(1.5,)), dict(finite_seeds=0)])
def test_bad_config(bad):
    with pytest.raises(ValueError):
        dataclasses.replace(TINY, **bad)


def test_figure_draws_from_records_only(results, tmp_path, monkeypatch):
    from ntk_bridge import conditioning
    from ntk_bridge.figures import conditioning as fig

    def forbidden(*a, **k):
        raise AssertionError("the figure recomputed instead of reading the records")

    monkeypatch.setattr(conditioning, "mtl", forbidden)
    monkeypatch.setattr(conditioning, "kernel", forbidden)
    monkeypatch.setattr(exp, "_compute", forbidden)
    from ntk_bridge.finite import conditioned
    monkeypatch.setattr(conditioned, "fit_predict", forbidden)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    root, _ = results
    paths = fig.main(root, tmp_path / "out")
    assert sorted(p.name for p in paths) == ["conditioning.pdf", "conditioning.png"]
    assert all(p.stat().st_size > 5000 for p in paths)
    assert list(cwd.iterdir()) == []
    assert fig.EXPERIMENT == "conditioning"


def test_appendix_section_renders_crossings(results, tmp_path):
    from ntk_bridge.appendix import render
    from ntk_bridge.appendix.context import Context
    from ntk_bridge.appendix.sections import conditioning as sec

    assert "conditioning" in experiments.sections()
    root, summary = results
    section = sec.build(Context(root, tmp_path))
    text = render.md_section(section, 1)
    points = _kernel_points(root, summary)
    for c in exp.read(summary).curves:
        means = []
        for s in c.similarities:
            res = [p["result"] for p in points if p["config"]["similarity"] == s and (
                p["config"]["architecture"], p["config"]["task_scale"], p["config"]["weighting"],
                p["config"]["ridge"]) == (c.architecture, c.task_scale, c.weighting, c.ridge)]
            means.append(np.mean([np.mean(r["mse"]) / np.mean(r["mse_independent"]) for r in res]))
        x = _my_crossing(c.similarities, means)
        if x is not None:
            assert render.fmt(x) in text
            assert render.fmt(c.crossing.lo) in text and render.fmt(c.crossing.hi) in text
        else:
            assert "none in the measured range" in text
    finite = exp.read(summary).finite
    assert finite and "conditioning-finite" in text
    for f in finite:
        for row in f.rows:
            assert render.fmt(row.ratio.mean) in text and render.fmt(row.rel_err.mean) in text
    missing = sec.build(Context(tmp_path / "empty", tmp_path))
    assert "ntk-bridge conditioning" in render.md_section(missing, 1)
