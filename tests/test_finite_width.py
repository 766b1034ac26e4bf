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
    res = summary["result"]
    excluded = {(e["depth"], e["width"], e["method"], e["seed"]): e for e in res["excluded"]}
    assert set(excluded) == UNCONVERGED
    by_hash = {r["config_hash"]: r for r in points}
    for key, e in excluded.items():
        assert e["reason"].startswith("not converged") and by_hash[e["point"]]["result"]["converged"] is False
    assert res["1/anil/converged"] is False and res["1/anil/excluded"] == 2 and res["1/mtl-shared/excluded"] == 0
    # errors and fit recomputed from the records, kept points only
    err = {(r["config"]["width"], r["config"]["seed"]): r["result"]["err"] for r in points
           if r["config"]["method"] == "anil"}
    keep = {k: (1, k[0], "anil", k[1]) not in UNCONVERGED for k in err}
    for j, w in enumerate(cfg.widths):
        kept = [err[w, s] for s in range(cfg.seeds) if keep[w, s]]
        assert res["1/anil/err"][j]["mean"] == pytest.approx(np.mean(kept), rel=1e-12)
        assert res["1/anil/err"][j]["n"] == len(kept)
    geo = [np.exp(np.mean([np.log(err[w, s]) for s in range(cfg.seeds) if keep[w, s]])) for w in cfg.widths]
    slope = np.polyfit(np.log(cfg.widths), np.log(geo), 1)[0]
    assert -res["1/anil/fit"]["r"] == pytest.approx(slope, rel=1e-10)
    assert res["1/anil/fit"]["r"] == pytest.approx(0.5, abs=0.05)  # the synthetic rate, the 10x outliers left out
    gap = res["1/anil/gap_to_mtl"]["finite"]
    assert [g["n"] for g in gap] == [2, 2, 3]


def test_include_unconverged_puts_them_back(tmp_path, monkeypatch):
    cfg, summary, points = _run(tmp_path, monkeypatch, include_unconverged=True)
    res = summary["result"]
    assert res["excluded"] == [] and res["include_unconverged"] is True
    err = np.array([[next(r["result"]["err"] for r in points if r["config"]["method"] == "anil"
                          and r["config"]["width"] == w and r["config"]["seed"] == s) for w in cfg.widths]
                    for s in range(cfg.seeds)])
    slope = np.polyfit(np.log(cfg.widths), np.log(err).mean(0), 1)[0]
    assert -res["1/anil/fit"]["r"] == pytest.approx(slope, rel=1e-10)
    assert abs(res["1/anil/fit"]["r"] - 0.5) > 0.1  # the outliers bend the fit: why they are left out by default


def test_not_computable_points_are_recorded_and_excluded(tmp_path):
    """A real sweep: width 1 is a degenerate net (NotComputable), recorded with its reason, out of every fit."""
    cfg = width.Config(tasks=TINY, depths=(2,), widths=(1, 16), methods=("mtl-shared",), seeds=1, outer_steps=5,
                       n_boot=20, include_unconverged=True)
    summary = width.run(cfg, tmp_path)
    res = summary["result"]
    (e,) = res["excluded"]
    assert e["width"] == 1 and "not computable" in e["reason"] and "degenerate" in e["reason"]
    rec = next(r for r in store.points_of(tmp_path, summary) if r["config"]["width"] == 1)
    assert rec["result"]["err"] is None and rec["result"]["converged"] is False
    assert res["2/mtl-shared/err"][0] is None and res["2/mtl-shared/err"][1]["n"] == 1
    assert res["2/mtl-shared/fit"] is None  # one width left: no rate
