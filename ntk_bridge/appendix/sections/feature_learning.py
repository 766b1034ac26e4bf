"""Section "Beyond the kernel regime": trained nets under the NTK and the maximal-update parameterization
(experiment ``feature-learning``)."""
from __future__ import annotations

from ...methods import parse
from ..context import Context, fit_cells, stat_num
from ..render import Code, Math, Num, Para, Section, Table

TITLE = "Beyond the kernel regime: the maximal-update parameterization"
EXPERIMENT = "feature-learning"
PAR_NAME = {"ntk": "NTK", "mup": "muP", "standard": "standard"}
# The bar for the defining property: the fitted movement ratio from width 128 to 1024, (1024/128)^-r.
NTK_RATIO_MAX, MUP_RATIO_MIN = 0.55, 0.7


def curves(s):
    """``(setting, parameterization, scale, method)`` of every trained curve, in the config's order."""
    cfg = s.config
    return [(f, par, sc, m) for f in cfg["settings"] for par in cfg["parameterizations"] for sc in cfg["scales"]
            for m in cfg["methods"]]


def ratio(fit) -> float | None:
    """The fitted movement ratio from width 128 to 1024, ``8^-r`` (``None``: no fit)."""
    return None if fit is None or not fit.ok else 8.0 ** -fit.r


def movement_check(par: str, fit) -> str:
    """Whether a fitted ratio meets the bar of its parameterization (NTK: falls by 0.55; muP: stays within 0.7)."""
    q = ratio(fit)
    if q is None:
        return "-"
    if par == "ntk":
        return "yes" if q <= NTK_RATIO_MAX else "no"
    if par == "mup":
        return "yes" if MUP_RATIO_MIN <= q <= 1 / MUP_RATIO_MIN else "no"
    return "-"


def fit_table(s) -> Table:
    rows = [[f, PAR_NAME[par], Num(sc), parse(m).display, *fit_cells(s.fit(f, par, sc, m))[:3],
             Num(ratio(s.fit(f, par, sc, m))) if ratio(s.fit(f, par, sc, m)) is not None else "-",
             movement_check(par, s.fit(f, par, sc, m))] for f, par, sc, m in curves(s)]
    return Table("feature-learning-fits", [
        "Feature movement ", Math(r"\|\phi_T - \phi_0\| / \|\phi_0\|"), " against width, fitted as ",
        Math(r"c\,n^{-r}"), " (least squares in log-log, bootstrap interval over seeds), and the fitted ratio from "
        "width 128 to 1024, ", Math("8^{-r}"), ". Bar: the NTK parameterization falls by at least ",
        Num(NTK_RATIO_MAX), ", muP stays within a factor ", Num(MUP_RATIO_MIN), "."],
        ["setting", "param.", "scale", "method", "r", "interval of r", "c", "ratio 128→1024", "meets bar"], rows,
        align="llrlrrrrl", long=True)


def per_width(s, label: str, what: str, kind: str, cell, methods=None, settings=None) -> Table:
    """One row per curve, one column per width: ``cell(row)`` of the rows of ``kind``."""
    cfg = s.config
    widths = cfg["widths"]
    rows = []
    for f, par, sc, m in curves(s) + [(f, par, sc, "no-transfer") for f in cfg["settings"]
                                      for par in cfg["parameterizations"] for sc in cfg["scales"]]:
        if (methods is not None and m not in methods) or (settings is not None and f not in settings):
            continue
        found = {r.width: r for r in s.rows(kind, setting=f, parameterization=par, scale=sc, method=m)}
        if found:
            rows.append([f, PAR_NAME[par], Num(sc), parse(m).display,
                         *[cell(found[n]) if n in found else "-" for n in widths]])
    return Table(label, what, ["setting", "param.", "scale", "method", *[f"n={n}" for n in widths]], rows,
                 align="llrl" + "r" * len(widths), long=True)


def limit_table(s) -> Table:
    cfg = s.config
    pairs = list(zip(cfg["widths"][:-1], cfg["widths"][1:]))
    rows = []
    for f, par, sc, m in curves(s):
        found = {(r.a, r.b): r.distance for r in s.rows("limits", setting=f, parameterization=par, scale=sc,
                                                        method=m)}
        rows.append([f, PAR_NAME[par], Num(sc), parse(m).display,
                     *[stat_num(found[p]) if found.get(p) else "-" for p in pairs]])
    return Table("feature-learning-limit", [
        "Towards a width limit: ", Math(r"\|f_a - f_b\| / \|f_b\|"), " between the test predictions of nets of "
        "consecutive widths a, b trained from one configuration and seed, mean ± std over seeds."],
        ["setting", "param.", "scale", "method", *[f"{a}-{b}" for a, b in pairs]], rows,
        align="llrl" + "r" * len(pairs), long=True)


def excluded(s) -> list:
    out = [n for n in s.result.nets if n.excluded is not None]
    if not out:
        return [Para(["Every net converged (and none under the NTK parameterization left the kernel regime): none "
                      "is kept out."], style="item")]
    rows = [[n.setting, PAR_NAME[n.parameterization], Num(n.scale), parse(n.method).display, Num(n.width),
             Num(n.seed), n.excluded] for n in out]
    return [Table("feature-learning-excluded", ["Nets kept out of the statistics and fits, and why."],
                  ["setting", "param.", "scale", "method", "width", "seed", "why"], rows, align="llrlrrl",
                  long=True)]


def build(ctx: Context) -> Section:
    blocks = [Para([
        "The closed forms describe the lazy regime of the NTK parameterization, where the hidden features of a "
        "wide net do not move. ", Code("nb.MLPSpec(parameterization=...)"), " also builds finite nets in the "
        "maximal-update parameterization (muP, Yang & Hu's abc form with ", Math("a = (-1/2, 0, \\ldots, 1/2)"),
        ", ", Math("b = 1/2"), ", ", Math("c = 0"), "; the ", Code("mup"), " package's SGD scalings) and the "
        "standard one. At initialization muP has the same hidden features and the same empirical NTK as the NTK "
        "parameterization (tested); its head starts ", Math("n^{-1/2}"), " smaller and its input and hidden layers "
        "learn ", Math("n"), " times faster, so their features move by an amount that does not vanish with width. "
        "Every net is centered, trained with the kernel-regime schedule (step ", Math(r"1/\lambda_{\max}"),
        " of its own NTK) to convergence, and adapted on each test support. The knob from lazy to rich is the "
        "targets' scale (training on ", Math("sY"), "): the learning rate is not one, since gradient descent to "
        "convergence at a step within the edge ends near the same net whatever the step (measured: feature "
        "movement 0.281, 0.281, 0.310 at 0.25, 1, 1.9 times the step under NTK; 2.93 at all three under muP). "
        "Under muP leaving the kernel regime is the point: only convergence decides which nets count."])]
    s = ctx.read(EXPERIMENT)
    if s is None:
        return Section("feature_learning", TITLE, blocks + [ctx.missing(EXPERIMENT)])
    cfg = s.config
    blocks.append(Para(["Settings: ", ", ".join(cfg["settings"]), " (", Num(cfg["n_tasks"]), " training and test "
                        "tasks each); depth ", Num(cfg["depth"]), ", widths ", ", ".join(str(n) for n in cfg["widths"]),
                        ", ", Num(cfg["seeds"]), " seeds (initializations), target scales ",
                        ", ".join(f"{x:g}" for x in cfg["scales"]), "; inner loop ", Math(r"\tau"), " = ",
                        Num(cfg["tau"]), " over ", Num(cfg["steps"]), " steps; up to ", Num(cfg["outer_steps"]),
                        " outer steps to ", Num(cfg["tol"]), " of the initial loss; width caps ",
                        ", ".join(f"{m} <= {n}" for m, n in cfg["max_widths"]) or "none", ". ",
                        *ctx.record_info(s), "."]))
    blocks.append(fit_table(s))
    blocks.append(per_width(s, "feature-learning-kernel", [
        "Relative movement of the empirical NTK of the test net on the first test points, ",
        Math(r"\|\Theta_T - \Theta_0\|_F / \|\Theta_0\|_F"), ", mean ± std over seeds."], "scores",
        lambda r: stat_num(r.kernel_movement) if r.kernel_movement else "-", methods=cfg["methods"]))
    blocks.append(per_width(s, "feature-learning-gaps", [
        "Relative gap ", Math(r"\|f_\mathrm{GBML} - f_\mathrm{MTL}\| / \|f_\mathrm{MTL}\|"), " between nets "
        "trained from one initialization, on the test queries, mean ± std over seeds."], "gaps",
        lambda r: stat_num(r.gap) if r.gap else "-"))
    blocks.append(limit_table(s))
    digits = [f for f in cfg["settings"] if f.startswith("digits")]
    if digits:
        blocks.append(per_width(s, "feature-learning-accuracy", [
            "Digits: test accuracy with the test-time inner loop, mean ± std over seeds (no transfer: the inner "
            "loop from the initial net)."], "scores", lambda r: stat_num(r.accuracy) if r.accuracy else "-",
            settings=digits))
        blocks.append(per_width(s, "feature-learning-probe", [
            "Digits: query accuracy of the authors' logistic probe (C = ", Num(cfg["probe_C"]), ") on the trained "
            "body's features (no transfer: the initial body)."], "scores",
            lambda r: stat_num(r.probe) if r.probe else "-", settings=digits))
    if "shared-feature" in cfg["settings"]:
        blocks.append(per_width(s, "feature-learning-mse", [
            "Shared-feature tasks: test MSE with the test-time inner loop, mean ± std over seeds."], "scores",
            lambda r: stat_num(r.mse) if r.mse else "-", settings=("shared-feature",)))
    blocks += excluded(s)
    return Section("feature_learning", TITLE, blocks + ctx.figures_for("feature_learning"))
