"""The ``distribution`` experiment (theory.md §9): its summary recomputed from the point records and the closed
forms, its appendix section, ``paper_repro.md`` row C3-dist and figure."""
from __future__ import annotations

import re

import numpy as np
import pytest

from ntk_bridge import store
from ntk_bridge.appendix import main, verdicts
from ntk_bridge.experiments import common
from ntk_bridge.methods import parse
from ntk_bridge.experiments import distribution as exp
from ntk_bridge.predict import Adaptation, distribution, gap_distribution
from ntk_bridge.spec import MLPSpec

from builders import DIST_CFG, md_tables, num

CFG = DIST_CFG


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    root = tmp / "results"
    summary = exp.run(CFG, root)
    repro = tmp / "paper_repro.md"
    rc = main(["--results", str(root), "--out", str(tmp / "appendix"), "--no-pdf", "--paper-repro", str(repro)])
    pts = {(r["config"]["method"], r["config"]["width"], r["config"]["seed"]): r["result"]
           for r in store.points_of(root, summary)}
    return {"summary": summary, "rc": rc, "md": (tmp / "appendix" / "appendix.md").read_text(),
            "repro": repro.read_text(), "pts": pts, "root": root, "tmp": tmp}


def test_summary_recomputed(built):
    s = exp.read(built["summary"])
    pts = built["pts"]
    assert len(pts) == 2 * 2 * 4
    train, test = CFG.tasks.draw(CFG.task_seed)
    adapt = Adaptation(CFG.lr, CFG.steps)
    for m in CFG.methods:
        d = distribution(MLPSpec(depth=CFG.depth), train, test, m, adapt=adapt)
        for n in CFG.widths:
            kept = [sd for sd in range(4) if pts[m, n, sd]["converged"] and not pts[m, n, sd]["left_kernel_regime"]]
            row = s.ensemble(m, n)
            assert row.n == len(kept) and row.excluded == 4 - len(kept)
            if len(kept) >= 2:
                preds = np.stack([np.asarray(pts[m, n, sd]["pred"]) for sd in kept])
                mean = preds.mean(0)
                assert row.mean_err == pytest.approx(np.linalg.norm(mean - d.mean) / np.linalg.norm(d.mean), rel=1e-9)
                cov = np.cov(preds[..., 0].reshape(len(kept), -1), rowvar=False)   # out_dim 1: plain covariance
                q = test.n_query
                blocks = np.stack([cov[j * q:(j + 1) * q, j * q:(j + 1) * q] for j in range(test.n_tasks)])
                assert row.cov_err == pytest.approx(np.linalg.norm(blocks - d.cov) / np.linalg.norm(d.cov), rel=1e-9)
        errs = [(n, s.ensemble(m, n)) for n in CFG.widths if s.ensemble(m, n).n >= 2]
        fit = s.width_fit(m)
        if len(errs) >= 2:                # err ~ c n^-r: the slope of a straight line through the log errors
            for what in ("mean", "cov"):
                y = np.log([getattr(e, f"{what}_err") for _, e in errs])
                a = np.stack([np.log([n for n, _ in errs]), np.ones(len(errs))], 1)
                slope, icpt = np.linalg.lstsq(a, y, rcond=None)[0]
                f = getattr(fit, what)
                assert f.r == pytest.approx(-slope, rel=1e-9) and f.c == pytest.approx(np.exp(icpt), rel=1e-9)
                assert f.r_lo <= f.r_hi and f.x == tuple(n for n, _ in errs)
        else:
            assert not fit.mean.ok and "width" in fit.mean.error
    for L in (1, 2, 4):                   # the config's depths and the ensembles' depth
        g = gap_distribution(MLPSpec(depth=L), train, test, "mtl-shared", "anil-same", adapt=adapt)
        assert s.gap("mtl-shared", "anil-same", L).total == pytest.approx(g.expected, rel=1e-12)
    for n in CFG.widths:
        both = [sd for sd in range(4) if all(pts[m, n, sd]["converged"] and not pts[m, n, sd]["left_kernel_regime"]
                                             for m in CFG.methods)]
        sq = [np.sum((np.asarray(pts["mtl-shared", n, sd]["pred"]) - np.asarray(pts["anil-same", n, sd]["pred"])) ** 2)
              for sd in both]
        assert s.finite_gap("mtl-shared", "anil-same", n).mean == pytest.approx(np.mean(sq), rel=1e-12)
    btrain, btest = CFG.band_tasks()
    d = distribution(MLPSpec(depth=2), btrain, btest, "anil-same", adapt=adapt)
    band = s.band("anil-same", 2)
    assert np.allclose(band.mean, d.mean[0, :, 0], rtol=1e-12) and np.allclose(band.sd, np.sqrt(np.diagonal(d.cov[0])))


def test_appendix_and_verdict(built):
    assert built["rc"] == 0
    tables = md_tables(built["md"])
    header, rows = tables["distribution-gaps"]
    s = exp.read(built["summary"])
    for row in rows:
        g = s.gap("mtl-shared", "anil-same", int(row[1]))
        assert num(row[2])[0] == pytest.approx(g.total, rel=5e-3) and num(row[4])[0] == pytest.approx(g.var_part, rel=5e-3)
    first, last = s.gap("mtl-shared", "anil-same", 1), s.gap("mtl-shared", "anil-same", 4)
    want = verdicts.c3_distribution((first.total, first.var_part), (last.total, last.var_part)).status
    assert re.search(rf"^\| C3-dist \| \*\*{want}\*\* \|", built["repro"], flags=re.M)
    assert "distribution-ensembles" in tables
    header, rows = tables["distribution-width-fits"]
    for row in rows:
        f = getattr(s.width_fit({parse(m).display: m for m in CFG.methods}[row[0]]), row[1])
        assert (row[2] == "-") if not f.ok else num(row[2])[0] == pytest.approx(f.r, rel=5e-3)


def test_verdict_rule():
    assert verdicts.c3_distribution(None, None).status == verdicts.MISSING
    assert verdicts.c3_distribution((1.0, 0.3), (0.2, 0.1)).status == verdicts.REPRODUCED
    assert verdicts.c3_distribution((1.0, 0.3), (0.2, 0.2)).status == verdicts.PARTLY
    assert verdicts.c3_distribution((1.0, 0.3), (0.6, 0.1)).status == verdicts.NOT


def test_figure(built):
    from ntk_bridge.figures import distribution as fig

    paths = fig.main(built["root"], built["tmp"] / "figs")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and paths[0].stat().st_size > 10_000


def test_bad_config():
    with pytest.raises(ValueError, match="method"):
        exp.Config(methods=("reptile",))
    with pytest.raises(ValueError, match="pairs"):
        exp.Config(pairs=("mtl-shared",))
    with pytest.raises(ValueError, match="n_nets"):
        exp.Config(n_nets=1)
