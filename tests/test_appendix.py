"""The appendix and paper_repro.md: built from a small stored result set, numbers checked against the records.

The result set is written with the real ``store`` API into a temporary folder: tiny real
runs of the closed-form experiments (kernel-share, closeness, accuracy, ablate, seconds),
and the finite-width ``width`` sweep with its expensive point computation replaced by
synthetic numbers (its real summary code runs on them).  Every number the tests read
back from the Markdown is recomputed here from the point records, not from the summary.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from ntk_bridge import metrics, selection, store
from ntk_bridge.appendix import compile_pdf, main, verdicts
from ntk_bridge.appendix.render import Num, Table, fmt, md, tex, tex_escape
from ntk_bridge.methods import parse

from builders import (DIST_CFG, FC_CFG, REL, close, fake_fc_compute, md_tables, num, run_tiny_conv,
                      run_tiny_digits, run_tiny_feature_learning)

REPO_REPRO = Path(__file__).resolve().parents[1] / "paper_repro.md"

NASTY = "a_b & 50% $x$ #1 {y} ~z ^w \\q <p> |r| ∪ ≥ λ"


# --------------------------------------------------------------------------- fixture
def _checks_doc() -> dict:
    def res(name, value, tol, passed, relation="<=", statement=None):
        return {"name": name, "statement": statement or f"statement of {name}", "computed": "synthetic",
                "value": value, "tolerance": tol, "passed": passed, "seconds": 0.25, "details": {},
                "relation": relation}
    results = [res("formulation.value", 1.2e-16, 1e-10, True, statement=NASTY),
               res("formulation.gradient", 3.4e-15, 1e-10, True),
               res("formulation.split_gap", 0.22, 0.05, True, ">="),
               res("meta_ntk.phi", 2e-15, 1e-10, True),
               res("kernel_facts.degeneration", 0.3, 0.05, False)]
    return {"passed": False, "n_checks": len(results), "n_failed": 1, "seconds": 1.25,
            "created": "2021-07-18T12:00:00+0000", "environment": {"python": "3.11", "jax": "0.4.30"},
            "results": results}


def _fake_width_compute(p):
    rng = np.random.default_rng([p["seed"], p["width"], p["depth"]])
    inf = rng.standard_normal((3, 4, 1)) + (1.0 if p["method"] == "anil" else 0.0)
    err = 2.0 * p["width"] ** -0.5 * (1.0 + 0.1 * p["seed"]) * (1.3 if p["method"] == "anil" else 1.0)
    noise = rng.standard_normal(inf.shape)
    pred = inf + err * np.linalg.norm(inf) / np.linalg.norm(noise) * noise
    return {"err": float(np.linalg.norm(pred - inf) / np.linalg.norm(inf)), "converged": True, "steps": 10,
            "final_loss": 1e-6, "initial_loss": 1.0, "train_s": 0.01, "pred": pred, "pred_infinite": inf}


def _fake_cost_compute(p):
    base = 1e-3 * p["width"] / 64
    factor = {"mtl-shared": 1.0, "anil": 3.0, "fomaml": 2.0, "maml": 7.0}
    out = {}
    for i, (m, f) in enumerate(factor.items()):
        times = [base * f * (1 + 0.03 * ((r + i) % 3)) for r in range(3)]
        out[m] = {"per_step_s": float(np.median(times)), "per_step_all_s": times, "warmup_s": 0.5,
                  "device": "cpu (cpu)"}
    return out


def _figures(folder):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True)
    for name in ("closeness", "width", "mystery"):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([1, 2, 3], [3, 1, 2])
        for ext in ("png", "pdf"):
            fig.savefig(folder / f"{name}.{ext}")
        plt.close(fig)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from ntk_bridge.experiments import ablate, accuracy, closeness, cost, kernel_share, width
    from ntk_bridge.experiments.common import TaskConfig

    tmp = tmp_path_factory.mktemp("appendix")
    root = tmp / "results"
    tasks = TaskConfig(n_train=4, n_test=3, n_support=3, n_query=4)
    kernel_share.run(kernel_share.Config(depths=(1, 2, 4), n_points=8, dim=4, seeds=2, n_boot=50), root)
    closeness.run(closeness.Config(tasks=tasks, depths=(1, 2, 4, 8), seeds=3, lr_steps=((0.02, 1), (0.05, 5)),
                                   lr_steps_depths=(2, 4), widths=(), n_boot=50), root)
    accuracy.run(accuracy.Config(families=("shared-feature", "clusters"), n_train=4, n_test=3, depths=(2,), seeds=2,
                                 inner_times=(0.5,), widths=(), finite_families=()), root)
    ablate.run(ablate.Config(tasks=tasks, depths=(2,), seeds=2, ablations=("steps", "heads"), steps_grid=(1, 5)),
               root)
    from ntk_bridge.experiments import conditioning as conditioning_exp

    conditioning_exp.run(conditioning_exp.Config(
        architectures=("concat",), similarities=(0.0, 1.0), seeds=2, task_scales=(1.0,), support_sizes=(2, 3),
        n_query=3, dim=4, n_boot=20), root)
    from ntk_bridge.experiments import ntk_fluctuation

    ntk_fluctuation.run(ntk_fluctuation.Config(depths=(1, 2), widths=(16, 32), n_nets=40, n_boot=30,
                                               beta_max=0.2), root)
    from ntk_bridge.experiments import distribution as distribution_exp

    distribution_exp.run(DIST_CFG, root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(width, "_compute", _fake_width_compute)
        mp.setattr(cost, "_compute", _fake_cost_compute)
        cost.run(cost.Config(widths=(64, 256), repeats=3), root)
        width.run(width.Config(tasks=tasks, depths=(1, 2), widths=(64, 256, 1024), methods=("mtl-shared", "anil"),
                               seeds=3, n_boot=50), root)
        from ntk_bridge.experiments import finite_closeness
        mp.setattr(finite_closeness, "compute_point", fake_fc_compute)
        finite_closeness.run(FC_CFG, root)
    run_tiny_digits(root)
    run_tiny_conv(root)
    run_tiny_feature_learning(root)
    checks = tmp / "checks.json"
    checks.write_text(json.dumps(_checks_doc()))
    figs = tmp / "figs"
    _figures(figs)
    out = tmp / "appendix"
    repro = tmp / "paper_repro.md"
    rc = main(["--results", str(root), "--out", str(out), "--checks", str(checks), "--figures", str(figs),
               "--no-pdf", "--paper-repro", str(repro)])
    return {"rc": rc, "root": root, "out": out, "repro": repro, "md": (out / "appendix.md").read_text(),
            "repro_md": repro.read_text(), "checks": _checks_doc()}


# --------------------------------------------------------------------------- parsing helpers
# display name -> method name, as the tables print them
METHOD = {parse(n, split=sp).display: parse(n, split=sp).label for n in ("mtl-shared", "anil", "maml", "fomaml")
          for sp in ("same", "disjoint")}


def points(root, experiment, digits: bool = False):
    """The summary the appendix reads (the synthetic one, or with ``digits`` the one on digits) and its points."""
    s = selection.summary(root, experiment, digits)
    return s, store.points_of(root, s)


# --------------------------------------------------------------------------- outputs
def test_files_written(built):
    out = built["out"]
    assert built["rc"] == 0
    for name in ("appendix.tex", "appendix.md", "sec_setup.tex", "sec_kernels.tex", "sec_closeness.tex",
                 "sec_width.tex", "sec_cost.tex", "sec_accuracy.tex", "sec_ablate.tex", "sec_checks.tex"):
        assert (out / name).is_file(), name
    tex_doc = (out / "appendix.tex").read_text()
    assert r"\documentclass" in tex_doc and r"\end{document}" in tex_doc
    for sec in out.glob("sec_*.tex"):
        assert rf"\input{{{sec.stem}}}" in tex_doc
    # figures copied and referenced: PDF in LaTeX, PNG in Markdown; unknown names in "Further figures"
    for name in ("closeness", "width", "mystery"):
        assert (out / "figures" / f"{name}.pdf").is_file() and (out / "figures" / f"{name}.png").is_file()
    assert "figures/closeness.pdf" in (out / "sec_closeness.tex").read_text()
    assert "figures/width.pdf" in (out / "sec_width.tex").read_text()
    assert "(figures/mystery.png)" in built["md"]
    assert built["repro"].is_file()


def test_no_section_missing(built):
    assert "**Not available.**" not in built["md"]  # every experiment ran; test_empty_results covers the rest


def test_cost_numbers_match_points(built):
    s, pts = points(built["root"], "cost")
    header, rows = md_tables(built["md"])["cost"]
    shown = [parse(m).display for m in ("anil", "fomaml", "maml")]
    assert header == ["width", "MTL (ms)", *[f"{d} (ms)" for d in shown], *[f"{d}/MTL" for d in shown]]
    for row, p in zip(rows, pts):
        assert int(row[0]) == p["config"]["width"]
        r = p["result"]
        mtl = np.array(r["mtl-shared"]["per_step_all_s"])
        for col, m in enumerate(("mtl-shared", "anil", "fomaml", "maml"), start=1):
            close(row[col], 1e3 * np.array(r[m]["per_step_all_s"]))  # printed in ms
        for col, m in enumerate(("anil", "fomaml", "maml"), start=5):
            close(row[col], np.array(r[m]["per_step_all_s"]) / mtl)
    last = pts[-1]["result"]
    ratios = np.array(last["maml"]["per_step_all_s"]) / np.array(last["mtl-shared"]["per_step_all_s"])
    verdict = dict(re.findall(r"^\| (C\d) \| \*\*([a-z ]+)\*\* \|", built["repro_md"], flags=re.M))
    assert verdict["C4"] == verdicts.c4(ratios.mean(), ratios.std(ddof=1)).status == verdicts.REPRODUCED  # ~7x


def test_closeness_numbers_match_points(built):
    s, pts = points(built["root"], "closeness")
    lr, steps = s["result"]["lr"], s["result"]["steps"]
    tables = md_tables(built["md"])
    for split in ("same", "disjoint"):
        header, rows = tables[f"closeness-{split}"]
        assert header[1:5] == [f"{algo} ({split}) {gap}" for algo in ("ANIL", "MAML") for gap in ("rel.", "norm.")]
        assert [int(r[0]) for r in rows] == list(s["config"]["depths"])
        for row in rows:
            L = int(row[0])
            res = [p["result"] for p in pts if p["config"]["depth"] == L and p["config"]["lr"] == lr
                   and p["config"]["steps"] == steps]
            assert len(res) == s["config"]["seeds"]
            for col, (algo, gap) in enumerate([("anil", "rel_gap"), ("anil", "normalized_gap"),
                                               ("maml", "rel_gap"), ("maml", "normalized_gap")], start=1):
                close(row[col], [r[split][algo][gap] for r in res])
            close(row[5], [r["transfer"] for r in res])


def test_closeness_fit_matches_points(built):
    """The printed rate r equals a log-log least-squares fit recomputed from the point records."""
    s, pts = points(built["root"], "closeness")
    lr, steps = s["result"]["lr"], s["result"]["steps"]
    depths = s["config"]["depths"]
    header, rows = md_tables(built["md"])["closeness-fit"]
    assert len(rows) == 8
    names = {"rel. gap": "rel_gap", "norm. gap": "normalized_gap"}
    for row in rows:
        method, gap = parse(METHOD[row[0]]), names[row[1]]
        split, algo = method.split, method.algo
        logs = [np.mean([np.log(p["result"][split][algo][gap]) for p in pts if p["config"]["depth"] == L
                         and p["config"]["lr"] == lr and p["config"]["steps"] == steps]) for L in depths]
        r = -np.polyfit(np.log(depths), logs, 1)[0]
        assert num(row[2])[0] == pytest.approx(r, rel=REL)
        lo, hi = (float(x) for x in row[3].split(","))
        assert lo <= num(row[2])[0] * (1 + REL) and hi >= num(row[2])[0] * (1 - REL)


def test_kernel_and_accuracy_numbers_match_points(built):
    tables = md_tables(built["md"])
    s, pts = points(built["root"], "kernel-share")
    _, rows = tables["kernel-share"]
    for row in rows:
        L = int(row[0])
        assert num(row[1])[0] == pytest.approx(1 / (L + 1), rel=REL)
        res = [p["result"] for p in pts if p["config"]["depth"] == L]
        close(row[2], [r["diag_share"] for r in res])
        close(row[4], [r["offdiag_share"] for r in res])
    _, rows = tables["kernel-share-fit"]
    depths = s["config"]["depths"]
    assert len(rows) == 2
    for row in rows:
        key = {"off-diagonal share": "offdiag_share", "NTK correlation spread": "ntk_corr_std"}[row[0]]
        logs = [np.mean([np.log(p["result"][key]) for p in pts if p["config"]["depth"] == L]) for L in depths]
        assert num(row[1])[0] == pytest.approx(-np.polyfit(np.log(depths), logs, 1)[0], rel=REL)
    s, pts = points(built["root"], "accuracy")
    methods = ["mtl", "anil-same", "anil-disjoint", "maml-same", "maml-disjoint", "fomaml-same", "fomaml-disjoint",
               "no-transfer"]  # stored keys
    for fam in ("shared-feature", "clusters"):
        header, rows = tables[f"accuracy-{fam}"]
        assert header[3:-1] == ["MTL", "ANIL (same)", "ANIL (disjoint)", "MAML (same)", "MAML (disjoint)",
                                "FOMAML (same)", "FOMAML (disjoint)", "no transfer"]
        assert rows
        for row in rows:
            res = [p["result"] for p in pts if p["config"]["family"] == fam and p["config"]["depth"] == int(row[0])]
            for col, m in enumerate(methods, start=3):
                vals = [r[m]["error_metric"] for r in res if "error_metric" in r[m]]
                if vals:
                    close(row[col].split(" (")[0], vals)
                else:
                    assert row[col] == "failed"


def test_width_numbers_and_slope(built):
    """Errors, fitted slope and its bootstrap interval as printed equal a fit recomputed from the point records."""
    s, pts = points(built["root"], "width")
    cfg = s["config"]
    widths = cfg["widths"]
    header, rows = md_tables(built["md"])["width-err"]
    assert header[2:2 + len(widths)] == [f"n={w}" for w in widths]
    method = {parse(m, split=cfg["split"]).display: m for m in cfg["methods"]}
    assert len(rows) == len(cfg["depths"]) * len(cfg["methods"])
    slopes = []
    for row in rows:
        L, m = int(row[0]), method[row[1]]
        errs = np.array([[p["result"]["err"] for p in sorted(pts, key=lambda p: p["config"]["seed"])
                          if (p["config"]["depth"], p["config"]["width"], p["config"]["method"]) == (L, w, m)]
                         for w in widths])  # (widths, seeds)
        for j, e in enumerate(errs):
            close(row[2 + j], e)
        fit = metrics.fit_power_law(widths, errs.T, n_boot=cfg["n_boot"])
        slopes.append(-fit["r"])
        assert num(row[2 + len(widths)])[0] == pytest.approx(-fit["r"], rel=REL)
        lo, hi = (float(x) for x in row[3 + len(widths)].split(","))
        assert lo == pytest.approx(-fit["r_hi"], rel=REL) and hi == pytest.approx(-fit["r_lo"], rel=REL)
    verdict = dict(re.findall(r"^\| (C\d) \| \*\*([a-z ]+)\*\* \|", built["repro_md"], flags=re.M))
    assert verdict["C2"] == verdicts.c2(slopes, True).status  # meta_ntk.phi passes in the synthetic checks


def test_width_runs_left_out_are_shown(tmp_path, monkeypatch):
    """A run that did not converge is left out of the width fits; the appendix says which and why."""
    from ntk_bridge.experiments import width
    from ntk_bridge.experiments.common import TaskConfig

    def compute(p):
        res = _fake_width_compute(p)
        if (p["width"], p["method"], p["seed"]) == (64, "anil", 1):
            res.update(converged=False, final_loss=0.5)
        return res

    monkeypatch.setattr(width, "_compute", compute)
    root = tmp_path / "results"
    width.run(width.Config(tasks=TaskConfig(n_train=4, n_test=3, n_support=3, n_query=4), depths=(1,),
                           widths=(64, 256, 1024), methods=("mtl-shared", "anil"), seeds=2, n_boot=50), root)
    assert main(["--results", str(root), "--out", str(tmp_path / "out"), "--no-pdf"]) == 0
    tables = md_tables((tmp_path / "out" / "appendix.md").read_text())
    _, rows = tables["width-excluded"]
    assert len(rows) == 1 and rows[0][:4] == ["1", "64", parse("anil", split="same").display, "1"]
    assert "not converged" in rows[0][4]
    _, rows = tables["width-err"]
    anil = next(r for r in rows if r[1] == parse("anil", split="same").display)
    assert anil[2].endswith("(1 left out)") and anil[-1] == "1"


def test_checks_table_matches_json(built):
    _, rows = md_tables(built["md"])["checks"]
    doc = built["checks"]
    assert len(rows) == len(doc["results"])
    for row, r in zip(rows, doc["results"]):
        assert row[0] == f"`{r['name']}`"
        assert num(row[2])[0] == pytest.approx(r["value"], rel=REL)
        assert row[3] == r["relation"]
        assert num(row[4])[0] == pytest.approx(r["tolerance"], rel=REL)
        assert row[5] == ("PASS" if r["passed"] else "FAIL")


def test_paper_repro(built):
    text = built["repro_md"]
    assert text.startswith("# Paper reproduction report")
    assert "Generated by `ntk-bridge appendix " in text and "--results" in text
    for claim in ("C1", "C2", "C3", "C4", "C5"):
        assert f"## {claim}" in text
    verdict = dict(re.findall(r"^\| (C\d) \| \*\*([a-z ]+)\*\* \|", text, flags=re.M))
    assert verdict["C1"] == verdicts.REPRODUCED      # formulation checks pass in the synthetic JSON
    assert verdict["C2"] == verdicts.REPRODUCED      # slopes ~ -1/2 and meta_ntk.phi passes
    # C3: the verdict and the printed gaps follow from the point records
    s, pts = points(built["root"], "closeness")
    lr, steps, depths = s["result"]["lr"], s["result"]["steps"], s["config"]["depths"]

    def mean(L, algo, gap):
        return np.mean([p["result"]["same"][algo][gap] for p in pts if p["config"]["depth"] == L
                        and p["config"]["lr"] == lr and p["config"]["steps"] == steps])

    _, rows = md_tables(text)["repro-c3"]
    inputs = {}
    for row in rows:
        method = parse(METHOD[row[0]])
        if method.split != "same":
            continue
        algo, gap = method.algo, {"rel. gap": "rel_gap", "norm. gap": "normalized_gap"}[row[1]]
        close(row[2], [p["result"]["same"][algo][gap] for p in pts if p["config"]["depth"] == min(depths)
                       and p["config"]["lr"] == lr and p["config"]["steps"] == steps])
        assert num(row[4])[0] == pytest.approx(mean(max(depths), algo, gap) / mean(min(depths), algo, gap), rel=REL)
        d = inputs.setdefault(algo, {})
        key = "rel" if gap == "rel_gap" else "norm"
        d[f"{key}_first"], d[f"{key}_last"] = mean(min(depths), algo, gap), mean(max(depths), algo, gap)
        d[f"{key}_r_lo"] = float(row[6].split(",")[0])
        logs = [np.mean([np.log(p["result"]["same"][algo][gap]) for p in pts if p["config"]["depth"] == L
                         and p["config"]["lr"] == lr and p["config"]["steps"] == steps]) for L in depths]
        d[f"{key}_monotone"] = bool(np.all(np.diff([mean(L, algo, gap) for L in depths]) < 0))
        assert num(row[5])[0] == pytest.approx(-np.polyfit(np.log(depths), logs, 1)[0], rel=REL)
    assert verdict["C3"] == verdicts.c3(inputs).status
    # C5 recomputed from the accuracy point records
    s, pts = points(built["root"], "accuracy")
    rows = []
    for key in sorted({(p["config"]["family"], p["config"]["depth"], p["config"]["tau"]) for p in pts}):
        res = [p["result"] for p in pts if (p["config"]["family"], p["config"]["depth"], p["config"]["tau"]) == key]
        metric = "accuracy" if key[0] == "clusters" else "mse"

        def avg(m):
            vals = [r[m]["error_metric"] for r in res if "error_metric" in r[m]]
            return np.mean(vals) if vals else None
        gbml = [v for v in map(avg, ("anil-same", "anil-disjoint", "maml-same", "maml-disjoint")) if v is not None]
        rows.append((metric, avg("mtl"), max(gbml) if metric == "accuracy" else min(gbml), avg("no-transfer")))
    v5 = verdicts.c5(rows)
    assert verdict["C5"] == v5.status
    assert re.search(r"^\| C5 \| .*in (\d+)/(\d+) settings", text, flags=re.M).groups() == \
        tuple(re.search(r"in (\d+)/(\d+) settings", v5.reason).groups())
    assert "proofs_checks table" in text and "appendix.md#" in text


# --------------------------------------------------------------------------- LaTeX well-formedness
def _strip_escapes(src: str) -> str:
    return re.sub(r"\\[{}&%$#_]", "", src.replace("\\\\", ""))


def test_latex_braces_and_columns(built):
    n_tables = 0
    for path in sorted(built["out"].glob("*.tex")):
        src = path.read_text()
        body = _strip_escapes("\n".join(re.split(r"(?<!\\)%", line)[0]   # a comment starts at an unescaped %
                                        for line in src.splitlines()))
        depth = 0
        for ch in body:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            assert depth >= 0, path.name
        assert depth == 0, path.name
        assert src.count(r"\begin{") == src.count(r"\end{"), path.name
        for m in re.finditer(r"\\begin\{(tabular|longtable)\}\{((?:[^{}]|\{[^{}]*\})*)\}(.*?)\\end\{\1\}", src, re.S):
            n_tables += 1
            spec = re.sub(r"\{[^{}]*\}", "", m.group(2))
            ncol = sum(c in "lcrp" for c in spec)
            for line in m.group(3).split("\\\\"):
                line = re.sub(r"\\(toprule|midrule|bottomrule|endfirsthead|endhead|endfoot)", "", line)
                line = re.sub(r"\\caption\{.*", "", line, flags=re.S).strip()
                if not line:
                    continue
                cells = len(re.findall(r"(?<!\\)&", line)) + 1
                assert cells == ncol, f"{path.name}: {cells} cells, {ncol} columns: {line[:80]}"
    assert n_tables == len(md_tables(built["md"]))  # every table of the Markdown was checked in LaTeX too


def test_record_text_is_escaped(built):
    src = (built["out"] / "sec_checks.tex").read_text()
    assert tex_escape(NASTY) in src
    assert NASTY not in src
    assert r"a\_b \& 50\% \$x\$ \#1 \{y\}" in tex_escape(NASTY)
    assert "∪" not in src and "λ" not in src  # mapped to math, pdflatex needs no Unicode setup


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex on PATH (LaTeX part skipped)")
def test_pdf_compiles(built, tmp_path):
    work = tmp_path / "pdf"
    shutil.copytree(built["out"], work)
    pdf, msg = compile_pdf(work / "appendix.tex", keep_leftovers=True)
    assert pdf is not None and pdf.stat().st_size > 10_000, msg
    log = (work / "appendix.log").read_text(errors="replace")
    assert compile_pdf(work / "appendix.tex")[0] is not None and not (work / "appendix.aux").exists()
    assert "Overfull \\hbox" not in log or max(float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt", log)) < 5


# --------------------------------------------------------------------------- missing results, what is written where
def test_empty_results(tmp_path, capsys):
    """An existing folder without summaries: every results section says what to run; paper_repro where asked."""
    (tmp_path / "none").mkdir()
    repro = tmp_path / "repro.md"
    rc = main(["--results", str(tmp_path / "none"), "--out", str(tmp_path / "out"), "--no-pdf",
               "--paper-repro", str(repro)])
    assert rc == 0
    text = (tmp_path / "out" / "appendix.md").read_text()
    assert text.count("**Not available.**") >= 7
    # C1-C5 and C3's split rows C3a (ANIL vs MTL), C3b (finite width) and C3b-fresh (the paper's protocol), C3-dist, C3c
    # (MAML/FOMAML) and C3c-finite; C3, C5 on digits; C3, C5 with conv nets; C3, C5 under muP; HN
    assert re.findall(r"\*\*(not yet measured)\*\*", repro.read_text()) == ["not yet measured"] * 18


def _tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.parametrize("via_cli", [False, True])
def test_missing_results_folder_is_an_error_and_writes_nothing(tmp_path, capsys, monkeypatch, via_cli):
    from ntk_bridge import cli

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    before = REPO_REPRO.read_bytes() if REPO_REPRO.exists() else None
    argv = ["--results", str(tmp_path / "nonexistent"), "--out", str(tmp_path / "a"), "--no-pdf"]
    rc = cli.main(["appendix", *argv]) if via_cli else main(argv)
    assert rc != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path / "nonexistent") in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd"] and list(cwd.iterdir()) == []
    assert (REPO_REPRO.read_bytes() if REPO_REPRO.exists() else None) == before


def test_paper_repro_only_where_asked(built, tmp_path, monkeypatch):
    """No --paper-repro: nothing outside --out, the checkout's paper_repro.md untouched; the reference results
    of a checkout (<checkout>/results/reference) regenerate <checkout>/paper_repro.md."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    before = REPO_REPRO.read_bytes() if REPO_REPRO.exists() else None
    results = tmp_path / "results"
    shutil.copytree(built["root"], results)
    (results / "checks.json").write_text(json.dumps(_checks_doc()))
    results_tree = _tree(results)
    assert main(["--results", str(results), "--out", str(tmp_path / "out"), "--no-pdf"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "out", "results"] and list(cwd.iterdir()) == []
    assert _tree(results) == results_tree  # the results are read, never written
    assert not list((tmp_path / "out").rglob("paper_repro*"))
    assert (REPO_REPRO.read_bytes() if REPO_REPRO.exists() else None) == before
    checkout = tmp_path / "checkout"
    (checkout / "results").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "ntk-bridge"\n')
    shutil.copytree(results, checkout / "results" / "reference")
    assert main(["--results", str(checkout / "results" / "reference"), "--out", str(tmp_path / "out2"),
                 "--no-pdf"]) == 0
    assert (checkout / "paper_repro.md").read_text().startswith("# Paper reproduction report")
    assert (REPO_REPRO.read_bytes() if REPO_REPRO.exists() else None) == before


def test_checks_run_only_when_asked(built, tmp_path, monkeypatch):
    import proofs_checks

    def forbidden(*args, **kwargs):
        raise AssertionError("the appendix ran the proof checks without --run-checks")

    monkeypatch.setattr(proofs_checks, "run_checks", forbidden)
    results = tmp_path / "results"
    shutil.copytree(built["root"], results)
    assert not (results / "checks.json").exists()
    assert main(["--results", str(results), "--out", str(tmp_path / "out"), "--no-pdf"]) == 0
    text = (tmp_path / "out" / "sec_checks.tex").read_text()
    md_text = (tmp_path / "out" / "appendix.md").read_text()
    section = md_text[md_text.index("Numerical proof checks\n"):]
    assert "**Not available.**" in section and "--run-checks" in section
    assert f"ntk-bridge check --fast --out {results / 'checks.json'}" in section
    assert "Not available." in text
    # with --run-checks they do run (here: a stand-in returning no result)
    monkeypatch.setattr(proofs_checks, "run_checks", lambda fast: [])
    assert main(["--results", str(results), "--out", str(tmp_path / "out"), "--no-pdf", "--run-checks"]) == 0
    assert json.loads((tmp_path / "out" / "checks.json").read_text())["results"] == []


def test_figures_are_drawn_under_out_not_searched(built, tmp_path, monkeypatch):
    """Without --figures the appendix draws every figure into <out>/figures; folders of earlier runs next to
    the working folder (out/figures, out/quick/figures, figures/out) are never read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ntk_bridge import figures

    cwd = tmp_path / "cwd"
    for decoy in ("out/figures", "out/quick/figures", "figures/out", "results/figures"):
        (cwd / decoy).mkdir(parents=True)
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1])
        fig.savefig(cwd / decoy / "decoy.png")
        plt.close(fig)
    monkeypatch.chdir(cwd)
    out = tmp_path / "out"
    assert main(["--results", str(built["root"]), "--out", str(out), "--no-pdf"]) == 0
    drawn = {p.name for p in (out / "figures").iterdir()}
    assert drawn == {f"{n}.{ext}" for n in figures.names() for ext in ("png", "pdf")}
    text = (out / "appendix.md").read_text()
    assert "decoy" not in text
    for name in figures.names():
        assert f"](figures/{name}.png)" in text
        assert figures.caption(name) in text  # captions come from the figure modules


def test_outputs_are_written_atomically(built, tmp_path, monkeypatch):
    from ntk_bridge import atomic

    written = []
    real = atomic.write_text

    def spy(path, text, *args, **kwargs):
        written.append(Path(path).resolve())
        return real(path, text, *args, **kwargs)

    monkeypatch.setattr(atomic, "write_text", spy)
    out, repro = tmp_path / "out", tmp_path / "repro" / "paper_repro.md"
    assert main(["--results", str(built["root"]), "--out", str(out), "--no-pdf", "--figures",
                 str(built["out"] / "figures"), "--paper-repro", str(repro)]) == 0
    expected = {(out / "appendix.tex").resolve(), (out / "appendix.md").resolve(), repro.resolve(),
                *[p.resolve() for p in out.glob("sec_*.tex")]}
    assert len(expected) >= 11 and expected <= set(written)
    assert not list(out.rglob(".*.tmp")) and not list(repro.parent.glob(".*.tmp"))


# --------------------------------------------------------------------------- what experiments store as not computable
@pytest.mark.parametrize("experiment", ["closeness", "accuracy"])
def test_only_not_computable_is_stored_as_a_result(experiment, monkeypatch):
    """A NotComputable GBML prediction is recorded as an error entry; any other ValueError (a broadcasting
    bug) propagates instead of being stored as "not computable"."""
    from ntk_bridge.errors import NotComputable
    from ntk_bridge.experiments import accuracy, closeness
    from ntk_bridge.experiments.common import TaskConfig

    mod = closeness if experiment == "closeness" else accuracy
    real = mod.closed_form
    raised = {"error": None}

    def closed_form(method, *args, **kwargs):
        if parse(method).kind == "gbml" and raised["error"] is not None:
            raise raised["error"]
        return real(method, *args, **kwargs)

    monkeypatch.setattr(mod, "closed_form", closed_form)
    if experiment == "closeness":
        tasks = TaskConfig(n_train=3, n_test=2, n_support=3, n_query=3)
        p = {"tasks": dataclasses_asdict(tasks), "seed": 0, "depth": 2, "lr": 0.02, "steps": 2,
             "splits": ["same", "disjoint"], "backend": "native"}
        run = closeness.evaluate
    else:
        p = {"family": "shared-feature", "n_train": 3, "n_test": 2, "seed": 0, "depth": 2, "tau": 0.5, "steps": 2,
             "backend": "native"}
        run = accuracy.evaluate
    raised["error"] = NotComputable("singular meta-NTK: add a ridge")
    res = run(p)
    errors = ([res[split][algo] for split in p["splits"] for algo in ("anil", "maml")] if experiment == "closeness"
              else [res[k] for k in ("anil-same", "anil-disjoint", "maml-same", "maml-disjoint")])
    assert errors and all(e == {"error": "singular meta-NTK: add a ridge"} for e in errors)
    raised["error"] = ValueError("operands could not be broadcast together with shapes (3,4) (4,3)")
    with pytest.raises(ValueError, match="could not be broadcast"):
        run(p)


def dataclasses_asdict(x):
    import dataclasses

    return dataclasses.asdict(x)


def test_bad_arguments(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["--bogus"])
    assert exc.value.code == 2
    assert main(["--checks", str(tmp_path / "missing.json"), "--out", str(tmp_path)]) == 2


# --------------------------------------------------------------------------- verdict rules
def test_c1_rule():
    ok = {"formulation.value": True, "formulation.gradient": True, "formulation.split_gap": True}
    assert verdicts.c1(ok).status == verdicts.REPRODUCED
    assert verdicts.c1(dict(ok, **{"formulation.gradient": False})).status == verdicts.NOT
    assert verdicts.c1(dict(ok, **{"formulation.split_gap": False})).status == verdicts.PARTLY
    assert verdicts.c1({"formulation.value": True}).status == verdicts.PARTLY
    assert verdicts.c1(None).status == verdicts.MISSING
    assert verdicts.c1({"meta_ntk.phi": True}).status == verdicts.MISSING


def test_c2_rule():
    lo, hi = verdicts.C2_SLOPE_RANGE
    assert verdicts.c2([-0.5, lo + 0.01, hi - 0.01], True).status == verdicts.REPRODUCED
    assert verdicts.c2([-0.5, lo - 0.01], True).status == verdicts.PARTLY
    assert verdicts.c2([-0.5, hi + 0.01], None).status == verdicts.PARTLY  # one slope in range
    assert verdicts.c2([hi + 0.01], False).status == verdicts.NOT
    assert verdicts.c2([-0.5], False).status == verdicts.PARTLY
    assert verdicts.c2(None, True).status == verdicts.PARTLY
    assert verdicts.c2([], None).status == verdicts.MISSING


def test_c3_rule():
    d = verdicts.C3_DROP

    def algo(rel_last, norm_last, rel_lo=0.1, norm_lo=0.1):
        return dict(rel_first=1.0, rel_last=rel_last, norm_first=2.0, norm_last=norm_last,
                    rel_r_lo=rel_lo, norm_r_lo=norm_lo)
    good = algo(d - 0.01, 2 * d - 0.01)
    assert verdicts.c3({"anil": good, "maml": good}).status == verdicts.REPRODUCED
    # normalized gap at the threshold's other side: only rel falls -> partly
    assert verdicts.c3({"anil": algo(d - 0.01, 2 * d + 0.01), "maml": good}).status == verdicts.PARTLY
    # interval of r touching 0 -> that gap does not count as falling
    assert verdicts.c3({"anil": algo(d - 0.01, 2 * d - 0.01, norm_lo=-0.01), "maml": good}).status == verdicts.PARTLY
    assert verdicts.c3({"anil": algo(d + 0.01, 2 * d + 0.01), "maml": algo(d + 0.01, 2 * d - 0.01)}).status \
        == verdicts.NOT
    assert verdicts.c3({"anil": algo(d - 0.01, 2 * d - 0.01, rel_lo=0.0), "maml": algo(1.0, 2.0)}).status \
        == verdicts.NOT
    # a gap that turns back up with depth (MAML at fixed lr) does not count as falling
    bump = dict(good, rel_monotone=False, norm_monotone=False)
    assert verdicts.c3({"anil": good, "maml": bump}).status == verdicts.PARTLY
    assert verdicts.c3({"anil": good}).status == verdicts.PARTLY  # MAML missing: not the whole claim
    assert verdicts.c3({}).status == verdicts.MISSING
    # non-vacuity: closeness between predictors that no longer beat no transfer counts only partly
    useful = dict(good, mse_last=0.5, mtl_mse_last=0.49, none_mse_last=0.51)
    assert verdicts.c3({"anil": useful, "maml": useful}).status == verdicts.REPRODUCED
    for worse in (dict(mse_last=0.52), dict(mtl_mse_last=0.52)):
        vacuous = dict(useful, **worse)
        for v in (verdicts.c3({"anil": vacuous, "maml": useful}), verdicts.c3_scope(vacuous),
                  verdicts.c3_extension({"maml": vacuous})):
            assert v.status == verdicts.PARTLY and "vacuous" in v.reason, v
    assert verdicts.c3_scope(useful).status == verdicts.REPRODUCED and "no transfer 0.51" in \
        verdicts.c3_scope(useful).reason


def test_c4_rule():
    hi, lo = verdicts.C4_REPRODUCED, verdicts.C4_PARTLY
    assert verdicts.c4(hi + 0.01, hi + 0.01 - lo - 0.01).status == verdicts.REPRODUCED
    assert verdicts.c4(hi + 0.01, hi + 0.01 - lo + 0.01).status == verdicts.PARTLY  # the spread reaches below 2x
    assert verdicts.c4(verdicts.C4_REPRODUCED + 0.01).status == verdicts.REPRODUCED
    assert verdicts.c4(verdicts.C4_REPRODUCED - 0.01).status == verdicts.PARTLY
    assert verdicts.c4(verdicts.C4_PARTLY - 0.01).status == verdicts.NOT
    assert verdicts.c4(None).status == verdicts.MISSING


def test_c5_rule():
    m, a = verdicts.C5_MSE_MARGIN, verdicts.C5_ACC_MARGIN
    assert verdicts.c5_within("mse", (1 + m) * 0.99, 1.0) and not verdicts.c5_within("mse", (1 + m) * 1.01, 1.0)
    assert verdicts.c5_within("accuracy", 0.8 - a + 0.001, 0.8) and not verdicts.c5_within("accuracy", 0.8 - a - 0.001, 0.8)
    assert "worse than no transfer" in verdicts.c5([("accuracy", 0.2, 0.2, 0.7)]).reason
    assert "no transfer" not in verdicts.c5([("accuracy", 0.8, 0.8, 0.7), ("mse", 1.0, 1.0, None)]).reason
    inside, outside = ("mse", 1.0, 1.0), ("mse", 2.0, 1.0)
    assert verdicts.c5([inside, inside]).status == verdicts.REPRODUCED
    assert verdicts.c5([inside, outside]).status == verdicts.PARTLY
    assert verdicts.c5([inside, outside, outside]).status == verdicts.NOT
    assert verdicts.c5([]).status == verdicts.MISSING


# --------------------------------------------------------------------------- rendering
def test_number_format_round_trips():
    for x in (0.000123456, 0.0123456, 1.23456, 123.456, 98765.4, 1.5e-16, -2.5e-7, 0.0):
        assert float(fmt(x)) == pytest.approx(x, rel=REL, abs=0)
    assert md(Num(0.25, 0.0123)) == "0.250 ± 0.012"
    assert tex(Num(1.5e-16)) == r"$1.50{\times}10^{-16}$"
    with pytest.raises(ValueError, match="row 0 has 2 cells"):
        Table("t", ["c"], ["a", "b", "c"], [["x", "y"]])


def test_figure_provenance(built, tmp_path):
    """A figure drawn from another summary than the one the appendix reads is flagged (exit status 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ntk_bridge.appendix import build

    root = built["root"]
    current = selection.summary(root, "kernel-share")["config_hash"]
    figs = tmp_path / "figs"
    figs.mkdir()
    for name, hash_ in (("kernel_share", "0123456789abcdef"), ("width", selection.summary(root, "width")["config_hash"])):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1])
        fig.savefig(figs / f"{name}.png", metadata={"Description": f"ntk_bridge {name.replace('_', '-')} summary {hash_} (x)"})
        plt.close(fig)
    res = build(root, tmp_path / "out", checks=None, figures_from=figs, pdf=False, paper_repro_path=tmp_path / "r.md")
    assert res["problems"] == ["figure kernel_share was drawn from another kernel-share summary (0123456789abcdef)"]
    text = res["md"].read_text()
    assert f"not the summary `{current}`" in text
    assert text.count("Warning: drawn from") == 1  # the width figure matches its summary


def test_default_results_root(built, tmp_path, monkeypatch):
    """Default ``results/``; ``results/quick/`` when only the quick run has summaries."""
    from pathlib import Path

    from ntk_bridge.appendix import resolve_results

    monkeypatch.chdir(tmp_path)
    assert resolve_results(None) == Path("results")  # nothing anywhere: the full root, sections say missing
    shutil.copytree(built["root"] / "kernel-share", tmp_path / "results" / "quick" / "kernel-share")
    assert resolve_results(None) == Path("results/quick")
    shutil.copytree(built["root"] / "kernel-share", tmp_path / "results" / "kernel-share")
    assert resolve_results(None) == Path("results")
    assert resolve_results(Path("elsewhere")) == Path("elsewhere")


# --------------------------------------------------------------------------- issue #23: read-only, errors, setup
def test_setup_table_lists_every_experiment_run(built):
    header, rows = md_tables(built["md"])["setup-tasks"]
    listed = {r[0].strip("`") for r in rows}
    ran = {name for name in ("closeness", "kernel-share", "accuracy", "ablate", "conditioning", "width", "cost",
                             "finite-closeness") if selection.summary(built["root"], name) is not None}
    assert ran - {"cost"} <= listed          # cost times synthetic nets of its own: no task family
    cond = next(r for r in rows if r[0].strip("`") == "conditioning")
    assert cond[1] == "shared-feature" and cond[2] == "2" and cond[4] == "2-3"


def test_appendix_leaves_damaged_records_where_they_are(built, tmp_path):
    root = tmp_path / "results"
    shutil.copytree(built["root"], root)
    summary = selection.summary(root, "kernel-share")
    victim = root / "kernel-share" / f"{summary['result']['points'][0]}.json"
    victim.write_text(victim.read_text()[:200])          # truncated: damaged
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    (tmp_path / "figs").mkdir()
    main(["--results", str(root), "--out", str(tmp_path / "out"), "--no-pdf", "--figures", str(tmp_path / "figs")])
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before


@pytest.mark.parametrize("case", ["results-is-a-file", "checks-not-json", "out-is-a-file"])
def test_bad_paths_are_one_line(built, tmp_path, capsys, case):
    afile = tmp_path / "a.txt"
    afile.write_text("not json {")
    argv = {"results-is-a-file": ["--results", str(afile), "--out", str(tmp_path / "o")],
            "checks-not-json": ["--results", str(built["root"]), "--checks", str(afile), "--out", str(tmp_path / "o")],
            "out-is-a-file": ["--results", str(built["root"]), "--out", str(afile)]}[case]
    assert main(argv + ["--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ntk-bridge appendix: error: ") and "Traceback" not in err
    assert {"results-is-a-file": "is a file, not a folder", "checks-not-json": "is not a proofs_checks JSON file",
            "out-is-a-file": f"--out {afile} is a file"}[case] in err
    assert not (tmp_path / "o").exists()


def test_ntk_fluctuation_rows_and_non_vacuity_recomputed_from_points(built):
    """The fluctuation table's measures / beta and the closeness non-vacuity table's MSEs and effective ranks
    are those of the stored points (recomputed here from their samples and per-seed values)."""
    from ntk_bridge.experiments import ntk_fluctuation

    tables = md_tables(built["md"])
    header, rows = tables["ntk-fluctuation"]
    _, pts = points(built["root"], "ntk-fluctuation")
    by = {(p["config"]["depth"], p["config"]["width"]): p["result"] for p in pts}
    assert len(rows) == len(by) == 4
    for row in rows:
        res = by[int(row[0]), int(row[1])]
        m = ntk_fluctuation.measures(res["theta"], res["head"])
        beta = int(row[0]) / int(row[1])
        for col, key in (("ratio / β", "ratio"), ("Var log / β", "log_var"), ("head / β", "head")):
            assert num(row[header.index(col)])[0] == pytest.approx(m[key] / beta, rel=REL), (col, row)
        assert num(row[header.index("mean Θ")])[0] == pytest.approx(np.mean(res["theta"]), rel=REL)
    header, rows = tables["closeness-useful"]
    _, pts = points(built["root"], "closeness")
    head = [p for p in pts if p["config"]["lr"] == 0.02 and p["config"]["steps"] == 5 and "width" not in p["config"]]
    for row in rows:
        at = [p["result"] for p in head if p["config"]["depth"] == int(row[0])]
        close(row[header.index("zero")], [r["mse"]["zero"] for r in at])
        close(row[header.index("no transfer")], [r["mse"]["no_transfer"] for r in at])
        close(row[header.index("eff. rank")], [r["effective_rank"] for r in at])
    assert "HN" in built["repro_md"] and "Hanin & Nica" in built["repro_md"]


def test_checks_file_and_run_checks_together_are_refused(tmp_path, capsys):
    """--run-checks runs the checks only without a checks file: both together is a usage error, not a silent pick."""
    with pytest.raises(SystemExit) as info:
        main(["--results", str(tmp_path), "--checks", str(tmp_path / "c.json"), "--run-checks"])
    assert info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_figures_inside_the_folder_the_appendix_refreshes_are_refused_before_anything_is_deleted(tmp_path):
    from ntk_bridge.appendix import figure_files
    inner = tmp_path / "out" / "figures" / "mine"
    inner.mkdir(parents=True)
    (inner / "a.png").write_bytes(b"png")
    with pytest.raises(ValueError, match="lies inside"):
        figure_files.collect(tmp_path, tmp_path / "out", figures_from=inner)
    assert (inner / "a.png").read_bytes() == b"png"
