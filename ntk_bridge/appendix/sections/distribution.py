"""Section "Over initializations": the predictive distribution of uncentered nets (experiment ``distribution``)."""
from __future__ import annotations

from ...methods import parse
from ..context import Context, fit_cells, stat_num
from ..render import Math, Num, Para, Section, Table

TITLE = "Over initializations: the predictive distribution of uncentered nets"
EXPERIMENT = "distribution"


def build(ctx: Context) -> Section:
    blocks = [Para(["Nets trained as in practice start from a random function ", Math("f_0"), ", at infinite width a "
                    "Gaussian process with the output NNGP covariance. Every closed form is affine in it, ",
                    Math(r"\hat y = \mu + M f_0(P)"), " (theory §9: a linearized net trained from ", Math("f_0"),
                    " on labels ", Math("Y"), " is a centered one trained on ", Math("Y - f_0"), "), so each "
                    "method's test prediction is Gaussian with mean ", Math(r"\mu"), " (the closed form) and "
                    "covariance ", Math(r"M K_P M^\top"), ", and two methods from one initialization differ by ",
                    Math(r"\mathbb E\|\Delta\|^2 = \|\mu_a - \mu_b\|^2 + \mathrm{tr}((M_a - M_b) K_P (M_a - M_b)^\top)"),
                    " per output. Ensembles of uncentered trained nets check the computation."])]
    s = ctx.read(EXPERIMENT)
    if s is None:
        return Section("distribution", TITLE, blocks + [ctx.missing(EXPERIMENT)])
    cfg = s.config
    blocks.append(Table("distribution-gaps", [
        "E||Δ||² between two methods from one initialization, summed over the test tasks (infinite width): its "
        "mean part ||μa − μb||², its variance part, and the variance part's share."],
        ["pair", "L", "E||Δ||²", "mean part", "variance part", "variance share"],
        [[f"{parse(b).display} vs {parse(a).display}", Num(L), Num(g.total), Num(g.mean_part), Num(g.var_part),
          Num(g.var_part / g.total if g.total else float("nan"))]
         for (a, b, L), g in sorted(s.result.gaps.items(), key=lambda kv: (kv[0][:2], kv[0][2]))], align="lrrrrr"))
    rows = []
    for (a, b, n), st in sorted(s.result.finite_gaps.items()):
        inf = s.gap(a, b, cfg["depth"])
        rows.append([f"{parse(b).display} vs {parse(a).display}", Num(n), stat_num(st) if st else "excluded",
                     "-" if inf is None else Num(inf.total)])
    if rows:
        blocks.append(Table("distribution-finite-gaps", [
            "Trained uncentered nets of one seed (one initial function) at L = ", Num(cfg["depth"]), ": ||Δ||² "
            "summed over the test tasks, mean ± std over the kept seeds, beside the infinite-width E||Δ||²."],
            ["pair", "n", "trained nets", "E||Δ||² (∞)"], rows, align="lrrr"))
    rows = [[parse(m).display, Num(n), Num(e.n), Num(e.excluded), "-" if e.mean_err is None else Num(e.mean_err),
             "-" if e.mean_sampling is None else Num(e.mean_sampling), "-" if e.cov_err is None else Num(e.cov_err),
             "-" if e.cov_sampling is None else Num(e.cov_sampling)]
            for (m, n), e in s.result.ensembles.items()]
    blocks.append(Table("distribution-ensembles", [
        "Ensembles of ", Num(cfg["n_nets"]), " uncentered nets per method and width (L = ", Num(cfg["depth"]),
        "; runs that left the kernel regime or did not converge excluded): relative error of the sample mean and "
        "of the per-task sample covariance to the closed form, beside the error sampling alone gives (root mean "
        "square, same number of nets)."],
        ["method", "n", "kept", "excluded", "mean err", "sampling", "cov err", "sampling"], rows,
        align="lrrrrrrr"))
    rows = [[parse(m).display, what, *fit_cells(getattr(f, what))] for m, f in s.result.width_fits.items()
            for what in ("mean", "cov")]
    if rows:
        blocks.append(Table("distribution-width-fits", [
            "The ensembles' errors against width fitted as err ~ c n^-r (least squares in log-log; 90% interval: "
            "each width's nets resampled with replacement). The errors hold the sampling error of ",
            Num(cfg["n_nets"]), " nets, which does not fall with width, so r is a lower estimate of the "
            "finite-width rate."],
            ["method", "error", "r", "90% interval", "c", "widths"], rows, align="llrrrl"))
    blocks.append(Para([*ctx.record_info(s), "."], style="item"))
    return Section("distribution", TITLE, blocks + ctx.figures_for("distribution"))
