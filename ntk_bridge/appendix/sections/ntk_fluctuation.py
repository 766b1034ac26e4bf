"""Section "NTK fluctuation": the NTK's diagonal over initializations against Hanin & Nica (experiment ``ntk-fluctuation``)."""
from __future__ import annotations

from ...experiments.ntk_fluctuation import HANIN_NICA, MEASURES, SMALL_BETA
from ..context import Context
from ..render import Math, Num, Para, Section, Table

TITLE = "NTK fluctuation at finite width: Hanin & Nica's constant"
NAMES = {"ratio": "log E[Θ^2]/E[Θ]^2 (whole diagonal)", "log_var": "Var log Θ (whole diagonal)",
         "head": "log E[Θ^2]/E[Θ]^2 (head's part)"}


def build(ctx: Context) -> Section:
    blocks = [Para(["Hanin & Nica (ICLR 2020) find for bias-free He-initialized ReLU nets ",
                    Math(r"\mathbb E[\Theta(x,x)^2]/\mathbb E[\Theta(x,x)]^2 \simeq e^{5\beta}"), ", ",
                    Math(r"\beta = \sum_l 1/n_l = L/n"), ", up to universal constants. Here ", Math(r"\Theta(x,x)"),
                    " is measured over independent initializations per (L, n) (one backward pass per net), and each "
                    "measure is fitted through the origin, ", Math(r"y = k\beta"), ", over the points with ",
                    Math(r"\beta \le \beta_{\max}"), ". The head's part ", Math(r"\|h_L\|^2/n"),
                    " has the exact value ", Math(r"L\log(1+5/n)"), " (theory §10): its fit calibrates the "
                    "estimator. The whole diagonal sums layers whose forward and backward fluctuations are "
                    "independent apart from the shared ReLU pattern; at small ", Math(r"\beta"),
                    " and many layers that predicts ", Math(r"k \approx 1 + 4\cdot\tfrac23 = 11/3"),
                    " (a heuristic, theory §10), and the 5 only as ", Math(r"\beta"), " grows."])]
    s = ctx.read("ntk-fluctuation")
    if s is None:
        return Section("ntk_fluctuation", TITLE, blocks + [ctx.missing("ntk-fluctuation")])
    fits = s.fits
    blocks.append(Table("ntk-fluctuation-fits", ["Fitted k of y = kβ (", Num(fits['ratio'].n), " points with β ≤ ",
                                                 Num(s.result.beta_max), "; ", Num(round(100 * fits['ratio'].level)),
                                                 "% bootstrap interval over nets), beside Hanin & Nica's 5."],
                        ["measure", "k", "interval", "reference"],
                        [[NAMES[k], Num(fits[k].k), [Num(fits[k].lo), ", ", Num(fits[k].hi)],
                          ["exact ", Num(s.result.head_exact_k)] if k == "head"
                          else ["5 (Hanin & Nica); ", Num(SMALL_BETA), " (small β)"]] for k in MEASURES],
                        align="lrrl"))
    by = s.result.by_depth
    if by:
        blocks.append(Table("ntk-fluctuation-depth", ["The same fits per depth, over that depth's widths (the "
                                                      "constant's dependence on L; the small-β heuristic is for "
                                                      "many layers)."],
                            ["L", *[NAMES[k] for k in MEASURES]],
                            [[Num(L), *[[Num(f[k].k), " [", Num(f[k].lo), ", ", Num(f[k].hi), "]"] for k in MEASURES]]
                             for L, f in sorted(by.items())], align="r" + "r" * len(MEASURES)))
    rows = [[Num(r.depth), Num(r.width), Num(r.beta), Num(r.n_nets), Num(r.mean), Num(r.kernel),
             *[Num(r.measures[k].value / r.beta) for k in MEASURES], Num(r.head_exact / r.beta),
             "yes" if r.beta <= s.result.beta_max else "no"] for r in s.rows]
    blocks.append(Table("ntk-fluctuation", ["Per (L, n): the mean of Θ(x,x) beside the infinite-width kernel (equal "
                                            "in expectation), and each measure divided by β (Hanin & Nica: 5)."],
                        ["L", "n", "β", "nets", "mean Θ", "Θ∞", "ratio / β", "Var log / β", "head / β", "exact head / β",
                         "fitted"], rows, align="rrrrrrrrrrl"))
    blocks.append(Para(["Largest |mean − Θ∞| over points: ", Num(s.mean_z()), " standard errors. ",
                        *ctx.record_info(s), "."], style="item"))
    return Section("ntk_fluctuation", TITLE, blocks + ctx.figures_for("ntk_fluctuation"))
