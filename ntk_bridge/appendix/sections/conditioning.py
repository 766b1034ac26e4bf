"""Section "Conditioning": negative transfer of task-conditioned nets vs similarity (experiment ``conditioning``)."""
from __future__ import annotations

from ..context import Context
from ..render import Code, Math, Num, Para, Section, Table

TITLE = "Task conditioning: where sharing starts to hurt"
EXPERIMENT = "conditioning"
GROUP_NAMES = {"main": "architectures", "task_scale": "concat task_scale", "weighting": "loss weighting"}


def crossing_cells(x) -> list:
    """``[crossing similarity, interval, resamples without a crossing]`` of a ``Crossing``."""
    if not x.found:
        return [x.describe(), "-", Num(x.boot_none_frac)]
    interval = [Num(x.lo), ", ", Num(x.hi)] if x.lo == x.lo and x.hi == x.hi else "-"
    return [Num(x.similarity), interval, Num(x.boot_none_frac)]


def build(ctx: Context) -> Section:
    blocks = [Para(["Each task-conditioned architecture (", Code("ntk_bridge.conditioning"), ") is trained jointly "
                    "to convergence on all tasks, in the kernel regime, and compared with one independent net per task "
                    "on the same tasks; tasks have unequal data. The ratio of their mean query MSEs is above 1 where "
                    "sharing hurts (negative transfer). The crossing is the similarity ", Math("s"), " where the mean "
                    "ratio over seeds crosses 1 (linear interpolation between grid points; the last crossing if there "
                    "are several), with a percentile bootstrap interval over seeds. Loss weights uniform over tasks "
                    "and proportional to data give the same converged net without ridge, so they are compared at a "
                    "positive ridge. Where the record has a finite-width arm, trained finite nets of each "
                    "architecture are set beside the closed forms."])]
    s = ctx.read(EXPERIMENT)
    if s is None:
        return Section("conditioning", TITLE, blocks + [ctx.missing(EXPERIMENT)])
    cfg = s.config
    level = s.curves[0].crossing.level if s.curves else None
    rows = [[GROUP_NAMES.get(c.group, c.group), c.architecture, Num(c.task_scale), c.weighting, Num(c.ridge),
             *crossing_cells(c.crossing)] for c in s.curves]
    blocks.append(Table("conditioning-crossing",
                        ["Similarity where the MSE ratio to independent nets crosses 1 (",
                         Num(len(cfg["support_sizes"])),
                         " shared-feature tasks with support sizes ", ", ".join(str(n) for n in cfg["support_sizes"]),
                         ", ", Num(cfg["n_query"]), " query points each, input dimension ", Num(cfg["dim"]), ", depth ",
                         Num(cfg["depth"]), "; ", Num(cfg["seeds"]), " seeds; interval: percentile bootstrap over seeds",
                         " at level ", Num(level), ", ",
                         Num(cfg["n_boot"]), " resamples; last column: share of resamples without a crossing)."],
                        ["curves", "architecture", "task scale", "weights", "ridge", "crossing s", "interval",
                         "no crossing"], rows, align="llrlrrrr"))
    main = s.group("main")
    if main:
        sims = main[0].similarities
        rows = [[c.architecture, *[Num(r.ratio.mean, r.ratio.std, r.ratio.n) for r in c.rows]] for c in main]
        blocks.append(Table("conditioning-ratio",
                            ["MSE ratio to independent nets (mean ", Math(r"\pm"), " std over seeds) at task_scale ",
                             Num(cfg["task_scale"]), ", ridge ", Num(cfg["ridge"]), ", uniform weights."],
                            ["architecture", *[["s = ", Num(x)] for x in sims]], rows))
    if s.finite:
        rows = [[f.architecture, Num(f.width), Num(r.similarity), Num(r.ratio.mean, r.ratio.std, r.ratio.n),
                 Num(r.ratio_closed_form.mean, r.ratio_closed_form.std, r.ratio_closed_form.n),
                 Num(r.rel_err.mean, r.rel_err.std, r.rel_err.n),
                 Num(r.rel_err_independent.mean, r.rel_err_independent.std, r.rel_err_independent.n),
                 Num(r.left_kernel_regime), Num(r.not_converged)] for f in s.finite for r in f.rows]
        blocks.append(Table("conditioning-finite",
                            ["Finite width: centered nets of each architecture and one independent net per task, "
                             "trained jointly on the same tasks by kernel-regime gradient descent to convergence (",
                             Code("ntk_bridge.finite.conditioned"), "); MSE ratio of the trained nets to trained "
                             "independent nets (paired by seed), beside the closed forms' ratio on the same seeds; "
                             "relative error of the trained predictions to the closed form; runs (architecture and "
                             "independent) that left the kernel regime or did not converge."],
                            ["architecture", "width", "s", "ratio (trained)", "ratio (closed form)",
                             "error to closed form", "error, independent", "left regime", "not converged"],
                            rows, align="lrrrrrrrr"))
    blocks.append(Para(ctx.record_info(s)))
    return Section("conditioning", TITLE, blocks + ctx.figures_for("conditioning"))
