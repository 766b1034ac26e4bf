"""``paper_repro.md``: each claim C1–C5 of the paper, what was measured and a rule-based verdict.

Written by ``ntk-bridge appendix`` together with the appendix (to ``--paper-repro PATH``, or to
the checkout's ``paper_repro.md`` for its reference results), so it never drifts from the
records; the numbers come through the experiments' typed readers, the verdict rules live in
``.verdicts``.
"""
from __future__ import annotations

import os
from pathlib import Path

from .. import atomic
from ..methods import parse
from ..experiments.closeness import ALGOS, GAPS
from . import verdicts
from .context import fit_cells, stat_num
from .render import Code, Num, Para, Table, md, md_block
from .sections import accuracy, checks, closeness, cost, width
from .sections import conv as conv_section
from .sections import feature_learning as fl_section
from .sections import ntk_fluctuation as hn_section
from .sections import finite_closeness as fc_section

PAPER = ("H. Wang, H. Zhao, B. Li, *Bridging Multi-Task Learning and Meta-Learning: Towards Efficient Training "
         "and Effective Adaptation*, ICML 2021 (arXiv:2106.09017)")

CLAIMS = {
    "C1": "MTL shares one optimization formulation with the GBML class that adapts only the last layer (ANIL, "
          "MetaOptNet, R2D2): both minimise sum_i loss(head_i(body), task_i) over the body; they differ only in how "
          "head_i is produced (free parameter vs. inner-loop output from a shared init) and on which split it is scored.",
    "C2": "For over-parameterized (infinitely wide) ReLU nets, the trained MTL and GBML predictors have closed forms "
          "(NTK regime).",
    "C3": "With sufficient depth, the MTL and GBML predictors on an unseen task are close: gap = O(lr*steps + 1/L) "
          "+ eps for width >= O(eps^-2) (lr, steps: the inner loop; L: depth).",
    "C3a": "C3 in the theorem's scope: MTL and ANIL predictors are close with sufficient depth (infinite width).",
    "C3b": "C3 at finite width: trained MTL and ANIL nets are within eps of each other for width >= O(eps^-2) "
           "(a constant growing with depth).",
    "C3b-fresh": "C3b in the paper's own protocol: at meta-test both heads are re-initialized (the same fresh random "
                 "head for both methods) and fine-tuned; at infinite width both predictors are then the no-transfer "
                 "baseline, so their gap is the theorem's finite-width eps, which width >= O(eps^-2) bounds.",
    "C3c": "C3 extended beyond the theorem's scope: MAML and first-order MAML vs MTL (infinite width).",
    "C3c-finite": "C3c at finite width: trained second-order MAML and FOMAML nets against trained MTL nets of one "
                  "initialization.",
    "C3-dist": "Not a claim of the paper: C3 in distribution. Nets as trained in practice are not centered; at "
               "infinite width their test predictions are Gaussian over initializations. Two methods started from "
               "one initialization should then be close in expected squared distance, E||Delta||^2 = ||mu_a - "
               "mu_b||^2 + tr((M_a - M_b) K (M_a - M_b)^T), not only in their means.",
    "C4": "MTL is first-order and an order of magnitude cheaper to train than second-order GBML.",
    "C5": "MTL is competitive with GBML in accuracy on few-shot tasks.",
    "C3-digits": "C3 in the theorem's scope (MTL vs ANIL, infinite width) on real images: scikit-learn's 8x8 digits.",
    "C5-digits": "C5 on real images: accuracy of MTL vs GBML on few-shot digits episodes (5-way 1-shot, 5-way "
                 "5-shot, 2-way; labels permuted, and a fixed-label variant).",
    "C3-conv": "C3 for the paper's architecture family: with convolutional nets (the CNTK of conv layers, global "
               "average pooling or flattening, and a dense head) on digit images, MTL and ANIL predictors are close "
               "with sufficient depth (infinite width).",
    "C5-conv": "C5 for convolutional nets: on few-shot digit-image episodes, MTL's accuracy is within the margin of "
               "the best GBML method's (CNTK closed forms), beside the authors' logistic probe.",
    "C3-muP": "C3 beyond the kernel regime (not a claim of the paper, whose theorem is the lazy regime's): with "
              "features learned (the maximal-update parameterization, muP), trained GBML and MTL nets of one "
              "initialization stay as close as in the NTK parameterization's kernel regime, width by width.",
    "C5-muP": "C5 with learned features: on few-shot digits, once features move (muP), transfer beats no transfer "
              "and MTL stays within the margin of the best GBML method.",
    "HN": "Not a claim of the paper: the finite-width fluctuation the C3b law rests on, held against a published "
          "constant. Hanin & Nica (ICLR 2020): for bias-free He-initialized ReLU nets, E[Theta(x,x)^2] / "
          "E[Theta(x,x)]^2 ≃ exp(5 L/n) (up to universal constants), so the NTK's relative standard deviation, and "
          "the errors it drives, scale like (L/n)^(1/2).",
}


def _fig_links(ctx, key: str, md_path: Path, repro: Path) -> list:
    figs = ctx.figures_for(key)
    if not figs:
        return ["none stored yet (run ", Code(ctx.command("figures")), ")"]
    out = []
    for i, f in enumerate(figs):
        target = os.path.relpath(md_path.parent / (f.png or f.pdf), repro.parent)
        out += ([", "] if i else []) + [f"[{f.label}]({target})"]
    return out


def _verdict_line(v: verdicts.Verdict) -> str:
    return f"**Verdict: {v.status}** — {v.reason}."


def c1(ctx) -> tuple[verdicts.Verdict, list]:
    passed = checks.passed(ctx.checks)
    blocks = []
    if ctx.checks is not None:
        rows = [[Code(r["name"]), "PASS" if r["passed"] else "FAIL", *checks.cells(r)]
                for r in ctx.checks.get("results", []) if r["name"].startswith("formulation.")]
        if rows:
            blocks.append(Table("repro-c1", ["Formulation checks (", Code(ctx.checks_source or "?"), ", created ",
                                             Code(str(ctx.checks.get("created", "?"))), ")."],
                                ["check", "result", "value", "", "tolerance"], rows, align="llrcr"))
    else:
        blocks.append(Para(["No proofs_checks results: ", *checks.how_to_run(ctx), "."], style="item"))
    return verdicts.c1(passed), blocks


def c2(ctx) -> tuple[verdicts.Verdict, list]:
    passed = checks.passed(ctx.checks) or {}
    present = [n for n in verdicts.C2_CHECKS if n in passed]
    identity = all(passed[n] for n in present) if present else None
    s = ctx.read("width")
    blocks = [Para(["Linearized-net identity checks: ",
                    ", ".join(f"{n} {'PASS' if passed[n] else 'FAIL'}" for n in present) if present else "not run",
                    "."], style="item")]
    slopes = []
    if s is not None:
        rows = []
        for L, m, f in width.fits(s):
            slopes.append(-f.r)
            errs = s.err(L, m)
            rows.append([Num(L), width.label(s, m), stat_num(errs[0]) if errs else "-",
                         stat_num(errs[-1]) if errs else "-", Num(-f.r), [Num(-f.r_hi), ", ", Num(-f.r_lo)]])
        w = s.widths
        blocks.append(Table("repro-c2", ["Relative error of trained centered nets to the closed form at the smallest (",
                                         Num(w[0]), ") and largest (", Num(w[-1]), ") width, mean ± std over ",
                                         Num(s.config.get("seeds")), " seeds, and the fitted slope vs width."],
                            ["L", "method", f"n={w[0]}", f"n={w[-1]}", "slope", "interval"], rows, align="rlrrrr"))
        blocks.append(Para([*ctx.record_info(s), "."], style="item"))
    return verdicts.c2(slopes, identity), blocks


def c3(ctx) -> tuple[verdicts.Verdict, list]:
    s = ctx.read("closeness")
    if s is None:
        return verdicts.c3({}), []
    blocks = [_gap_table(s, "repro-c3", s.splits, ALGOS)]
    for algo in ALGOS:
        sweep = s.lr_steps.get(algo)
        f = None if sweep is None else (sweep.fit_scaled if algo == "maml" else sweep.fit)
        if f is not None and f.ok:
            blocks.append(Para([f"{closeness.name(algo, 'same')}: fit gap = a x + b/L + c over the (lr, steps) grid, "
                                "x = ", "lr*steps*(L+1)" if algo == "maml" else "lr*steps", ": a = ", Num(f.a),
                                ", b = ", Num(f.b), ", c = ", Num(f.c), ", R^2 = ", Num(f.r2), " (", Num(f.n),
                                " points)."], style="item"))
    blocks.extend(_lr_scaling(ctx))
    blocks.append(Para([*ctx.record_info(s), "."], style="item"))
    return verdicts.c3(closeness.c3_inputs(s)), blocks


def _gap_table(s, label: str, splits, algos) -> Table:
    """Gap GBML vs MTL at the shallowest and deepest depth of closeness summary ``s`` and its fitted rate."""
    depths = s.depths
    i0, i1 = depths.index(min(depths)), depths.index(max(depths))
    rows = []
    for split in splits:
        for algo in algos:
            for gap in GAPS:
                vals = s.gap(split, algo, gap)
                a, b = vals[i0], vals[i1]
                if a is None and b is None:
                    continue
                ratio = Num(b.mean / a.mean) if a and b and a.mean else "-"
                rows.append([closeness.name(algo, split), closeness.GAP_NAMES[gap], stat_num(a), stat_num(b), ratio,
                             *fit_cells(s.fit(split, algo, gap))[:2]])
    return Table(label, ["Gap GBML vs MTL at the shallowest (L = ", Num(depths[i0]), ") and deepest (L = ",
                         Num(depths[i1]), ") depth, mean ± std over ", Num(s.config.get("seeds")),
                         " seeds, and the fitted rate r of gap ~ c L^-r."],
                 ["method", "gap", f"L={depths[i0]}", f"L={depths[i1]}", "ratio", "r", "interval of r"],
                 rows, align="llrrrrr")


def _lr_scaling(ctx) -> list:
    """MAML's gap on split="same" with a fixed inner lr vs lr scaled by 2/(L+1) (ablation ``lr_scaling``).

    MAML adapts with Theta, whose diagonal is (L+1) Sigma: at a fixed lr its inner loop gets
    stronger with depth, which the theorem's lr*steps term charges; scaling lr by 2/(L+1) holds it fixed.
    """
    s = ctx.read("ablate")
    rows = s.of("lr_scaling") if s is not None else ()
    out = []
    for value, label in (("fixed", "inner lr fixed"), ("depth", "inner lr scaled by 2/(L+1)")):
        gaps = sorted(((r.depth, r.gap("same", "maml")) for r in rows if r.value == value), key=lambda dg: dg[0])
        gaps = [(d, g) for d, g in gaps if g is not None]
        if len(gaps) >= 2:
            out.append(Para([f"Ablation lr_scaling, {closeness.name('maml', 'same')} vs MTL relative gap, ", label,
                             ": ", *[x for d, g in gaps for x in ("L=", Num(d), " ", stat_num(g), "; ")][:-1], "."],
                            style="item"))
    return out


def c3a(ctx) -> tuple[verdicts.Verdict, list]:
    s = ctx.read("closeness")
    inputs = closeness.c3_inputs(s) if s is not None else {}
    return verdicts.c3_scope(inputs.get("anil")), []


def c3c(ctx) -> tuple[verdicts.Verdict, list]:
    s = ctx.read("closeness")
    if s is None:
        return verdicts.c3_extension({}), []
    algos = [a for a in ALGOS if a in ("maml", "fomaml")]
    blocks = [_gap_table(s, "repro-c3c", [sp for sp in s.splits if sp == "same"], algos), *_lr_scaling(ctx),
              Para([*ctx.record_info(s), "."], style="item")]
    return verdicts.c3_extension(closeness.c3_inputs(s)), blocks


def _c3b_fits(s, labels) -> list:
    """Per trained method of ``labels``: the fitted ``err ~ c (L/n)^a`` (bootstrap interval of ``a``) and the
    width it requires for each target error at each depth."""
    out = []
    for lab in labels:
        f = s.fit(lab)
        if f is None:
            continue
        if not f.ok:
            out.append(Para([Code(lab), ": no fit of err ~ c (L/n)^a (", f.error, ")."], style="item"))
            continue
        req = ["; ".join(f"{'-' if w is None else format(w, '.3g')} at L={L}" for L, w in
                         zip(s.depths, s.required_width(lab, eps)) if w is not None or s.ran(lab, s.widths[0], L))
               for eps in s.targets]
        out.append(Para([Code(lab), ": err to the closed form ~ c (L/n)^a with a = ", Num(f.a), " [", Num(f.a_lo),
                         ", ", Num(f.a_hi), "], c = ", Num(f.c), "; width needed for ",
                         "; for ".join(f"err <= {eps}: {r}" for eps, r in zip(s.targets, req)),
                         " (-: the interval of a reaches 0)."], style="item"))
    return out


def _gap_rows(s, labs) -> list:
    """Rows (method, L, gap per width, infinite) of trained GBML vs MTL nets for each label of ``labs``, at the
    depths it was trained at."""
    rows = []
    for lab in labs:
        for L in s.depths:
            if not any(s.ran(lab, n, L) for n in s.widths):
                continue
            inf = s.gap(lab, L)
            rows.append([parse(lab).display, Num(L),
                         *[fc_section.cell_text(s.gap(lab, L, n), s.ran(lab, n, L)) for n in s.widths],
                         "-" if inf is None else Num(inf)])
    return rows


def _gap_fit_para(s, lab) -> Para | None:
    f = s.gap_fit(lab)
    if f is None:
        return None
    if not f.ok:
        return Para([parse(lab).display, " vs MTL: no fit of gap ~ c_L n^-b (", f.error, ")."], style="item")
    return Para([parse(lab).display, " vs MTL: gap ~ c_L n^-b with width exponent b = ", Num(f.b), " [", Num(f.b_lo),
                 ", ", Num(f.b_hi), "] (", Num(round(100 * f.level)), "% bootstrap interval over seeds; one constant "
                 "per depth; over the (L, n) both were trained at): the width exponent of the theorem's eps, 1/2 for "
                 "width >= O(eps^-2)."], style="item")


def _fc_gap_table(s, label: str, caption: str, labs) -> Table:
    return Table(label, [caption], ["method", "L", *[f"n={n}" for n in s.widths], "infinite"], _gap_rows(s, labs),
                 align="lr" + "r" * (len(s.widths) + 1))


def c3b(ctx) -> tuple[verdicts.Verdict, list]:
    s = ctx.read(fc_section.EXPERIMENT)
    if s is None:
        return verdicts.c3_finite(None), []
    within, gaps = {}, []
    for prot in ("trained", "fresh"):
        lab = fc_section.anil_label(s, prot)
        within[prot] = None if lab is None else s.within(lab, verdicts.C3_FINITE_GAP)
        gaps += [g.mean for L in s.depths for n in s.widths if lab and (g := s.gap(lab, L, n)) is not None]
    anil = [lab for prot in ("trained", "fresh") if (lab := fc_section.anil_label(s, prot)) is not None]
    blocks = [_fc_gap_table(s, "repro-c3b", "Rel. gap between trained ANIL and MTL nets of one initialization (mean ± "
                         "std over seeds) and the closed forms' gap, per test-head protocol (one training, read "
                         "under both heads).", anil),
              *[p for lab in anil if (p := _gap_fit_para(s, lab)) is not None],
              *_c3b_fits(s, fc_section.main_labels(s))]
    disjoint = [lab for lab, _ in s.labels if (m := parse(lab)).kind == "gbml" and m.split == "disjoint"]
    if disjoint:
        blocks.append(_fc_gap_table(s, "repro-c3b-disjoint", "The practical split (inner loop on the support, outer "
                                 "loss on the query): rel. gap between trained GBML and MTL nets of one "
                                 "initialization, and the closed forms' gap, which keeps a part that does not vanish "
                                 "with depth (theory.md §6). Not part of the verdict's rule.", disjoint))
    useful = fc_section.useful_table(s, "repro-c3b-useful")
    if useful is not None:
        blocks.append(useful)
    blocks.append(Para([*ctx.record_info(s), "."], style="item"))
    return verdicts.c3_finite(within.get("trained"), within.get("fresh"), min(gaps) if gaps else None), blocks


def c3b_fresh(ctx) -> tuple[verdicts.Verdict, list]:
    """The paper's protocol: the fresh-head gap's width exponent and where it is within the threshold."""
    s = ctx.read(fc_section.EXPERIMENT)
    lab = None if s is None else fc_section.anil_label(s, "fresh")
    if lab is None:
        return verdicts.c3_fresh(None, None), []
    f = s.gap_fit(lab)
    gaps = [g.mean for L in s.depths for n in s.widths if (g := s.gap(lab, L, n)) is not None]
    blocks = [Para(["The gap table is C3b's (protocol fresh: rows ", Code(lab), ")."], style="item")]
    p = _gap_fit_para(s, lab)
    if p is not None:
        blocks.append(p)
    rows = []
    mtl = parse("mtl-shared", test_head="fresh").label
    for L in s.depths:
        u = s.useful(L)
        cells = [fc_section.cell_text(c.mse if (c := s.cell(x, L, n)) is not None else None, s.ran(x, n, L))
                 for x in (mtl, lab) for n in (s.widths[0], s.widths[-1])]
        parts = [fc_section.cell_text(c.fluctuation if (c := s.cell(lab, L, s.widths[-1])) is not None else None),
                 fc_section.cell_text(c.seen if c is not None else None)]
        rows.append([Num(L), *cells, *parts, "-" if u is None else Num(u.no_transfer)])
    w0, w1 = s.widths[0], s.widths[-1]
    blocks.append(Table("repro-c3b-fresh", [
        "Fresh test head: test MSE of the trained MTL and ANIL nets at the smallest and largest width (mean ± std "
        "over seeds) beside no transfer's closed form (both methods' infinite-width predictor here), and ANIL's "
        "error parts at n = ", Num(w1), ": the untrained net's test-time loop against the closed form "
        "(fluctuation) and what of the body's training the fresh head sees (seen, zero at infinite width)."],
        ["L", f"MTL n={w0}", f"MTL n={w1}", f"ANIL n={w0}", f"ANIL n={w1}", f"fluct. n={w1}", f"seen n={w1}",
         "no transfer ∞"], rows, align="r" * 8))
    blocks.append(Para([*ctx.record_info(s), "."], style="item"))
    return (verdicts.c3_fresh(s.within(lab, verdicts.C3_FINITE_GAP),
                              None if f is None or not f.ok else (f.b, f.b_lo, f.b_hi), min(gaps) if gaps else None),
            blocks)


def c3c_finite(ctx) -> tuple[verdicts.Verdict, list]:
    """Trained MAML and FOMAML nets (trained head, split "same") against trained MTL nets of one initialization."""
    s = ctx.read(fc_section.EXPERIMENT)
    if s is None:
        return verdicts.c3c_finite({}), []
    labs = [lab for lab, prot in s.labels if prot == "trained" and parse(lab).algo in ("maml", "fomaml")
            and parse(lab).split == "same"]
    if not labs:
        return verdicts.c3c_finite({}), []
    blocks = [_fc_gap_table(s, "repro-c3c-finite", "Rel. gap between trained MAML / FOMAML nets and trained MTL nets "
                         "of one initialization (trained head, split same; mean ± std over seeds), and the closed "
                         "forms' gap (fixed inner lr: it does not fall with depth for MAML, see C3c).", labs),
              *_c3b_fits(s, labs), Para([*ctx.record_info(s), "."], style="item")]
    return verdicts.c3c_finite({parse(lab).algo: s.within(lab, verdicts.C3_FINITE_GAP) for lab in labs}), blocks


def c3_distribution(ctx) -> tuple[verdicts.Verdict, list]:
    """MTL vs ANIL from one initialization, over initializations: E||Delta||^2 and its parts against depth."""
    from .sections import distribution as dist_section

    s = ctx.read(dist_section.EXPERIMENT)
    pair = ("mtl-shared", "anil-same")
    rows = [] if s is None else [(L, g) for L in sorted({k[2] for k in s.result.gaps}) if (g := s.gap(*pair, L))]
    if len(rows) < 2:
        return verdicts.c3_distribution(None, None), []
    blocks = [Table("repro-c3-dist", ["MTL vs ANIL (same) from one initialization, uncentered nets at infinite "
                                      "width: E||Δ||² summed over the test tasks and its parts."],
                    ["L", "E||Δ||²", "mean part", "variance part"],
                    [[Num(L), Num(g.total), Num(g.mean_part), Num(g.var_part)] for L, g in rows], align="rrrr")]
    ens = [(m, n, e) for (m, n), e in s.result.ensembles.items() if e.n and n == max(s.config["widths"])]
    if ens:
        blocks.append(Para(["Ensembles at width ", Num(max(s.config["widths"])), " (not part of the rule): ",
                            *[x for m, n, e in ens for x in (parse(m).display, " mean err ", Num(e.mean_err),
                                                             " (sampling ", Num(e.mean_sampling), "), cov err ",
                                                             Num(e.cov_err), " (sampling ", Num(e.cov_sampling),
                                                             "); ")][:-1], "."], style="item"))
    fits = [(m, f) for m, f in s.result.width_fits.items() if f.mean.ok and f.cov.ok]
    if fits:
        blocks.append(Para(["Ensemble errors against width, err ~ c n^-r (90% interval, nets resampled per width; "
                            "not part of the rule): ",
                            *[x for m, f in fits for x in (parse(m).display, " mean r = ", Num(f.mean.r), " [",
                                                           Num(f.mean.r_lo), ", ", Num(f.mean.r_hi), "], cov r = ",
                                                           Num(f.cov.r), " [", Num(f.cov.r_lo), ", ",
                                                           Num(f.cov.r_hi), "]; ")][:-1], "."], style="item"))
    blocks.append(Para([*ctx.record_info(s), "."], style="item"))
    (L0, g0), (L1, g1) = rows[0], rows[-1]
    return verdicts.c3_distribution((g0.total, g0.var_part), (g1.total, g1.var_part), (L0, L1)), blocks


def c4(ctx) -> tuple[verdicts.Verdict, list]:
    s = ctx.read("cost")
    if s is None:
        return verdicts.c4(None), []
    ratio = s.ratio_maml
    blocks = []
    if s.rows:
        blocks.append(Table("repro-c4", ["Time per outer step of MTL and second-order MAML and their ratio "
                                         "(mean ± std over ", Num(s.config.get("repeats")), " repeats)."],
                            ["width", "device", "MTL (ms)", "MAML (ms)", "MAML/MTL", "ANIL/MTL"],
                            [[Num(r.width), r.device, cost.ms(r.time("mtl-shared")), cost.ms(r.time("maml")),
                              stat_num(r.ratio_to_mtl("maml")), stat_num(r.ratio_to_mtl("anil"))] for r in s.rows],
                            align="rlrrrr"))
    blocks.append(Para(["Verdict input: MAML/MTL at the largest width (", Num(s.largest_width), "): ",
                        stat_num(ratio) if ratio is not None else "not found in the summary", ". ",
                        *ctx.record_info(s), "."], style="item"))
    return (verdicts.c4(ratio.mean, ratio.std) if ratio is not None else verdicts.c4(None)), blocks


def c5(ctx) -> tuple[verdicts.Verdict, list]:
    s = ctx.read("accuracy")
    if s is None:
        return verdicts.c5([]), []
    rows = [[row[0], r.metric, *row[1:]] for r, row in _c5_rows(s)]
    blocks = [Table("repro-c5", ["Test error of MTL, of the best GBML method and of no transfer (fine-tuning from "
                                 "the zero function) per setting, mean ± std over seeds. Within: MTL within the "
                                 "margin of the best GBML."],
                    ["family", "metric", "L", "tau", "width", "MTL", "best GBML", "no transfer", "within"], rows,
                    align="llrrrrrrl"),
              Para([*ctx.record_info(s), "."], style="item")]
    return verdicts.c5(accuracy.c5_inputs(s)), blocks


def _c5_rows(s) -> list[tuple]:
    """``(row, cells)`` per accuracy setting where MTL and a GBML method were computed: setting, L, tau,
    width, MTL, best GBML (and which), no transfer, within the C5 margin."""
    out = []
    for r in s.rows:
        inp = accuracy.c5_input(r)
        if inp is None:
            continue
        best, best_stat = accuracy.best_gbml(r)
        nt = r.score("no-transfer")
        out.append((r, [Code(r.family), Num(r.depth), Num(r.tau), "inf." if r.width is None else Num(r.width),
                        stat_num(r.score("mtl-shared")), [stat_num(best_stat), ", ", best.display],
                        stat_num(nt) if nt is not None else "-", "yes" if verdicts.c5_within(*inp[:3]) else "no"]))
    return out


def c3_digits(ctx) -> tuple[verdicts.Verdict, list]:
    """C3 on digits: the closeness rows of the selected closeness summary on digits (real data)."""
    s = ctx.read("closeness", digits=True)
    if s is None:
        return verdicts.c3_digits(None), []
    depths = s.depths
    i0, i1 = depths.index(min(depths)), depths.index(max(depths))
    rows = []
    for split in s.splits:
        for algo in ALGOS:
            for gap in GAPS:
                a, b = s.gap(split, algo, gap)[i0], s.gap(split, algo, gap)[i1]
                if a is None and b is None:
                    continue
                rows.append([closeness.name(algo, split), closeness.GAP_NAMES[gap], stat_num(a), stat_num(b),
                             Num(b.mean / a.mean) if a and b and a.mean else "-",
                             *fit_cells(s.fit(split, algo, gap))[:2]])
    t = s.config["tasks"]
    n_way = dict(t.get("options") or []).get("n_way", 5)
    blocks = [Table("repro-c3-digits", ["Real data (digits, ", Num(n_way), "-way ", Num(t["n_support"]),
                                        "-shot, classes 0-4 / 5-9): gap GBML vs MTL at L = ", Num(depths[i0]),
                                        " and L = ", Num(depths[i1]), ", mean ± std over ", Num(s.config.get("seeds")),
                                        " seeds, fitted rate r of gap ~ c L^-r."],
                    ["method", "gap", f"L={depths[i0]}", f"L={depths[i1]}", "ratio", "r", "interval of r"], rows,
                    align="llrrrrr"),
              Para([*ctx.record_info(s), "."], style="item")]
    dis = s.gap("disjoint", "anil") if "disjoint" in s.splits else None
    return (verdicts.c3_digits(closeness.c3_inputs(s).get("anil"),
                               dis[i0].mean if dis and dis[i0] else None, dis[i1].mean if dis and dis[i1] else None),
            blocks)


def c5_digits(ctx) -> tuple[verdicts.Verdict, list]:
    """C5 on digits: every row is real data (the C5 rows above are synthetic families)."""
    s = ctx.read("accuracy", digits=True)
    note = Para(["Real data: every row of this table (scikit-learn's digits). The C5 rows above are synthetic "
                 "(shared-feature, sinusoid regression; clusters classification). ", Code("clusters"),
                 " draws its class centres afresh and permutes labels per task, so in the kernel regime only an "
                 "initial function transfers and its C5 rows measure test-time adaptation, not transfer; ",
                 Code("digits-fixed"), " is the fixed-label variant (one output per class, unseen images of the "
                 "training classes), where class semantics can transfer. With permuted labels the trained initial "
                 "function is label noise for a new episode, which a short inner loop does not undo, while the "
                 "argmax of a short fine-tuning from the zero function (no transfer) is already a kernel "
                 "classifier on the support (accuracy is blind to scale): there, transfer can fall below no "
                 "transfer."], style="item")
    if s is None:
        return verdicts.c5_digits([]), [note]
    rows = [row for _, row in _c5_rows(s)]
    blocks = [Table("repro-c5-digits", ["Real data (digits): test accuracy of MTL, of the best GBML method and of no "
                                        "transfer per setting, mean ± std over seeds; trained nets that did not "
                                        "converge or left the kernel regime are excluded."],
                    ["setting", "L", "tau", "width", "MTL", "best GBML", "no transfer", "within"], rows,
                    align="lrrrrrrl"), note]
    probes = accuracy.probe_rows(s, ("mtl-shared", "anil-disjoint", "maml-disjoint", "no-transfer"))
    if probes:
        blocks.append(Table("repro-c5-digits-probe", [
            "The authors' test-time procedure instead of the inner loop (frozen body, L2-normalized features, "
            "logistic regression with C = ", Num(s.config.get("probe_C")), " on the support; ", Code("nb.probe"),
            "): query accuracy. Not part of the verdict's rule. At infinite width every body is the initial one."],
            ["setting", "L", "width", "MTL", "ANIL", "MAML", "no transfer"], probes, align="lrrrrrr"))
    blocks.append(Para([*ctx.record_info(s), "."], style="item"))
    return verdicts.c5_digits(accuracy.c5_inputs(s)), blocks


def c3_conv(ctx) -> tuple[verdicts.Verdict, list]:
    """C3 with the CNTK: the conv experiment's closeness part (ANIL and MAML vs MTL per architecture; the MLP on
    the same images beside, outside the rule)."""
    s = ctx.read(conv_section.EXPERIMENT, digits=True)
    if s is None:
        return verdicts.c3_conv({}), []
    rows = []
    for arch in s.archs:
        c = s.closeness(arch)
        i0, i1 = c.depths.index(min(c.depths)), c.depths.index(max(c.depths))
        for algo in ALGOS:
            for gap in GAPS:
                a, b = c.gap("same", algo, gap)[i0], c.gap("same", algo, gap)[i1]
                if a is None and b is None:
                    continue
                rows.append([Code(arch), closeness.name(algo, "same"), closeness.GAP_NAMES[gap], stat_num(a),
                             stat_num(b), Num(b.mean / a.mean) if a and b and a.mean else "-",
                             *fit_cells(c.fit("same", algo, gap))[:2]])
    depths = s.config["depths"]
    blocks = [Table("repro-c3-conv", ["Digit images, split 'same': gap GBML vs MTL at L = ", Num(min(depths)),
                                      " and L = ", Num(max(depths)), " with the CNTK (global average pooling, "
                                      "flattening) and with the MLP's NTK on the same images, mean ± std over ",
                                      Num(s.config["seeds"]), " seeds, fitted rate r of gap ~ c L^-r."],
                    ["arch", "method", "gap", f"L={min(depths)}", f"L={max(depths)}", "ratio", "r", "interval of r"],
                    rows, align="lllrrrrr"),
              Para([*ctx.record_info(s), "."], style="item")]
    inputs = {arch: closeness.c3_inputs(s.closeness(arch)).get("anil") for arch in s.archs}
    return verdicts.c3_conv({a: x for a, x in inputs.items() if a != "mlp"}, inputs.get("mlp")), blocks


def c5_conv(ctx) -> tuple[verdicts.Verdict, list]:
    """C5 with the CNTK: the conv experiment's accuracy part (conv closed forms in the rule; the MLP beside)."""
    s = ctx.read(conv_section.EXPERIMENT, digits=True)
    if s is None:
        return verdicts.c5_conv([]), []
    rows, inputs = [], []
    for arch in s.archs:
        acc = s.accuracy(arch)
        rows += [[Code(arch), *row, stat_num(p) if (p := r.probe("mtl-shared")) else "-"] for r, row in _c5_rows(acc)]
        if arch != "mlp":
            inputs += accuracy.c5_inputs(acc)
    blocks = [Table("repro-c5-conv", [
        "Digit images: test accuracy of MTL, the best GBML method and no transfer with the CNTK closed forms (in the "
        "verdict's rule) and the MLP's on the same images (beside, not in the rule), and the authors' probe on the "
        "initial features; mean ± std over seeds."],
        ["arch", "setting", "L", "tau", "width", "MTL", "best GBML", "no transfer", "within", "probe"], rows,
        align="llrrrrrrlr"), Para([*ctx.record_info(s), "."], style="item")]
    return verdicts.c5_conv(inputs), blocks


def c3_mup(ctx) -> tuple[verdicts.Verdict, list]:
    """The GBML-MTL gap of trained nets from one initialization, muP against NTK, at the smallest and widest width."""
    s = ctx.read(fl_section.EXPERIMENT)
    if s is None:
        return verdicts.c3_mup([]), []
    cfg = s.config
    if not {"ntk", "mup"} <= set(cfg["parameterizations"]):
        return verdicts.c3_mup([]), []
    rows, pairs = [], []
    for f in cfg["settings"]:
        for sc in cfg["scales"]:
            for m in cfg["methods"]:
                if m == "mtl-shared":
                    continue
                got = {par: s.rows("gaps", setting=f, parameterization=par, scale=sc, method=m)
                       for par in ("ntk", "mup")}
                if not all(got.values()):
                    continue
                first, last = {p: g[0].gap for p, g in got.items()}, {p: g[-1].gap for p, g in got.items()}
                cells = [stat_num(x) if x else "none kept" for x in (first["ntk"], last["ntk"], first["mup"], last["mup"])]
                rows.append([f, Num(sc), parse(m).display, Num(got["mup"][-1].width), *cells])
                pairs.append((f"{f}/{sc:g}/{m}", last["mup"].mean if last["mup"] else None,
                              last["ntk"].mean if last["ntk"] else None))
    w = cfg["widths"]
    fits = [[f, fl_section.PAR_NAME[par], Num(sc), parse(m).display, *fit_cells(s.fit(f, par, sc, m))[:2],
             fl_section.movement_check(par, s.fit(f, par, sc, m))] for f, par, sc, m in fl_section.curves(s)
            if par in ("ntk", "mup")]
    limit_rows = []
    for f, par, sc, m in fl_section.curves(s):
        d = {(r.a, r.b): r.distance for r in s.rows("limits", setting=f, parameterization=par, scale=sc, method=m)}
        first, last = d.get((128, 256)), d[max(d)] if d else None
        if first is None or last is None or max(d) == (128, 256):
            continue
        limit_rows.append([f, fl_section.PAR_NAME[par], Num(sc), parse(m).display, stat_num(first),
                           f"{max(d)[0]}-{max(d)[1]}", stat_num(last), "yes" if last.mean < first.mean else "no"])
    blocks = [Table("repro-c3-mup", [
        "Relative gap ||GBML - MTL|| / ||MTL|| of trained nets from one initialization (depth ", Num(cfg["depth"]),
        ") at the smallest width ", Num(w[0]), " and the widest it was trained at (n max), NTK and muP, mean ± std "
        "over ", Num(cfg["seeds"]), " seeds (none kept: no seed where both nets converged)."],
        ["setting", "scale", "method", "n max", f"NTK n={w[0]}", "NTK n max", f"muP n={w[0]}", "muP n max"], rows,
        align="lrlrrrrr"),
        Table("repro-c3-mup-movement", [
            "The defining property behind the row: feature movement ~ c n^-r, fitted rate r per configuration and "
            "whether its ratio from width 128 to 1024 meets the bar (NTK falls by ", Num(fl_section.NTK_RATIO_MAX),
            ", muP stays within ", Num(fl_section.MUP_RATIO_MIN), ")."],
            ["setting", "param.", "scale", "method", "r", "interval of r", "meets bar"], fits, align="llrlrrl"),
        Table("repro-c3-mup-limit", [
            "A width limit: ||f_a - f_b|| / ||f_b|| between nets of widths a, b trained from one configuration and "
            "seed, at 128-256 and at the widest pair trained, mean ± std over seeds; closer: the widest pair's "
            "functions are closer than 128-256's."],
            ["setting", "param.", "scale", "method", "128-256", "widest pair", "distance", "closer"], limit_rows,
            align="llrlrlrl"),
        Para([*ctx.record_info(s), "."], style="item")]
    return verdicts.c3_mup(pairs), blocks


def c5_mup(ctx) -> tuple[verdicts.Verdict, list]:
    """Digits accuracy under muP at the widest width and the largest target scale: MTL, best GBML, no transfer."""
    s = ctx.read(fl_section.EXPERIMENT)
    if s is None:
        return verdicts.c5_mup([]), []
    cfg = s.config
    scale = max(cfg["scales"])
    rows, inputs = [], []
    for f in (f for f in cfg["settings"] if f.startswith("digits")):
        for par in cfg["parameterizations"]:
            top = {m: r[-1] for m in cfg["methods"] + ["no-transfer"]
                   if (r := s.rows("scores", setting=f, parameterization=par, scale=scale, method=m))}
            acc = {m: r.accuracy.mean for m, r in top.items() if r.accuracy}
            gbml = [m for m in cfg["methods"] if m != "mtl-shared" and m in acc]
            if "mtl-shared" not in acc or not gbml or "no-transfer" not in acc:
                continue
            best = max(gbml, key=acc.get)
            rows.append([f, fl_section.PAR_NAME[par], stat_num(top["mtl-shared"].accuracy),
                         [parse(best).display, " ", stat_num(top[best].accuracy)], stat_num(top["no-transfer"].accuracy),
                         stat_num(top["mtl-shared"].probe) if top["mtl-shared"].probe else "-",
                         stat_num(top["no-transfer"].probe) if top["no-transfer"].probe else "-"])
            if par == "mup":
                inputs.append((f, acc["mtl-shared"], acc[best], acc["no-transfer"]))
    blocks = [Table("repro-c5-mup", [
        "Digits, target scale ", Num(scale), ", each method at the widest width it was trained at: test accuracy "
        "with the inner loop (MTL, the best GBML method, no transfer) and the authors' probe on the trained body "
        "(MTL) and on the initial body (no transfer); mean ± std over ", Num(cfg["seeds"]), " seeds. The verdict "
        "reads the muP rows; the NTK rows are the kernel regime beside them."],
        ["setting", "param.", "MTL", "best GBML", "no transfer", "probe MTL", "probe none"], rows,
        align="llrrrrr"), Para([*ctx.record_info(s), "."], style="item")] if rows else []
    return verdicts.c5_mup(inputs), blocks


def hanin_nica(ctx) -> tuple[verdicts.Verdict, list]:
    """The NTK's fluctuation against Hanin & Nica's 5, and the exponent a = 1/2 it implies beside C3b's fits."""
    s = ctx.read("ntk-fluctuation")
    if s is None:
        return verdicts.hanin_nica(None), []
    f = s.fits
    blocks = [Table("repro-hn", ["Fitted k of y = k L/n over ", Num(f["ratio"].n), " points with L/n ≤ ",
                                 Num(s.result.beta_max), " (", Num(s.config.get("n_nets")), " nets each; ",
                                 Num(round(100 * f["ratio"].level)), "% bootstrap interval over nets)."],
                    ["measure", "k", "interval", "reference"],
                    [[hn_section.NAMES[k], Num(f[k].k), [Num(f[k].lo), ", ", Num(f[k].hi)],
                      ["exact ", Num(s.result.head_exact_k)] if k == "head" else "5 (Hanin & Nica)"]
                     for k in ("ratio", "log_var", "head")], align="lrrl")]
    fc = ctx.read(fc_section.EXPERIMENT)
    if fc is not None:
        fits = [(lab, fc.fit(lab)) for lab, _ in fc.labels]
        fits = [(lab, x) for lab, x in fits if x is not None and x.ok]
        if fits:
            blocks.append(Para(["A relative variance linear in L/n makes the NTK's fluctuation, and the errors it "
                                "drives, scale like (L/n)^a with a = 1/2 whatever k is; C3b's fitted a: ",
                                *[x for lab, ft in fits for x in (Code(lab), " ", Num(ft.a), " [", Num(ft.a_lo), ", ",
                                                                  Num(ft.a_hi), "]; ")][:-1],
                                " (1/2 inside: ", ", ".join(lab for lab, ft in fits if ft.a_lo <= 0.5 <= ft.a_hi)
                                or "none", ")."], style="item"))
    blocks.append(Para([*ctx.record_info(s), "."], style="item"))
    return verdicts.hanin_nica((f["ratio"].k, f["ratio"].lo, f["ratio"].hi), (f["head"].k, f["head"].lo, f["head"].hi),
                               s.result.head_exact_k), blocks


CLAIM_FUNCS = {"C1": (c1, ("check --only formulation",), None), "C2": (c2, ("width", "check --only meta_ntk"), "width"),
               "C3": (c3, ("closeness", "ablate"), "closeness"), "C3a": (c3a, ("closeness",), None),
               "C3b": (c3b, ("finite-closeness",), "finite_closeness"),
               "C3b-fresh": (c3b_fresh, ("finite-closeness",), None), "C3c": (c3c, ("closeness",), None),
               "C3c-finite": (c3c_finite, ("finite-closeness",), None),
               "C3-dist": (c3_distribution, ("distribution",), "distribution"),
               "C4": (c4, ("cost",), "cost"),
               "C5": (c5, ("accuracy",), "accuracy"),
               "C3-digits": (c3_digits, ("closeness --family digits",), "digits"),
               "C5-digits": (c5_digits, ("accuracy --family digits",), "digits"),
               "C3-conv": (c3_conv, ("conv",), "conv"), "C5-conv": (c5_conv, ("conv",), None),
               "C3-muP": (c3_mup, ("feature-learning",), "feature_learning"),
               "C5-muP": (c5_mup, ("feature-learning",), None),
               "HN": (hanin_nica, ("ntk-fluctuation",), "ntk_fluctuation")}


def verdict_all(ctx) -> dict:
    """``{claim: (Verdict, blocks)}`` for C1–C5 (C3 also split: C3a ANIL vs MTL, the theorem's scope; C3b the
    same at finite width; C3c MAML/FOMAML vs MTL, the extension)."""
    return {claim: func(ctx) for claim, (func, _, _) in CLAIM_FUNCS.items()}


def write(ctx, built, repro: Path, md_path: Path, command: str) -> None:
    """Write ``paper_repro.md`` to ``repro`` (atomically), linking the appendix at ``md_path``."""
    repro = Path(repro)
    appendix_link = os.path.relpath(md_path, repro.parent)
    keys = [s.key for s in built]
    checks_anchor = f"{keys.index('checks') + 1}-numerical-proof-checks" if "checks" in keys else ""
    results = verdict_all(ctx)
    lines = ["# Paper reproduction report", "",
             f"> Generated by `{command}` from the records under `{ctx.root}` — do not edit; rerun the command. "
             f"Every number is read from a results record or the proofs_checks JSON; verdicts follow the rules in "
             f"`ntk_bridge/appendix/verdicts.py`.", "",
             f"Paper: {PAPER}. Full tables: [the appendix]({appendix_link}); numerical proofs: "
             f"[proofs_checks table]({appendix_link}#{checks_anchor}).", "",
             "| claim | verdict | reason |", "|---|---|---|"]
    for claim, (v, _) in results.items():
        lines.append(f"| {claim} | **{v.status}** | {v.reason.replace('|', '/')} |")
    lines.append("")
    for claim, (v, blocks) in results.items():
        _, cmds, fig_key = CLAIM_FUNCS[claim]
        cmd_text = ", ".join(f"`ntk-bridge {c}`" if c.startswith("check") else f"`{ctx.command(c)}`" for c in cmds)
        lines += [f"## {claim}", "", f"**Paper:** {CLAIMS[claim]}", "",
                  f"**Reproduce:** {cmd_text}, then `{ctx.command('figures')}` and `{command}`.", ""]
        if fig_key is not None:
            lines += ["**Figures:** " + md(_fig_links(ctx, fig_key, md_path, repro)), ""]
        lines += ["**Measured:**", ""]
        lines += [md_block(b).rstrip("\n") + "\n" for b in blocks] if blocks else ["nothing stored yet.", ""]
        lines += [_verdict_line(v), ""]
    atomic.write_text(repro, "\n".join(lines))
