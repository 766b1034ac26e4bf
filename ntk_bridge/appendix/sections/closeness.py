"""Section "Closeness": the gap between MTL and GBML against depth (experiment ``closeness``, claim C3)."""
from __future__ import annotations

from ...experiments.closeness import ALGOS, GAPS, ClosenessSummary
from ...methods import Method
from ..context import Context, fit_cells, stat_num
from ..verdicts import C3_USEFUL_RULE, USEFUL_KEYS
from ..render import Code, Math, Num, Para, Section, Table

TITLE = "Closeness of MTL and GBML vs depth"
GAP_NAMES = {"rel_gap": "rel. gap", "normalized_gap": "norm. gap"}
GAP_SHORT = {"rel_gap": "rel.", "normalized_gap": "norm."}


def name(algo: str, split: str) -> str:
    """The display name of GBML ``algo`` on ``split`` (``"ANIL (same)"``)."""
    return Method.gbml(algo, split).display


def c3_inputs(s: ClosenessSummary) -> dict:
    """Inputs of ``..verdicts.c3``, per algorithm on split ``"same"``: gaps at the shallowest and deepest
    depth, lower ends of the rates' intervals, whether the gaps fall at every depth step."""
    if "same" not in s.splits:
        return {}
    i0, i1 = s.depths.index(min(s.depths)), s.depths.index(max(s.depths))
    out = {}
    for algo in ALGOS:
        rel, norm = s.gap("same", algo, "rel_gap"), s.gap("same", algo, "normalized_gap")
        if rel[i0] is None or rel[i1] is None:
            continue
        fr, fn = s.fit("same", algo, "rel_gap"), s.fit("same", algo, "normalized_gap")
        out[algo] = {"rel_first": rel[i0].mean, "rel_last": rel[i1].mean,
                     "norm_first": norm[i0].mean if norm[i0] else None,
                     "norm_last": norm[i1].mean if norm[i1] else None,
                     "rel_r_lo": fr.r_lo if fr and fr.ok else None, "norm_r_lo": fn.r_lo if fn and fn.ok else None,
                     "rel_monotone": bool(fr and fr.monotone), "norm_monotone": bool(fn and fn.monotone),
                     **_useful_inputs(s, algo, i1)}
    return out


def _useful_inputs(s: ClosenessSummary, algo: str, i: int) -> dict:
    """The non-vacuity inputs (``verdicts.USEFUL_KEYS``): test MSEs at depth index ``i`` (``None``: not stored)."""
    key = f"{algo}-same"
    if key not in s.result.mse:
        return {}
    vals = [s.mse(key)[i], s.mse("mtl")[i], s.mse("no_transfer")[i]]
    return {k: None if v is None else v.mean for k, v in zip(USEFUL_KEYS, vals)}


def build(ctx: Context) -> Section:
    blocks = [Para(["Gaps between the GBML prediction ", Math("a"), " and the MTL prediction ", Math("b"),
                    " (shared heads) on the queries of unseen test tasks: ", Math(r"\|a-b\|/\|b\|"),
                    " (rel. gap) and ", Math(r"\|a-b\|/\|b-c\|"), " (norm. gap), ", Math("c"),
                    " the no-transfer baseline. Split ", Code("same"),
                    " is the theorem's setting (GBML adapts and scores on the same data); ", Code("disjoint"),
                    " (adapt on support, score on query) is the practical ablation."])]
    s = ctx.read("closeness")
    if s is None:
        return Section("closeness", TITLE, blocks + [ctx.missing("closeness")])
    cfg = s.config
    t = cfg["tasks"]
    blocks.append(Para(["Family ", Code(t["family"]), ", ", Num(t["n_train"]), " training and ", Num(t["n_test"]),
                        " test tasks of ", Num(t["n_support"]), " support and ", Num(t["n_query"]),
                        " query points; inner loop ", Math(r"\mathrm{lr}"), " = ", Num(s.lr), ", ",
                        Num(s.steps), " steps; infinite width; mean ", Math(r"\pm"), " std over ",
                        Num(cfg.get("seeds")), " task-sampling seeds. ", *ctx.record_info(s), "."]))
    for split in s.splits:
        rows = [[Num(L), *[stat_num(s.gap(split, algo, gap)[i]) for algo in ALGOS for gap in GAPS],
                 stat_num(s.transfer[i])] for i, L in enumerate(s.depths)]
        blocks.append(Table(f"closeness-{split}", ["Gap GBML vs MTL against depth ", Math("L"), ", split ",
                                                   Code(split), ". Transfer: ", Math(r"\|c-b\|/\|b\|"),
                                                   ", how far MTL is from no transfer."],
                            ["L", *[f"{name(algo, split)} {GAP_SHORT[gap]}" for algo in ALGOS for gap in GAPS],
                             "transfer"], rows))
    rows = [[name(algo, split), GAP_NAMES[gap], *fit_cells(s.fit(split, algo, gap))]
            for split in s.splits for algo in ALGOS for gap in GAPS if s.fit(split, algo, gap) is not None]
    blocks.append(Table("closeness-fit", ["Fitted rate ", Math(r"\mathrm{gap} \approx c\,L^{-r}"),
                                          " (least squares in log-log) with its bootstrap interval over seeds (level ",
                                          Num(s.fit_level), ")."],
                        ["method", "gap", "r", "interval of r", "c", "depths"], rows, align="llrrrl"))
    blocks += _non_vacuity(s)
    blocks += _lr_steps(s)
    blocks += _finite(s)
    return Section("closeness", TITLE, blocks + ctx.figures_for("closeness"))


def _non_vacuity(s: ClosenessSummary) -> list:
    """Per depth: the test MSE of each predictor beside no transfer and the zero predictor, and the effective
    rank of the normalized NTK on the test points: is the closeness between useful predictors?"""
    keys = ["mtl", *[f"{a}-{sp}" for sp in s.splits for a in ALGOS], "no_transfer", "zero"]
    heads = ["MTL", *[name(a, sp) for sp in s.splits for a in ALGOS], "no transfer", "zero"]
    rows = [[Num(L), *[stat_num(s.mse(k)[i]) for k in keys], stat_num(s.effective_rank[i])]
            for i, L in enumerate(s.depths)]
    n_points = s.config["tasks"]["n_test"] * (s.config["tasks"]["n_support"] + s.config["tasks"]["n_query"])
    return [Table("closeness-useful", ["Non-vacuity: test MSE on the unseen tasks' queries against depth (mean ",
                                       Math(r"\pm"), " std over seeds) of each predictor, of no transfer and of "
                                       "the zero predictor, and the effective rank (entropy of the spectrum) of "
                                       "the normalized NTK on the test tasks' ", Num(n_points), " points. The C3 "
                                       "verdicts count closeness only when it is ", C3_USEFUL_RULE.split(": ", 1)[0],
                                       " (", C3_USEFUL_RULE.split(": ", 1)[1], ")."],
                  ["L", *heads, "eff. rank"], rows, align="r" * (len(heads) + 2))]


def _lr_steps(s: ClosenessSummary) -> list:
    rows = []
    for algo in ALGOS:
        sweep = s.lr_steps.get(algo)
        if sweep is None:
            continue
        fits = [("lr*steps", sweep.fit)] + ([("lr*steps*(L+1)", sweep.fit_scaled)] if algo == "maml" else [])
        for xname, f in fits:
            if f is None:
                continue
            if not f.ok:
                rows.append([name(algo, "same"), xname, f.error, "-", "-", "-", Num(f.n)])
            else:
                rows.append([name(algo, "same"), xname, Num(f.a), Num(f.b), Num(f.c), Num(f.r2), Num(f.n)])
    if not rows:
        return []
    depths = sorted({d for sweep in s.lr_steps.values() for d in sweep.depths})
    return [Table("closeness-lr-steps", ["Least-squares fit ", Math(r"\mathrm{gap} = a\,x + b/L + c"),
                                         " of the rel. gap (split ", Code("same"), ", mean over seeds) on the ",
                                         Math(r"(\mathrm{lr}, \mathrm{steps})"), " grid at depths ",
                                         ", ".join(str(d) for d in depths), "; ", Math("x"),
                                         " = lr*steps, or lr*steps*(L+1) for MAML, whose inner kernel ",
                                         Math(r"\Theta"), " is ", Math("L+1"), " times the head's."],
                  ["method", "x", "a", "b", "c", Math("R^2", "R²"), "points"], rows, align="llrrrrr")]


def _finite(s: ClosenessSummary) -> list:
    if not s.finite:
        return []
    rows = [[Num(p.depth), Num(p.width), Num(p.seed), Code(p.split), Num(p.rel_gap), Num(p.rel_gap_infinite),
             Num(p.err_to_infinite.get("mtl-shared")), Num(p.err_to_infinite.get("anil")),
             "yes" if p.converged else "no"] for p in s.finite]
    return [Table("closeness-finite", ["Finite width (centered nets, trained): rel. gap ANIL vs MTL "
                                       "of the trained nets beside the infinite-width gap, and each "
                                       "net's relative error to its infinite-width prediction."],
                  ["L", "width", "seed", "split", "rel. gap", "rel. gap (inf.)", "MTL err.", "ANIL err.",
                   "converged"], rows, align="rrrlrrrrl")]
