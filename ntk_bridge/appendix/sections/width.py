"""Section "Width": trained finite nets against the closed forms as width grows (experiment ``width``, claim C2)."""
from __future__ import annotations

from ...methods import parse
from ..context import Context, stat_num
from ..render import Code, Math, Num, Para, Section, Table

TITLE = "Width: finite networks converge to the closed forms"


def label(s, method) -> str:
    """Display name of ``method`` in the width sweep (GBML on the sweep's split)."""
    return parse(method, split=s.config.get("split")).display


def fits(s) -> list[tuple]:
    """``(depth, method, PowerFit)`` of ``err ~ c width^-r`` for every depth and method that has a fit."""
    return [(L, m, f) for L in s.depths for m in s.methods if (f := s.fit(L, m)) is not None and f.ok]


def slopes(s) -> list[float]:
    """Fitted slopes ``-r`` (theory: ``-1/2``) of every depth and method."""
    return [-f.r for _, _, f in fits(s)]


def build(ctx: Context) -> Section:
    blocks = [Para(["Centered finite networks trained by gradient descent (MTL first order, GBML second order "
                    "through the inner loop) against the closed-form infinite-width predictors on the test queries: ",
                    Math(r"\mathrm{err} = \|f_n - f_\infty\|/\|f_\infty\|"), ", expected to fall like ",
                    Math(r"n^{-1/2}"), " with the width ", Math("n"), "."])]
    s = ctx.read("width")
    if s is None:
        return Section("width", TITLE, blocks + [ctx.missing("width")])
    cfg = s.config
    t = cfg["tasks"]
    widths = s.widths
    blocks.append(Para(["Family ", Code(t["family"]), ", ", Num(t["n_train"]), " training and ", Num(t["n_test"]),
                        " test tasks (one draw, task seed ", Num(cfg.get("task_seed")), "), split ",
                        Code(str(cfg.get("split"))), ", inner loop lr = ", Num(cfg.get("lr")), ", ",
                        Num(cfg.get("steps")), " steps, at most ", Num(cfg.get("outer_steps")),
                        " outer steps; mean ", Math(r"\pm"), " std over ", Num(cfg.get("seeds")),
                        " initialization seeds. ", *ctx.record_info(s), "."]))
    rows, notes = [], []
    for L in s.depths:
        for m in s.methods:
            ran = s.widths_for(m)
            f = s.fit(L, m)
            ok = f is not None and f.ok
            if ok and f.note:
                notes.append(f"L={L}, {label(s, m)}: {f.note}")
            rows.append([Num(L), label(s, m), *[cell(e, w in ran) for e, w in zip(s.err(L, m), widths)],
                         Num(-f.r) if ok else "-", [Num(-f.r_hi), ", ", Num(-f.r_lo)] if ok else "-",
                         "yes" if s.all_converged(L, m) else "no", Num(s.excluded_runs(L, m))])
    level = next((f.level for _, _, f in fits(s)), None)
    blocks.append(Table("width-err", ["Relative error of the trained finite net to the closed form against width, "
                                      "and the fitted slope of ", Math(r"\log \mathrm{err}"), " vs ",
                                      Math(r"\log n"), " (theory ", Math("-1/2"), ") with its bootstrap interval (level ",
                                      Num(level), "). Left out: runs that did not converge or could not be computed "
                                      "(excluded from errors and fits); -: width not run."],
                        ["L", "method", *[f"n={w}" for w in widths], "slope", "interval", "converged", "left out"],
                        rows, align="rl" + "r" * len(widths) + "rrlr"))
    if notes:
        blocks.append(Para(["Intervals not bootstrapped over seeds: ", "; ".join(notes), "."], style="item"))
    rows = [[Num(L), label(s, m), *[cell(x, w in s.widths_for(m)) for x, w in zip(g.finite, widths)],
             Num(g.infinite) if g.infinite is not None else "failed"]
            for L in s.depths for m in s.methods if (g := s.gap_to_mtl(L, m)) is not None]
    if rows:
        blocks.append(Table("width-gap", ["Rel. gap GBML vs MTL of the trained finite nets against width, beside "
                                          "the infinite-width gap of the closed forms."],
                            ["L", "method", *[f"n={w}" for w in widths], "infinite"], rows,
                            align="rl" + "r" * (len(widths) + 1)))
    if s.excluded:
        blocks.append(Table("width-excluded", ["Runs left out of the errors, fits and gaps, and why."],
                            ["L", "width", "method", "seed", "reason"],
                            [[Num(e.depth), Num(e.width), label(s, e.method), Num(e.seed), e.reason]
                             for e in s.excluded], align="rrlrp{8cm}"))
    return Section("width", TITLE, blocks + ctx.figures_for("width"))


def cell(stat, ran: bool):
    """An error cell: the stat (with the seeds left out), ``excluded`` if none counts, ``-`` if not run."""
    if not ran:
        return "-"
    if stat is None:
        return "excluded"
    return [stat_num(stat), f" ({stat.excluded} left out)"] if stat.excluded else stat_num(stat)
