"""Experiment ``ntk-fluctuation``: the NTK's diagonal over initializations against Hanin & Nica (theory.md §10)."""
import dataclasses

import numpy as np
import pytest

from ntk_bridge import figures, store
from ntk_bridge.appendix import verdicts
from ntk_bridge.experiments import ntk_fluctuation as nf

TINY = nf.Config(depths=(1, 4), widths=(32, 64), n_nets=60, n_boot=50, beta_max=0.1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("hn")
    return root, nf.read(nf.run(TINY, root))


def test_rows_hold_the_stored_samples(tiny):
    """Each row's measures are those of its point's stored nets; the mean sits on the infinite-width kernel."""
    root, s = tiny
    points = {(r["config"]["depth"], r["config"]["width"]): r["result"] for r in store.points_of(root, s.record)}
    assert len(points) == 4 and len(s.rows) == 4
    for row in s.rows:
        p = points[(row.depth, row.width)]
        assert len(p["theta"]) == TINY.n_nets and np.all(np.array(p["head"]) < np.array(p["theta"]))
        m = nf.measures(p["theta"], p["head"])
        for key in nf.MEASURES:
            assert row.measures[key].value == pytest.approx(m[key], rel=1e-12)
            assert row.measures[key].lo <= row.measures[key].value <= row.measures[key].hi
        assert row.head_exact == pytest.approx(row.depth * np.log(1 + 5 / row.width))
    assert s.mean_z() < 5
    assert {r.beta for r in s.rows} == {1 / 32, 1 / 64, 4 / 32, 4 / 64}
    assert [f.n for f in s.fits.values()] == [3, 3, 3]   # beta = 4/32 > beta_max is reported, not fitted
    assert set(s.result.by_depth) == {1}   # L = 4 keeps one beta <= beta_max: no per-depth fit


def test_rerun_reads_back(tiny):
    root, s = tiny
    again = nf.read(nf.run(TINY, root))
    assert again.record["config_hash"] == s.record["config_hash"] and again.fits == s.fits


def test_slope_fit_recovers_a_known_line():
    """``y = k beta`` through the origin: noisy draws around k = 3 give an interval around 3; an exact line
    gives k exactly."""
    rng = np.random.default_rng(0)
    beta = np.array([0.01, 0.02, 0.05, 0.1])
    boot = 3 * beta + 0.002 * rng.standard_normal((500, 4))
    f = nf.fit_slope(beta, 3 * beta, boot)
    assert f.k == pytest.approx(3.0, rel=1e-12) and f.lo < 3 < f.hi and f.hi - f.lo < 0.2


@pytest.mark.parametrize("change,field", [(dict(n_nets=5), "n_nets"), (dict(widths=(1,)), "widths"),
                                          (dict(beta_max=0), "beta_max"), (dict(depths=(8,), widths=(16,)), "beta")])
def test_bad_config_names_the_field(change, field):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(TINY, **change)


def test_figure_draws(tiny, tmp_path):
    root, s = tiny
    from ntk_bridge import selection
    selection.select(root, s.record)
    paths = figures.module("ntk_fluctuation").main(root, tmp_path)
    assert all(p.stat().st_size > 10_000 for p in paths)


@pytest.mark.parametrize("whole,head,status", [((5.1, 4.6, 5.5), None, verdicts.REPRODUCED),
                                               ((3.5, 3.2, 3.8), (4.9, 4.5, 5.2), verdicts.PARTLY),
                                               ((3.5, 3.2, 3.8), (4.0, 3.8, 4.2), verdicts.NOT),
                                               (None, None, verdicts.MISSING)])
def test_verdict_rule(whole, head, status):
    assert verdicts.hanin_nica(whole, head, 4.9).status == status
