"""The width sweep keeps unconverged and uncomputable runs out of its fits, and says so (issue #12).

The summary's errors and fitted rates are recomputed here from the point records by hand
(NumPy ``polyfit`` on the kept points), so a run that slipped into a fit, or a fit over the
wrong points, fails the comparison.
"""
import numpy as np
import pytest

from ntk_bridge import store
from ntk_bridge.experiments import width
from ntk_bridge.experiments.common import TaskConfig

TINY = TaskConfig(n_train=3, n_test=2, n_support=3, n_query=3)
UNCONVERGED = {(1, 256, "anil", 1), (1, 64, "anil", 0)}  # (depth, width, method, seed)


def _fake_compute(p):
    """Synthetic points: err = 2 (1 + seed/10) width^-1/2, except the UNCONVERGED ones, off by 10x."""
    rng = np.random.default_rng([p["seed"], p["width"]])
    inf = rng.standard_normal((2, 3, 1))
    bad = (p["depth"], p["width"], p["method"], p["seed"]) in UNCONVERGED
    err = 2.0 * p["width"] ** -0.5 * (1 + p["seed"] / 10) * (10.0 if bad else 1.0)
    noise = rng.standard_normal(inf.shape)
    pred = inf + err * np.linalg.norm(inf) / np.linalg.norm(noise) * noise
    return {"err": float(np.linalg.norm(pred - inf) / np.linalg.norm(inf)), "converged": not bad, "steps": 3000,
            "final_loss": 1e-2 if bad else 1e-9, "initial_loss": 1.0, "train_s": 0.0, "pred": pred,
            "pred_infinite": inf}


def _run(tmp_path, monkeypatch, **kw):
    monkeypatch.setattr(width, "_compute", _fake_compute)
    cfg = width.Config(tasks=TINY, depths=(1,), widths=(64, 256, 1024), methods=("mtl-shared", "anil"), seeds=3,
                       n_boot=50, **kw)
    summary = width.run(cfg, tmp_path)
    return cfg, summary, store.points_of(tmp_path, summary)


def test_unconverged_runs_are_listed_and_left_out_of_the_fit(tmp_path, monkeypatch):
    cfg, summary, points = _run(tmp_path, monkeypatch)
    s = width.read(summary)
    excluded = {(e.depth, e.width, e.method, e.seed): e for e in s.excluded}
    assert set(excluded) == UNCONVERGED
    by_hash = {r["config_hash"]: r for r in points}
    for key, e in excluded.items():
        assert e.reason.startswith("not converged") and by_hash[e.point]["result"]["converged"] is False
    assert not s.all_converged(1, "anil") and s.excluded_runs(1, "anil") == 2 and s.excluded_runs(1, "mtl-shared") == 0
    # errors and fit recomputed from the records, kept points only
    err = {(r["config"]["width"], r["config"]["seed"]): r["result"]["err"] for r in points
           if r["config"]["method"] == "anil"}
    keep = {k: (1, k[0], "anil", k[1]) not in UNCONVERGED for k in err}
    for j, w in enumerate(cfg.widths):
        kept = [err[w, s] for s in range(cfg.seeds) if keep[w, s]]
        assert s.err(1, "anil")[j].mean == pytest.approx(np.mean(kept), rel=1e-12)
        assert s.err(1, "anil")[j].n == len(kept)
    geo = [np.exp(np.mean([np.log(err[w, s]) for s in range(cfg.seeds) if keep[w, s]])) for w in cfg.widths]
    slope = np.polyfit(np.log(cfg.widths), np.log(geo), 1)[0]
    assert -s.fit(1, "anil").r == pytest.approx(slope, rel=1e-10)
    assert s.fit(1, "anil").r == pytest.approx(0.5, abs=0.05)  # the synthetic rate, the 10x outliers left out
    assert [g.n for g in s.gap_to_mtl(1, "anil").finite] == [2, 2, 3]


def test_include_flagged_puts_them_back(tmp_path, monkeypatch):
    cfg, summary, points = _run(tmp_path, monkeypatch, include_flagged=True)
    s = width.read(summary)
    assert s.excluded == () and s.result.include_flagged is True
    err = np.array([[next(r["result"]["err"] for r in points if r["config"]["method"] == "anil"
                          and r["config"]["width"] == w and r["config"]["seed"] == s) for w in cfg.widths]
                    for s in range(cfg.seeds)])
    slope = np.polyfit(np.log(cfg.widths), np.log(err).mean(0), 1)[0]
    assert -s.fit(1, "anil").r == pytest.approx(slope, rel=1e-10)
    assert abs(s.fit(1, "anil").r - 0.5) > 0.1  # the outliers bend the fit: why they are left out by default


def test_not_computable_points_are_recorded_and_excluded(tmp_path):
    """A real sweep: width 1 is a degenerate net (NotComputable), recorded with its reason, out of every fit."""
    cfg = width.Config(tasks=TINY, depths=(2,), widths=(1, 16), methods=("mtl-shared",), seeds=1, outer_steps=5,
                       n_boot=20, include_flagged=True)
    summary = width.run(cfg, tmp_path)
    s = width.read(summary)
    (e,) = s.excluded
    assert e.width == 1 and "not computable" in e.reason and "degenerate" in e.reason
    rec = next(r for r in store.points_of(tmp_path, summary) if r["config"]["width"] == 1)
    assert rec["result"]["err"] is None and rec["result"]["converged"] is False
    assert s.err(2, "mtl-shared")[0] is None and s.err(2, "mtl-shared")[1].n == 1
    assert s.fit(2, "mtl-shared") is None  # one width left: no rate
