"""Section "Real images": every experiment that takes a task family, on scikit-learn's 8x8 digits.

Reads the selected summaries on digits (``selection.on_digits``) of closeness, accuracy,
kernel share, ablations and finite closeness; each part that was not run says which command
produces it.
"""
from __future__ import annotations

from ...experiments.closeness import ALGOS, GAPS
from ..context import Context, fit_cells, stat_num
from ..render import Code, Math, Num, Para, Section, Table
from .accuracy import family_table, probe_rows
from .closeness import GAP_NAMES, GAP_SHORT, name

TITLE = "Real images: scikit-learn's digits"
EXPERIMENTS = ("closeness", "accuracy", "kernel-share", "ablate", "finite-closeness")


def _missing(ctx: Context, experiment: str) -> Para:
    # an optional part of this section (not the "missing" style: the experiment itself may have run)
    return Para([f"Not run on digits: no {experiment} summary on digits under ", Code(str(ctx.root / experiment)),
                 "; run ", Code(ctx.command(experiment) + " --family digits"), "."], style="item")


def closeness_blocks(ctx: Context) -> list:
    s = ctx.read("closeness", digits=True)
    if s is None:
        return [_missing(ctx, "closeness")]
    t = s.config["tasks"]
    opts = dict(t.get("options") or [])
    blocks = [Para(["Closeness (C3) on digits: ", Num(opts.get("n_way", 5)), "-way ", Num(t["n_support"]),
                    "-shot episodes, ", Num(t["n_query"]), " queries per class, ", Num(t["n_train"]),
                    " training tasks (classes 0-4) and ", Num(t["n_test"]), " test tasks (classes 5-9), labels ",
                    Code(str(opts.get("labels", "permuted"))), "; inner loop lr = ", Num(s.lr), ", ", Num(s.steps),
                    " steps; infinite width; mean ", Math(r"\pm"), " std over ", Num(s.config.get("seeds")),
                    " seeds. The fresh-head test protocol (the paper's) gives identical infinite-width "
                    "predictors for every method (theory.md §6): its gap is a finite-width quantity, measured "
                    "under finite closeness below. ", *ctx.record_info(s), "."])]
    for split in s.splits:
        rows = [[Num(L), *[stat_num(s.gap(split, algo, gap)[i]) for algo in ALGOS for gap in GAPS]]
                for i, L in enumerate(s.depths)]
        blocks.append(Table(f"digits-closeness-{split}", ["Digits: gap GBML vs MTL against depth, split ",
                                                          Code(split), "."],
                            ["L", *[f"{name(algo, split)} {GAP_SHORT[gap]}" for algo in ALGOS for gap in GAPS]],
                            rows))
    rows = [[name(algo, split), GAP_NAMES[gap], *fit_cells(s.fit(split, algo, gap))]
            for split in s.splits for algo in ALGOS for gap in ("rel_gap",) if s.fit(split, algo, gap) is not None]
    blocks.append(Table("digits-closeness-fit", ["Digits: fitted rate ", Math(r"\mathrm{gap} \approx c\,L^{-r}"),
                                                 " with its bootstrap interval over seeds."],
                        ["method", "gap", "r", "interval of r", "c", "depths"], rows, align="llrrrl"))
    if s.finite:
        rows = [[Num(p.depth), Num(p.width), Code(p.split), Num(p.rel_gap), Num(p.rel_gap_infinite),
                 Num(p.err_to_infinite.get("mtl-shared")), Num(p.err_to_infinite.get("anil")),
                 "yes" if p.converged else "no"] for p in s.finite]
        blocks.append(Table("digits-closeness-finite", ["Digits at finite width (centered nets, trained, seed 0): "
                                                        "rel. gap of trained ANIL and MTL nets beside the closed "
                                                        "forms' gap, and each net's error to its closed form."],
                            ["L", "width", "split", "rel. gap", "rel. gap (inf.)", "MTL err.", "ANIL err.",
                             "converged"], rows, align="rrlrrrrl"))
    return blocks


def accuracy_blocks(ctx: Context) -> list:
    s = ctx.read("accuracy", digits=True)
    if s is None:
        return [_missing(ctx, "accuracy")]
    from ...experiments.accuracy import SETTINGS

    blocks = [Para(["Accuracy (C5) on digits, real data: ", ", ".join(
        f"{f} = {dict(SETTINGS[f][3]).get('n_way', 5)}-way {SETTINGS[f][1]}-shot, {SETTINGS[f][2]} queries per class"
        for f in s.families if f in SETTINGS), ". ", Code("digits-fixed"),
        " keeps one output per class and tests on the meta-train classes with unseen images (the fixed-label "
        "variant: class semantics can transfer); the others permute labels per episode and test on classes 5-9, "
        "so only an initial function transfers, which a new labelling sees as noise that a short inner loop "
        "does not undo, while a short fine-tuning from zero (no transfer) already ranks classes like a kernel "
        "classifier (the argmax is blind to scale). Mean ", Math(r"\pm"),
        " std over ", Num(s.config["seeds"]), " seeds (finite width: ", Num(s.config.get("finite_seeds")), "). ",
        *ctx.record_info(s), "."])]
    for fam in s.families:
        blocks.append(family_table(s, fam, f"digits-accuracy-{fam}", [
            "Digits setting ", Code(fam), ": test accuracy (higher is better). Within: MTL within the C5 margin "
            "of the best GBML; trained nets that did not converge or left the kernel regime are excluded."]))
    probes = probe_rows(s, s.methods)
    if probes:
        blocks.append(Para(["The authors' test-time procedure (", Code("nb.probe"), "): the body frozen, its "
                            "last-layer features L2-normalized, multinomial logistic regression with C = ",
                            Num(s.config.get("probe_C")), " fit on the support, accuracy on the query. At infinite "
                            "width no body moves in the kernel regime, so every method's probe is the same number "
                            "(the initial features' NNGP kernel); at finite width it reads how far training moved "
                            "the body. Unlike the inner loop, the probe starts from no head, so a permuted "
                            "labelling costs it nothing."]))
        blocks.append(Table("digits-probe", ["Digits: query accuracy of the logistic probe on each method's body."],
                            ["setting", "L", "width", *[m.display for m in s.methods]], probes,
                            align="lrr" + "r" * len(s.methods)))
    return blocks


def kernel_share_blocks(ctx: Context) -> list:
    s = ctx.read("kernel-share", digits=True)
    if s is None:
        return [_missing(ctx, "kernel-share")]
    rows = [[Num(r.depth), Num(r.theory_diag_share), stat_num(r.diag_share), Num(r.diag_share_max_dev),
             stat_num(r.offdiag_share), stat_num(r.ntk_corr_std)] for r in s.rows]
    fits = [[k, *fit_cells(f)] for k, f in s.fits.items()]
    return [Table("digits-kernel-share", ["Kernel share on ", Num(s.config["n_points"]), " digits images per seed: "
                                          "the head's share of the NTK on the diagonal (exactly 1/(L+1)) and off it, "
                                          "and the spread of the normalized NTK. ", *ctx.record_info(s), "."],
                  ["L", "1/(L+1)", "diag. share", "max dev.", "off-diag. share", "NTK corr. spread"], rows),
            Table("digits-kernel-share-fit", ["Digits: fits ", Math(r"c\,L^{-r}"), " of the off-diagonal share and "
                                              "of the spread."], ["quantity", "r", "interval of r", "c", "depths"],
                  fits, align="lrrrl")]


def ablate_blocks(ctx: Context) -> list:
    s = ctx.read("ablate", digits=True)
    if s is None:
        return [_missing(ctx, "ablate")]
    rows = []
    for ablation in s.ablations:
        for r in s.of(ablation):
            rows.append([ablation, Code(str(r.value)), Num(r.depth),
                         *[stat_num(r.gap(split, "anil")) if split in s.config["splits"] else "-"
                           for split in ("same", "disjoint")]])
    return [Table("digits-ablate", ["Ablations on digits: rel. gap ANIL vs MTL per setting. ", *ctx.record_info(s),
                                    "."], ["ablation", "value", "L", "ANIL (same)", "ANIL (disjoint)"], rows,
                  align="llrrr")]


def finite_closeness_blocks(ctx: Context) -> list:
    s = ctx.read("finite-closeness", digits=True)
    if s is None:
        return [_missing(ctx, "finite-closeness")]
    from .finite_closeness import anil_label

    rows = []
    for prot in ("trained", "fresh"):
        lab = anil_label(s, prot)
        if lab is None:
            continue
        for L in s.depths:
            inf = s.gap(lab, L)
            rows.append([prot, Num(L), *[stat_num(g) if (g := s.gap(lab, L, n)) else "excluded" for n in s.widths],
                         "-" if inf is None else Num(inf)])
    errs = []
    for lab, _ in s.labels:
        law = s.fit(lab)
        for L in s.depths:
            cells = [s.cell(lab, L, n) for n in s.widths]
            errs.append([Code(lab), Num(L), *["-" if c is None else stat_num(c.err) if c.err else "excluded"
                                              for c in cells],
                         ("-" if law is None or not law.ok else Num(law.a)) if L == s.depths[0] else ""])
    return [Table("digits-finite-closeness", ["Digits at finite width: rel. gap between trained ANIL and MTL nets of "
                                              "one initialization (mean ± std over seeds) and the closed forms' gap, "
                                              "per test-head protocol. ", *ctx.record_info(s), "."],
                  ["protocol", "L", *[f"n={n}" for n in s.widths], "infinite"], rows,
                  align="lr" + "r" * (len(s.widths) + 1)),
            Table("digits-finite-err", ["Digits: each trained net's relative distance to its own closed form "
                                        "(mean ± std over seeds; runs that did not converge or left the kernel regime "
                                        "excluded) and the fitted exponent ", Math(r"a"), " of ",
                                        Math(r"\mathrm{err} \approx c\,(L/n)^{a}"), " (", Math("a = 1/2"),
                                        ": the empirical NTK's fluctuation, theory.md §8)."],
                  ["method", "L", *[f"n={n}" for n in s.widths], "a"], errs, align="lr" + "r" * (len(s.widths) + 1))]


def build(ctx: Context) -> Section:
    blocks = [Para(["Every experiment that takes a task family, on real images: scikit-learn's bundled 8x8 "
                    "handwritten digits (1,797 images, ", Code("nb.tasks.digits"), "), mean image subtracted and "
                    "mapped to the unit sphere; meta-train classes 0-4, meta-test classes 5-9, no image repeated "
                    "within or across the tasks of a sweep point."])]
    for part in (closeness_blocks, accuracy_blocks, kernel_share_blocks, ablate_blocks, finite_closeness_blocks):
        blocks += part(ctx)
    return Section("digits", TITLE, blocks + ctx.figures_for("digits"))
