"""Section "Finite closeness": trained nets over depth and width against the closed forms (claim C3 at finite width)."""
from __future__ import annotations

from ...methods import parse
from ..context import Context, stat_num
from ..render import Code, Math, Num, Para, Section, Table

TITLE = "Finite closeness: where the closed forms stop describing trained nets"
EXPERIMENT = "finite-closeness"
THRESHOLD = 0.1  # "within": mean rel. gap between trained ANIL and MTL nets at most this


def cell_text(stat, ran: bool = True):
    """A Stat cell: its mean ± std, or why it is empty."""
    return stat_num(stat) if stat is not None else "excluded" if ran else "not run"


def anil_label(s, protocol: str = "trained", split: str = "same") -> str | None:
    """The ANIL label of ``protocol`` on ``split`` (else any split) in the summary, or ``None``."""
    labs = [lab for lab, p in s.labels if p == protocol and parse(lab).algo == "anil"]
    return next((lab for lab in labs if parse(lab).split == split), labs[0] if labs else None)


def main_labels(s) -> list:
    """The summary's MTL (shared heads) and ANIL (split "same") labels, both protocols: the theorem's pair."""
    return [lab for lab, _ in s.labels
            if (m := parse(lab)).name == "mtl-shared" or (m.name == "anil" and m.split == "same")]


def useful_table(s, label: str = "fc-useful") -> Table | None:
    """Non-vacuity per depth: test MSE of the trained nets at the largest width each was trained at, of the
    closed forms, of no transfer and of the zero predictor, and the effective rank of the normalized NTK."""
    if s.useful(s.depths[0]) is None:
        return None
    labs = main_labels(s)
    closed = [lab for lab in labs if parse(lab).test_head == "trained"]
    widest = {lab: max(n for n in s.widths if s.ran(lab, n)) for lab in labs}
    rows = []
    for L in s.depths:
        u = s.useful(L)
        trained = [cell_text(c.mse if (c := s.cell(lab, L, widest[lab])) is not None else None, s.ran(lab, widest[lab], L))
                   for lab in labs]
        rows.append([Num(L), *trained, *["-" if u.closed.get(lab) is None else Num(u.closed[lab]) for lab in closed],
                     Num(u.no_transfer), Num(u.zero), Num(u.effective_rank)])
    return Table(label, ["Non-vacuity: test MSE on the test tasks' queries of the trained nets (at the largest "
                         "width each was trained at, mean ± std over kept seeds), of the closed forms (",
                         Math(r"\infty"), "; under the fresh-head protocol it is no transfer's), of no transfer "
                         "and of the zero predictor, and the effective rank of the normalized NTK on the test "
                         "tasks' points. Closeness counts where the predictors still beat no transfer."],
                 ["L", *[f"{parse(lab).display} n={widest[lab]}" for lab in labs],
                  *[f"{parse(lab).display} ∞" for lab in closed], "no transfer", "zero", "eff. rank"], rows,
                 align="r" * (len(labs) + len(closed) + 4))


def build(ctx: Context) -> Section:
    blocks = [Para(["Centered nets trained with the kernel-regime schedule (step ", Math(r"1/\lambda_{\max}"),
                    " of the net's own (meta-)NTK, re-estimated during training, no momentum; a run whose loss "
                    "rose by more than 5% in one step is flagged and left out) against the closed form: ",
                    Math(r"\mathrm{err} = \|f - f_\infty\|/\|f_\infty\|"), ", split into the kernel fluctuation at "
                    "init (the linearized net, the closed form fed the net's empirical kernels) and the drift "
                    "(trained vs linearized net). Each net is trained once and read under both test-time protocols: "
                    "its trained head, and the seed's fresh random head (the paper's protocol, the same head for "
                    "every method), whose closed form is no transfer; there the error splits into the untrained "
                    "net's test-time loop against the closed form (fluctuation) and what of the body's training the "
                    "fresh head sees (seen, ", Math(r"\|f - f_0\|/\|f_\infty\|"), ", zero at infinite width)."])]
    s = ctx.read(EXPERIMENT)
    if s is None:
        return Section("finite_closeness", TITLE, blocks + [ctx.missing(EXPERIMENT)])
    cfg = s.config
    t = cfg["tasks"]
    blocks.append(Para(["Family ", Code(t["family"]), ", ", Num(t["n_train"]), " training and ", Num(t["n_test"]),
                        " test tasks, inner loop lr = ", Num(cfg["lr"]), ", ", Num(cfg["steps"]),
                        " steps; mean ± std over ", Num(cfg["seeds"]), " initializations (",
                        "; ".join(f"{parse(lab).display}: L {', '.join(map(str, g.depths))} x n "
                                  f"{', '.join(map(str, g.widths))} x {g.seeds} seeds"
                                  for lab, g in ((lab, s.grid(lab)) for lab, p in s.labels if p == "trained")
                                  if (g.depths, g.widths) != (s.depths, s.widths)) or "every method on every (L, n)",
                        "); schedule ",
                        Code(s.schedule), ". ", *ctx.record_info(s), "."]))
    rows = []
    for lab, prot in s.labels:
        for L in s.depths:
            for n in s.widths:
                c = s.cell(lab, L, n)
                if c is None:  # not run here (grids)
                    continue
                rows.append([parse(lab).display, Num(L), Num(n), cell_text(c.err),
                             "-" if c.fluctuation is None else stat_num(c.fluctuation),
                             "-" if c.drift is None else stat_num(c.drift),
                             "-" if c.seen is None else stat_num(c.seen),
                             *[cell_text(c.ensemble.get(M)) for M in s.ensembles], Num(c.excluded)])
    blocks.append(Table("fc-err", ["Error of trained nets to the closed form, its fluctuation and drift parts "
                                   "(fresh head: fluctuation and seen), and the error of ensembles of M nets (-: "
                                   "not trained at that depth); left out: runs excluded (unconverged, left the "
                                   "kernel regime)."],
                        ["method", "L", "n", "err", "fluctuation", "drift", "seen", *[f"M={M}" for M in s.ensembles],
                         "left out"], rows, align="lrr" + "r" * (5 + len(s.ensembles))))
    rows = []
    for lab, prot in s.labels:
        f = s.fit(lab)
        if f is None or not f.ok:
            continue
        req = [s.required_width(lab, eps) for eps in s.targets]
        rows.append([parse(lab).display, Num(f.a), [Num(f.a_lo), ", ", Num(f.a_hi)], Num(f.c),
                     *["; ".join(f"L={L}: {'-' if w is None else format(w, '.3g')}" for L, w in zip(s.depths, r))
                       for r in req]])
    if rows:
        blocks.append(Table("fc-fit", ["Fit err ~ c (L/n)^a over every (L, n) and seed (bootstrap interval of a), "
                                       "and the width it requires for err <= eps at each depth (-: the interval of a reaches 0, no established fall)."],
                            ["method", "a", "interval", "c", *[f"n for err<={eps}" for eps in s.targets]], rows,
                            align="lrrr" + "p{4cm}" * len(s.targets)))
    rows = []
    for lab, prot in s.labels:
        if parse(lab).kind != "gbml":
            continue
        for L in s.depths:
            if not any(s.ran(lab, n, L) for n in s.widths):
                continue
            inf = s.gap(lab, L)
            rows.append([parse(lab).display, Num(L), *[cell_text(s.gap(lab, L, n), s.ran(lab, n, L)) for n in s.widths],
                         "-" if inf is None else Num(inf)])
    if rows:
        blocks.append(Table("fc-gap", ["Rel. gap between trained GBML and MTL nets of one initialization (same "
                                       "seed, same test-head protocol), and the closed forms' gap."],
                            ["method", "L", *[f"n={n}" for n in s.widths], "infinite"], rows,
                            align="lr" + "r" * (len(s.widths) + 1)))
        fits = [(lab, f) for lab, _ in s.labels if (f := s.gap_fit(lab)) is not None and f.ok]
        if fits:
            blocks.append(Table("fc-gap-fit", ["Fresh head: fit gap ~ c_L n^-b of trained GBML vs MTL nets over the "
                                               "(L, n) both were trained at, one constant per depth (bootstrap "
                                               "interval of b over seeds). The closed forms' gap is 0 here: b is the "
                                               "width exponent of the theorem's eps (1/2 for width >= O(eps^-2))."],
                                ["method", "b", "interval", *[f"c (L={L})" for L in s.depths]],
                                [[parse(lab).display, Num(f.b), [Num(f.b_lo), ", ", Num(f.b_hi)],
                                  *["-" if L not in f.constants else Num(f.constants[L]) for L in s.depths]]
                                 for lab, f in fits], align="lrr" + "r" * len(s.depths)))
        for lab, prot in s.labels:
            if parse(lab).kind == "gbml":
                best = s.best_depth(lab)
                blocks.append(Para([parse(lab).display, ": depth of the smallest gap per width: ",
                                    "; ".join(f"n={n}: L={L}" for n, L in best.items()) or "none", "; within ",
                                    Num(THRESHOLD), " of MTL at (L, n) = ",
                                    ", ".join(f"({L}, {n})" for L, n in s.within(lab, THRESHOLD)) or "none measured",
                                    "."], style="item"))
    useful = useful_table(s)
    if useful is not None:
        blocks.append(useful)
    if s.excluded:
        blocks.append(Table("fc-excluded", ["Runs left out, and why."], ["method", "L", "n", "seed", "reason"],
                            [[parse(e.method).display, Num(e.depth), Num(e.width), Num(e.seed),
                              e.reason] for e in s.excluded], align="lrrrp{8cm}"))
    return Section("finite_closeness", TITLE, blocks + ctx.figures_for("finite_closeness"))
