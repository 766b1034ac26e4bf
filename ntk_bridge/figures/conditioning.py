"""Figure: MSE of task-conditioned nets relative to independent nets vs task similarity (negative transfer)."""
from __future__ import annotations

from . import common

EXPERIMENT = "conditioning"
SECTION = "conditioning"
CAPTION = ("Query MSE of jointly trained task-conditioned nets (infinite width) over that of one independent net "
           "per task, against task similarity: above 1 sharing hurts (negative transfer); crossings of 1 marked "
           "with their bootstrap interval over seeds. Left: the architectures; middle: concat's task_scale; "
           "right: loss weights uniform over tasks or proportional to data (with ridge > 0); last panel (where "
           "recorded): trained finite nets (ratio of trained nets to trained independent nets) beside the closed forms")


def _panel(ax, curves, title, styles=None):
    ax.axhline(1.0, color="0.3", lw=1.0, ls="--", zorder=1)
    for i, c in enumerate(curves):
        kw = dict(color=f"C{i}")
        if styles:
            kw.update(styles(i, c))
        dx = 0.005 * (i - (len(curves) - 1) / 2)   # small offsets keep the error bars apart
        line = common.errorbar(ax, [x + dx for x in c.similarities], [r.ratio for r in c.rows], c.label, **kw)
        x = c.crossing
        if x.found and line is not None:
            col = line[0].get_color()
            ax.plot([x.similarity], [1.0], marker="v", ms=8, color=col, mec="k", mew=0.6, zorder=5, ls="none")
            if x.lo == x.lo and x.hi == x.hi:
                ax.plot([x.lo, x.hi], [1.0 - 0.012 * (i + 1)] * 2, color=col, lw=2.5, alpha=0.7, solid_capstyle="butt")
    ax.set_xlabel("task similarity s")
    ax.set_ylabel("MSE ratio to independent nets")
    ax.set_title(title)
    ax.legend(loc="lower left")


def _finite_panel(ax, s):
    """Trained finite nets' ratios (markers per width) over the closed-form curves of the main group."""
    ax.axhline(1.0, color="0.3", lw=1.0, ls="--", zorder=1)
    archs = list(dict.fromkeys(f.architecture for f in s.finite))
    widths = sorted({f.width for f in s.finite})
    main = {c.architecture: c for c in s.group("main")}
    markers = "sD^v<>"
    for i, a in enumerate(archs):
        if a in main:
            c = main[a]
            ax.plot(c.similarities, [r.ratio.mean for r in c.rows], color=f"C{i}", lw=1.2, alpha=0.7,
                    label=f"{a}, infinite width")
        for j, w in enumerate(widths):
            f = next((f for f in s.finite if f.architecture == a and f.width == w), None)
            if f is None:
                continue
            dx = 0.008 * (j + 1) * (1 if i % 2 else -1)
            common.errorbar(ax, [x + dx for x in f.similarities], [r.ratio for r in f.rows], None, color=f"C{i}",
                            marker=markers[j % len(markers)], mfc="white", ls="none")
    for j, w in enumerate(widths):   # one legend entry per width, in neutral grey
        ax.plot([], [], marker=markers[j % len(markers)], mfc="white", color="0.3", ls="none",
                label=f"trained, width {w} (mean ± sd over seeds)")
    ax.set_xlabel("task similarity s")
    ax.set_ylabel("MSE ratio to independent nets")
    ax.set_title("Trained finite nets (open markers) vs closed form")
    ax.legend(loc="lower left", fontsize=7)


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT)
    cfg = s.config
    groups = [g for g in ("main", "task_scale", "weighting") if s.group(g)]
    n_panels = len(groups) + bool(s.finite)
    fig, axes = common.plt.subplots(1, n_panels, figsize=(5.2 * n_panels, 4.3), squeeze=False)
    titles = {"main": f"Architectures (task_scale {cfg['task_scale']:g}, ridge {cfg['ridge']:g})",
              "task_scale": f"Concat: task_scale c (ridge {cfg['ridge']:g})",
              "weighting": f"Loss weighting (ridge {cfg['weighting_ridge']:g})"}
    for ax, g in zip(axes[0], groups):
        curves = s.group(g)
        styles = None
        if g == "weighting":
            archs = list(dict.fromkeys(c.architecture for c in curves))
            styles = lambda i, c: dict(color=f"C{archs.index(c.architecture)}",  # noqa: E731
                                       ls="-" if c.weighting == "uniform" else ":",
                                       marker="o" if c.weighting == "uniform" else "s")
        _panel(ax, curves, titles[g], styles)
    if s.finite:
        _finite_panel(axes[0][-1], s)
    sizes = ", ".join(str(n) for n in cfg["support_sizes"])
    fig.suptitle(f"Transfer vs task similarity: {len(cfg['support_sizes'])} shared-feature tasks with supports "
                 f"{sizes}, depth {cfg['depth']}; mean ± sd over {cfg['seeds']} seeds; ▼ where the mean crosses 1, "
                 f"bar: {round(100 * s.curves[0].crossing.level)}% bootstrap interval")
    return common.save(fig, out_dir, "conditioning", s)


if __name__ == "__main__":
    common.cli(main, CAPTION)
