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
                 protocols=("trained", "fresh"), seeds=2, ensembles=(1, 2), outer_steps=400, tol=1e-3, n_boot=50)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("fc")
    return root, fc.run(TINY, root)


def _load(root, summary):
    """The stored points of ``summary``, keyed (method, depth, width, seed), with predictions as arrays."""
    out = {}
    for rec in store.points_of(root, summary):
        c = rec["config"]
        res = {k: (np.asarray(v) if k.startswith("pred") and v is not None else v) for k, v in rec["result"].items()}
        out[c["method"], c["depth"], c["width"], c["seed"]] = dict(res, schedule=c["schedule"])
    return out


def test_registered():
    assert MODULES["finite-closeness"] == "ntk_bridge.experiments.finite_closeness"
    assert fc.Config.quick().n_nets == 2


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
                if lab.endswith("+fresh"):
                    assert cell.fluctuation is None and cell.drift is None
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
        for n, L in s.best_depth(lab).items():
            assert L is not None
            assert s.gap(lab, L, n).mean == min(s.gap(lab, d, n).mean for d in TINY.depths if s.gap(lab, d, n))


def test_flagged_runs_are_excluded(tmp_path, monkeypatch):
    compute = fc.compute_point

    def flag_one(p):
        out = compute(p)
        if (p["method"], p["depth"], p["width"], p["seed"]) == ("anil-same", 2, 16, 1):
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
