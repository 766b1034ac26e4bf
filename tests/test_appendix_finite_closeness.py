"""The finite-closeness appendix section, figure and the C3 rows of paper_repro.md, checked against the point records.

The experiment's summary code runs on synthetic points (its expensive training replaced), one
of them flagged as having left the kernel regime; every number read back from the Markdown is
recomputed here from the point records.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from ntk_bridge import metrics, selection, store
from ntk_bridge.appendix import main, verdicts
from ntk_bridge.experiments import common
from ntk_bridge.experiments import finite_closeness as fc

from builders import FC_CFG as CFG, FLAGGED, FLAGGED_KEYS, REL, close, fake_fc_compute, fc_points, md_tables, num

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fc_appendix")
    root = tmp / "results"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fc, "compute_point", fake_fc_compute)
        summary = fc.run(CFG, root)
    out, repro = tmp / "appendix", tmp / "paper_repro.md"
    rc = main(["--results", str(root), "--out", str(out), "--no-pdf", "--paper-repro", str(repro)])
    pts = fc_points(root, summary)
    return {"rc": rc, "md": (out / "appendix.md").read_text(), "repro": repro.read_text(), "pts": pts,
            "root": root, "tmp": tmp}


def test_err_table_recomputed(built):
    header, rows = md_tables(built["md"])["fc-err"]
    assert header[:6] == ["method", "L", "n", "err", "fluctuation", "drift"]
    pts = built["pts"]
    display = {"MTL": "mtl-shared", "MTL, fresh head": "mtl-shared+fresh", "ANIL (same)": "anil-same",
               "ANIL (same), fresh head": "anil-same+fresh"}
    assert len(rows) == 4 * 3 * 2
    for row in rows:
        lab, L, n = display[row[0]], int(row[1]), int(row[2])
        kept = [s for s in range(2) if (lab, L, n, s) not in FLAGGED_KEYS]
        errs = [pts[lab, L, n, s]["err"] for s in kept]
        assert num(row[3])[0] == pytest.approx(np.mean(errs), rel=REL)
        assert int(row[-1]) == 2 - len(kept)
        if len(kept) == 2:
            ens = metrics.rel_gap(np.mean([pts[lab, L, n, s]["pred"] for s in kept], axis=0),
                                  pts[lab, L, n, 0]["pred_infinite"])
            assert num(row[header.index("M=2")])[0] == pytest.approx(ens, rel=REL)
        else:
            assert row[header.index("M=2")] == "excluded"
        if lab.endswith("+fresh") and kept:
            close(row[header.index("seen")], [pts[lab, L, n, s]["seen"] for s in kept])
            assert row[header.index("drift")] == "-"


def test_gap_table_and_c3b_verdict(built):
    pts = built["pts"]
    header, rows = md_tables(built["md"])["fc-gap"]
    within = []
    for row in rows:
        fresh = row[0].endswith("fresh head")
        lab, mtl = ("anil-same+fresh", "mtl-shared+fresh") if fresh else ("anil-same", "mtl-shared")
        L = int(row[1])
        for j, n in enumerate(CFG.widths):
            gaps = [metrics.rel_gap(pts[lab, L, n, s]["pred"], pts[mtl, L, n, s]["pred"]) for s in range(2)
                    if (lab, L, n, s) not in FLAGGED_KEYS]
            assert num(row[2 + j])[0] == pytest.approx(np.mean(gaps), rel=REL)
            if not fresh and np.mean(gaps) <= verdicts.C3_FINITE_GAP:
                within.append((L, n))
        inf = metrics.rel_gap(pts[lab, L, 64, 0]["pred_infinite"], pts[mtl, L, 64, 0]["pred_infinite"])
        assert num(row[-1])[0] == pytest.approx(inf, rel=REL)
    verdict = dict(re.findall(r"^\| (C\d[a-c]?(?:-\w+)?) \| \*\*([a-z ]+)\*\* \|", built["repro"], flags=re.M))
    assert verdict["C3b"] == (verdicts.REPRODUCED if within else verdicts.NOT)
    assert {"C3a", "C3c"} <= set(verdict)


def test_excluded_listed_and_fit(built):
    header, rows = md_tables(built["md"])["fc-excluded"]
    assert [r[:4] for r in rows] == [["ANIL (same)", "16", "64", "1"], ["ANIL (same), fresh head", "16", "64", "1"]]
    assert "left the kernel regime" in rows[0][-1]
    header, rows = md_tables(built["md"])["fc-fit"]
    pts = built["pts"]
    for row in rows:
        lab = {"MTL": "mtl-shared", "MTL, fresh head": "mtl-shared+fresh"}.get(row[0])
        if lab is None:
            continue  # ANIL has a run left out: its fit takes the kept-seed path, checked in test_finite_closeness
        xs = [L / n for L in CFG.depths for n in CFG.widths]
        y = np.array([[pts[lab, L, n, s]["err"] for L in CFG.depths for n in CFG.widths] for s in range(2)])
        ref = metrics.fit_power_law(xs, y, n_boot=CFG.n_boot)
        assert num(row[1])[0] == pytest.approx(-ref["r"], rel=REL)


def test_c3_verdict_rules():
    assert verdicts.c3_finite(None).status == verdicts.MISSING
    assert verdicts.c3_finite([(16, 4096)], []).status == verdicts.REPRODUCED
    assert verdicts.c3_finite([], [(1, 64)]).status == verdicts.PARTLY
    v = verdicts.c3_finite([], [], 0.31)
    assert v.status == verdicts.NOT and "0.31" in v.reason and str(verdicts.C3_FINITE_GAP) in v.reason
    good = dict(rel_first=1.0, rel_last=0.1, norm_first=1.0, norm_last=0.2, rel_r_lo=0.5, norm_r_lo=0.3)
    assert verdicts.c3_scope(good).status == verdicts.REPRODUCED
    assert verdicts.c3_scope(dict(good, norm_last=0.9)).status == verdicts.PARTLY
    assert verdicts.c3_extension({"anil": good}).status == verdicts.MISSING
    assert verdicts.c3_extension({"maml": good, "fomaml": dict(good, rel_last=0.9, norm_last=0.9)}).status \
        == verdicts.PARTLY


def test_c3b_fresh_row(built):
    """C3b-fresh: the fresh-head gap's width exponent in gap ~ c_L n^-b recomputed from the points (two widths
    per depth: the mean of the per-depth slopes of the mean log gap over kept seeds), and the verdict."""
    pts = built["pts"]
    s = fc.read(selection.summary(built["root"], "finite-closeness"))
    f = s.gap_fit("anil-same+fresh")
    n1, n2 = CFG.widths
    slopes = []
    for L in CFG.depths:
        lg = [np.mean([np.log(metrics.rel_gap(pts["anil-same+fresh", L, n, sd]["pred"],
                                              pts["mtl-shared+fresh", L, n, sd]["pred"]))
                       for sd in range(2) if ("anil-same", L, n, sd) != FLAGGED]) for n in (n1, n2)]
        slopes.append(-(lg[1] - lg[0]) / np.log(n2 / n1))
    assert f.b == pytest.approx(np.mean(slopes), rel=1e-9)
    assert f"b = {f.b:.3g} [{f.b_lo:.3g}, {f.b_hi:.3g}]" in built["repro"]
    within = s.within("anil-same+fresh", verdicts.C3_FINITE_GAP)
    want = verdicts.c3_fresh(within, (f.b, f.b_lo, f.b_hi)).status
    assert f"| C3b-fresh | **{want}** |" in built["repro"]
    header, rows = md_tables(built["repro"])["repro-c3b-fresh"]
    assert [int(r[0]) for r in rows] == list(CFG.depths)


def test_fresh_verdict_rules():
    assert verdicts.c3_fresh(None, None).status == verdicts.MISSING
    assert verdicts.c3_fresh([(8, 1024)], (0.5, 0.3, 0.7)).status == verdicts.REPRODUCED
    assert verdicts.c3_fresh([(8, 1024)], (0.5, -0.1, 0.9)).status == verdicts.PARTLY
    assert verdicts.c3_fresh([], (0.5, 0.3, 0.7)).status == verdicts.PARTLY
    assert verdicts.c3_fresh([], None, 0.4).status == verdicts.NOT
    assert verdicts.c3c_finite({}).status == verdicts.MISSING
    assert verdicts.c3c_finite({"maml": [(1, 64)], "fomaml": [(2, 64)]}).status == verdicts.REPRODUCED
    assert verdicts.c3c_finite({"maml": [], "fomaml": [(2, 64)]}).status == verdicts.PARTLY
    assert verdicts.c3c_finite({"maml": [], "fomaml": []}).status == verdicts.NOT


def test_figure(built):
    from ntk_bridge.figures import finite_closeness as fig

    paths = fig.main(built["root"], built["tmp"] / "figs")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and paths[0].stat().st_size > 10_000


def test_grids_cells_not_run(tmp_path):
    """``grids``: a method trained on its own smaller grid has no points elsewhere; its cells read "not run", and
    its fit and gaps use only the cells it ran at.  MAML and FOMAML on their grid give the C3c-finite rows."""
    cfg = fc.Config(tasks=CFG.tasks, depths=(1, 4, 16), widths=(64, 256), methods=("mtl-shared", "anil", "maml"),
                    seeds=2, ensembles=(1, 2), ensemble_depths=(), n_boot=50,
                    grids=(("anil-same", (1, 4, 16), (64,), 2), ("maml-same", (1, 4), (64, 256), 2)))
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fc, "compute_point", lambda p: calls.append((p["method"], p["depth"], p["width"])) or fake_fc_compute(p))
        summary = fc.run(cfg, tmp_path / "results")
    assert ("anil-same", 1, 256) not in calls and ("anil-same", 1, 64) in calls and ("mtl-shared", 1, 256) in calls
    assert ("maml-same", 16, 64) not in calls and ("maml-same", 4, 256) in calls
    s = fc.read(summary)
    assert s.cell("anil-same", 4, 256) is None and s.cell("anil-same", 4, 64) is not None
    assert not s.ran("anil-same", 256) and s.ran("anil-same", 64) and s.ran("mtl-shared", 256)
    assert s.gap("anil-same", 4, 256) is None and s.gap("anil-same", 4, 64) is not None
    # the fit of ANIL is the fit over the width-64 cells only (FLAGGED is at width 64, seed 1: left out)
    pts = {(r["config"]["depth"], r["config"]["seed"]): r["result"]["protocols"]["trained"]["err"]
           for r in store.points_of(tmp_path / "results", summary) if r["config"]["method"] == "anil-same"}
    x = np.array([L / 64 for L in cfg.depths])
    errs = np.array([[pts[L, sd] for L in cfg.depths] for sd in range(2)])
    mask = np.array([[("anil-same", L, 64, sd) != FLAGGED for L in cfg.depths] for sd in range(2)])
    mean = np.array([np.exp(np.log(errs[mask[:, j], j]).mean()) for j in range(len(x))])  # geometric mean
    slope = np.polyfit(np.log(x), np.log(mean), 1)[0]
    assert s.fit("anil-same").a == pytest.approx(slope, rel=1e-6)
    repro = tmp_path / "r.md"
    md = main(["--results", str(tmp_path / "results"), "--out", str(tmp_path / "app"), "--no-pdf",
               "--paper-repro", str(repro)])
    assert md == 0
    header, rows = md_tables((tmp_path / "app" / "appendix.md").read_text())["fc-gap"]
    assert all(row[header.index("n=256")] == "not run" for row in rows if row[0].startswith("ANIL"))
    assert not any(row[0].startswith("MAML") and row[1] == "16" for row in rows)
    # C3c-finite: the MAML rows recomputed from the points, and the verdict from where they are within 0.1
    pts = fc_points(tmp_path / "results", summary)
    header, rows = md_tables(repro.read_text())["repro-c3c-finite"]
    assert [(r[0], r[1]) for r in rows] == [("MAML (same)", "1"), ("MAML (same)", "4")]
    within = []
    for row in rows:
        L = int(row[1])
        for n in (64, 256):
            g = np.mean([metrics.rel_gap(pts["maml-same", L, n, sd]["pred"], pts["mtl-shared", L, n, sd]["pred"])
                         for sd in range(2)])
            close(row[header.index(f"n={n}")], [g])
            within += [(L, n)] if g <= verdicts.C3_FINITE_GAP else []
    want = verdicts.c3c_finite({"maml": within}).status
    assert f"| C3c-finite | **{want}** |" in repro.read_text()


def test_digits_finite_err_table_and_figure_row(tmp_path):
    """On digits the appendix's "Real images" section tabulates each trained net's distance to its closed
    form (kept seeds only, recomputed here from the point records) and the digits figure draws its finite row."""
    import dataclasses

    from ntk_bridge.figures import digits as digits_figure


    cfg = dataclasses.replace(CFG, tasks=common.TaskConfig("digits", 3, 2, 2, 2, options=(("n_way", 2),)),
                              protocols=("trained",))
    root = tmp_path / "results"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fc, "compute_point", fake_fc_compute)
        summary = fc.run(cfg, root)
    assert selection.on_digits(summary)
    out = tmp_path / "appendix"
    assert main(["--results", str(root), "--out", str(out), "--no-pdf", "--paper-repro", str(tmp_path / "r.md")]) == 0
    header, rows = md_tables((out / "appendix.md").read_text())["digits-finite-err"]
    assert header == ["method", "L", "n=64", "n=256", "a"]
    err = {(r["config"]["method"], r["config"]["depth"], r["config"]["width"], r["config"]["seed"]):
           r["result"]["protocols"]["trained"]["err"] for r in store.points_of(root, summary)}
    assert len(rows) == 2 * 3
    for row in rows:
        lab, L = row[0].strip("`"), int(row[1])
        for n, cell in zip((64, 256), row[2:4]):
            close(cell, [err[lab, L, n, s] for s in range(2) if (lab, L, n, s) not in FLAGGED_KEYS])
    law = fc.read(summary).fit("anil-same")
    assert num(next(r for r in rows if r[0] == "`anil-same`")[4])[0] == pytest.approx(law.a, rel=REL)
    files = digits_figure.main(root, tmp_path / "figures")
    assert any(str(f).endswith("digits.png") for f in files)


def test_non_vacuity_table_recomputed(built):
    """Trained nets' test MSE (widest width, kept seeds), closed forms', no transfer's and the zero predictor's,
    recomputed from the points and an independent closed form (``predict.no_transfer``)."""
    import ntk_bridge as nb
    from ntk_bridge import predict

    header, rows = md_tables(built["md"])["fc-useful"]
    pts = built["pts"]
    train, test = CFG.tasks.draw(CFG.task_seed)
    n = max(CFG.widths)
    assert [int(r[0]) for r in rows] == list(CFG.depths)
    for row in rows:
        L = int(row[0])
        kept = [s for s in range(2) if ("anil-same", L, n, s) not in FLAGGED_KEYS]
        close(row[header.index(f"ANIL (same) n={n}")],
              [metrics.mse(pts["anil-same", L, n, s]["pred"], test.yq) for s in kept])
        assert num(row[header.index("MTL ∞")])[0] == pytest.approx(
            metrics.mse(pts["mtl-shared", L, n, 0]["pred_infinite"], test.yq), rel=REL)
        none = predict.no_transfer(nb.MLPSpec(depth=L), test, adapt=predict.Adaptation(CFG.lr, CFG.steps))
        assert num(row[header.index("no transfer")])[0] == pytest.approx(metrics.mse(none, test.yq), rel=REL)
        assert num(row[header.index("zero")])[0] == pytest.approx(float(np.mean(test.yq ** 2)), rel=REL)
        assert 1.0 <= num(row[header.index("eff. rank")])[0] <= test.xs.shape[0] * (test.xs.shape[1] + test.xq.shape[1])
