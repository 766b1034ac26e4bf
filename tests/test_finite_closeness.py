"""The finite-closeness experiment (theory.md §8): a tiny surface, its summary recomputed from the stored points."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ntk_bridge import finite, metrics, store
from ntk_bridge.experiments import MODULES, common
from ntk_bridge.experiments import finite_closeness as fc
from ntk_bridge.experiments import finite_sweep

TINY = fc.Config(tasks=common.TaskConfig(n_train=3, n_test=2, n_support=2, n_query=2, options=(("dim", 4),)),
                 depths=(1, 2), widths=(16, 32), methods=("mtl-shared", "anil"), splits=("same",),
                 protocols=("trained", "fresh"), seeds=2, ensembles=(1, 2), ensemble_depths=(), outer_steps=400,
                 tol=1e-3, n_boot=50, grids=())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("fc")
    return root, fc.run(TINY, root)


def _load(root, summary):
    """The stored points of ``summary`` read per protocol, keyed (label, depth, width, seed), with predictions
    as arrays (a point is one trained net, read under both test heads: ``label + "+fresh"`` for the fresh one)."""
    out = {}
    for rec in store.points_of(root, summary):
        c = rec["config"]
        flags = {k: v for k, v in rec["result"].items() if k != "protocols"}
        for prot, suffix in (("trained", ""), ("fresh", "+fresh")):
            part = {k: (np.asarray(v) if k.startswith("pred") and v is not None else v)
                    for k, v in rec["result"]["protocols"][prot].items()}
            out[c["method"] + suffix, c["depth"], c["width"], c["seed"]] = dict(flags, **part, schedule=c["schedule"])
    return out


def test_registered():
    assert MODULES["finite-closeness"] == "ntk_bridge.experiments.finite_closeness"
    assert fc.Config.quick().nets("anil-same", 8) == 2
    ref = fc.Config()
    assert ref.nets("anil-same", 8) == 4 and ref.nets("anil-same", 4) == 3 and ref.nets("maml-same+fresh", 8) == 2
    assert ref.grid("anil-disjoint+fresh") == fc.Grid((1, 4, 16), (256, 1024), 2)
    assert [lab for lab, _ in ref.labels()][::2] == ["mtl-shared", "anil-same", "maml-same", "fomaml-same",
                                                      "anil-disjoint"]
    for bad in (dict(grids=(("maml", (1,), (8,), 1),)), dict(methods=("anil-sideways",)),
                dict(ensemble_depths=[8])):
        with pytest.raises(ValueError, match=next(iter(bad))):
            fc.Config(**bad)


def test_one_training_per_net(tiny):
    """Both protocols are read off one trained net: one point per (method, L, n, seed), not per protocol."""
    root, summary = tiny
    assert len(store.points_of(root, summary)) == 2 * 2 * 2 * 2


def test_summary_recomputed_from_points(tiny):
    root, summary = tiny
    s = fc.read(summary)
    pts = _load(root, summary)
    assert s.schedule == finite.SCHEDULE
    assert all(p["schedule"] == finite.SCHEDULE for p in pts.values())
    kept = {k: finite_sweep.exclusion(v) is None for k, v in pts.items()}
    labels = [lab for lab, _ in s.labels]
    assert labels == ["mtl-shared", "mtl-shared+fresh", "anil-same", "anil-same+fresh"]
    for lab in labels:
        for L in TINY.depths:
            for n in TINY.widths:
                cell = s.cell(lab, L, n)
                errs = [pts[lab, L, n, seed]["err"] for seed in range(2) if kept[lab, L, n, seed]]
                if errs:
                    assert cell.err.mean == pytest.approx(np.mean(errs), rel=1e-12)
                    ref = [metrics.rel_gap(pts[lab, L, n, seed]["pred"], pts[lab, L, n, seed]["pred_infinite"])
                           for seed in range(2) if kept[lab, L, n, seed]]
                    assert cell.err.mean == pytest.approx(np.mean(ref), rel=1e-12)
                if lab.endswith("+fresh") and errs:
                    pts_ = [pts[lab, L, n, seed] for seed in range(2) if kept[lab, L, n, seed]]
                    assert cell.drift is None
                    assert cell.fluctuation.mean == pytest.approx(np.mean(
                        [metrics.rel_gap(p["pred_linearized"], p["pred_infinite"]) for p in pts_]), rel=1e-12)
                    assert cell.seen.mean == pytest.approx(np.mean(
                        [np.linalg.norm(p["pred"] - p["pred_linearized"]) / np.linalg.norm(p["pred_infinite"])
                         for p in pts_]), rel=1e-12)
                elif errs:
                    lin = [metrics.rel_gap(pts[lab, L, n, seed]["pred"], pts[lab, L, n, seed]["pred_linearized"])
                           for seed in range(2) if kept[lab, L, n, seed]]
                    assert cell.drift.mean == pytest.approx(np.mean(lin), rel=1e-12)
                if all(kept[lab, L, n, seed] for seed in range(2)):
                    mean = np.mean([pts[lab, L, n, seed]["pred"] for seed in range(2)], axis=0)
                    assert cell.ensemble[2].mean == pytest.approx(
                        metrics.rel_gap(mean, pts[lab, L, n, 0]["pred_infinite"]), rel=1e-12)
        # the fit err ~ c (L/n)^a, a = -r of metrics.fit_power_law on x = L/n
        if all(kept[k] for k in pts if k[0] == lab):
            xs = [L / n for L in TINY.depths for n in TINY.widths]
            y = np.array([[pts[lab, L, n, seed]["err"] for L in TINY.depths for n in TINY.widths] for seed in range(2)])
            ref = metrics.fit_power_law(xs, y, n_boot=TINY.n_boot)
            fit = s.fit(lab)
            assert fit.a == pytest.approx(-ref["r"], rel=1e-12) and fit.c == pytest.approx(ref["c"], rel=1e-12)
            assert (fit.a_lo, fit.a_hi) == pytest.approx((-ref["r_hi"], -ref["r_lo"]), rel=1e-12)
            for eps in TINY.targets:
                ok = -ref["r"] > 0 and -ref["r_hi"] > 0
                want = [L * (ref["c"] / eps) ** (1 / -ref["r"]) if ok else None for L in TINY.depths]
                got = list(s.required_width(lab, eps))
                assert got == (pytest.approx(want, rel=1e-9) if ok else want)
    for prot, suffix in (("trained", ""), ("fresh", "+fresh")):
        lab = "anil-same" + suffix
        for L in TINY.depths:
            for n in TINY.widths:
                gaps = [metrics.rel_gap(pts[lab, L, n, seed]["pred"], pts["mtl-shared" + suffix, L, n, seed]["pred"])
                        for seed in range(2) if kept[lab, L, n, seed] and kept["mtl-shared" + suffix, L, n, seed]]
                g = s.gap(lab, L, n)
                assert (g is None and not gaps) or g.mean == pytest.approx(np.mean(gaps), rel=1e-12)
            inf = metrics.rel_gap(pts[lab, L, 16, 0]["pred_infinite"], pts["mtl-shared" + suffix, L, 16, 0]["pred_infinite"])
            assert s.gap(lab, L) == pytest.approx(inf, rel=1e-12)
        if suffix and all(kept[lab, L, n, seed] and kept["mtl-shared" + suffix, L, n, seed]
                          for L in TINY.depths for n in TINY.widths for seed in range(2)):
            # two widths per depth: the common exponent is the mean of the per-depth slopes of the mean log gap
            lg = {(L, n): np.mean([np.log(metrics.rel_gap(pts[lab, L, n, seed]["pred"],
                                                          pts["mtl-shared" + suffix, L, n, seed]["pred"]))
                                   for seed in range(2)]) for L in TINY.depths for n in TINY.widths}
            n1, n2 = TINY.widths
            b = np.mean([-(lg[L, n2] - lg[L, n1]) / np.log(n2 / n1) for L in TINY.depths])
            assert s.gap_fit(lab).b == pytest.approx(b, rel=1e-9)
        elif not suffix:
            assert s.gap_fit(lab) is None        # trained head: the gap tends to the closed forms', not to 0
        for n, L in s.best_depth(lab).items():
            assert L is not None
            assert s.gap(lab, L, n).mean == min(s.gap(lab, d, n).mean for d in TINY.depths if s.gap(lab, d, n))


def test_flagged_runs_are_excluded(tmp_path, monkeypatch):
    compute = fc.compute_point

    def flag_one(p):
        out = compute(p)
        if (p["method"], p["depth"], p["width"], p["seed"]) == ("anil-same", 2, 16, 1):   # one net: both protocols
            out = dict(out, left_kernel_regime=True, rises=3, max_step_ratio=1.5)
        return out

    monkeypatch.setattr(fc, "compute_point", flag_one)
    cfg = dataclasses.replace(TINY, protocols=("trained",))
    s = fc.read(fc.run(cfg, tmp_path))
    assert [(e.method, e.depth, e.width, e.seed) for e in s.excluded] == [("anil-same", 2, 16, 1)]
    assert "left the kernel regime" in s.excluded[0].reason
    cell = s.cell("anil-same", 2, 16)
    assert cell.excluded == 1 and cell.err.n == 1 and cell.ensemble[2] is None
    assert s.gap("anil-same", 2, 16).n == 1
    s_all = fc.read(fc.run(dataclasses.replace(cfg, include_flagged=True), tmp_path))
    assert s_all.excluded == () and s_all.cell("anil-same", 2, 16).err.n == 2


def test_grids_train_a_method_on_its_own_grid(tmp_path):
    """``grids``: ANIL on (L 1 x n 16, one seed) only; MTL on the whole surface.  Cells, gaps and fits
    elsewhere are None, ``ran`` says so, and only the ensembles' depths train the extra nets."""
    cfg = dataclasses.replace(TINY, protocols=("fresh",), grids=(("anil-same", (1,), (16,), 1),),
                              ensembles=(1, 3), ensemble_depths=(2,))
    summary = fc.run(cfg, tmp_path)
    s = fc.read(summary)
    runs = sorted((r["config"]["method"], r["config"]["depth"], r["config"]["width"], r["config"]["seed"])
                  for r in store.points_of(tmp_path, summary))
    want = [("anil-same", 1, 16, 0)] + [("mtl-shared", L, n, seed) for L in (1, 2) for n in (16, 32)
                                        for seed in range(3 if L == 2 else 2)]
    assert runs == sorted(want)
    assert s.ran("anil-same+fresh", 16, 1) and not s.ran("anil-same+fresh", 32) and not s.ran("anil-same+fresh", 16, 2)
    assert s.cell("anil-same+fresh", 2, 16) is None and s.cell("anil-same+fresh", 1, 16).err.n == 1
    assert s.gap("anil-same+fresh", 1, 32) is None and s.gap("anil-same+fresh", 1, 16).n == 1
    assert s.cell("mtl-shared+fresh", 2, 16).ensemble[3] is not None and s.cell("mtl-shared+fresh", 1, 16).ensemble[3] is None
