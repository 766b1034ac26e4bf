"""Figure: the (L, n) surface of trained finite nets against the closed forms (claim C3 at finite width)."""
from __future__ import annotations

import numpy as np

from ..methods import parse
from . import common

EXPERIMENT = "finite-closeness"
SECTION = "finite_closeness"
CAPTION = ("Claim C3 at finite width. Top: gap between trained ANIL and MTL nets of one initialization against "
           "depth, one curve per width, beside the infinite-width gap, for the trained-head protocol and the "
           "paper's fresh-head protocol (one training per net, read under both heads). Middle: the same for "
           "trained second-order MAML and FOMAML nets (trained head). Bottom: error of trained MTL nets to their "
           "closed form over (L, n), and the width the fitted law err ~ c (L/n)^a requires for err <= 0.1 and "
           "0.05 at each depth")


def gap_curves(ax, s, lab: str) -> None:
    """Trained ``lab``-vs-MTL gap against depth, one curve per width, beside the closed forms' gap (log-log)."""
    for n, ls in zip(s.widths, ("-", "--", ":", "-.", (0, (5, 1)), (0, (1, 3)))):
        common.errorbar(ax, s.depths, [s.gap(lab, L, n) for L in s.depths], f"trained nets, n={n}",
                        color=common.color(parse(lab).name), ls=ls)
    depths = [L for L in s.depths if any(s.ran(lab, n, L) for n in s.widths)]
    inf = [(L, v) for L in depths if (v := s.gap(lab, L)) is not None]
    if inf and all(v > 1e-9 for _, v in inf):
        ax.plot(*zip(*inf), color="k", lw=1.5, marker="s", ms=3, label="infinite width (closed forms)")
    elif inf:  # the fresh-head protocol: both closed forms are the no-transfer baseline (theory.md §6)
        ax.plot([], [], " ", label="infinite width: gap 0 (both = no-transfer baseline)")   # in the legend, not under it
    common.loglog(ax, "depth L", f"rel. gap {parse(lab).display.split(' (')[0]} vs MTL on test queries")
    ax.legend(fontsize=7)
    f = s.gap_fit(lab)
    title = f"{parse(lab).display} vs MTL"
    if f is not None and f.ok:
        title += f"\ngap ~ c_L n^-b: b = {f.b:.2f} [{f.b_lo:.2f}, {f.b_hi:.2f}]"
    ax.set_title(title, fontsize=9)


def required_width_panel(ax, s, labels) -> None:
    """Per depth, the width the fitted law ``err ~ c (L/n)^a`` requires for each target error; where no
    method's law gives one (no fit, or an exponent interval reaching 0), the panel says why per method."""
    why = []
    for lab in labels:
        fit = s.fit(lab)
        if fit is None or not fit.ok:
            why.append(f"{parse(lab).display}: no fit (too few kept runs)")
            continue
        color = common.color(parse(lab).name)
        drawn = False
        for eps, ls in zip(s.targets, ("-", "--", ":")):
            pts = [(L, w) for L, w in zip(s.depths, s.required_width(lab, eps)) if w is not None]
            if pts:
                drawn = True
                ax.plot(*zip(*pts), color=color, ls=ls, marker="o", ms=3,
                        label=f"{parse(lab).display}, err ≤ {eps}: a = {fit.a:.2f} [{fit.a_lo:.2f}, {fit.a_hi:.2f}]")
        if not drawn:
            why.append(f"{parse(lab).display}: a = {fit.a:.2f}, interval [{fit.a_lo:.2f}, {fit.a_hi:.2f}] "
                       f"reaches 0 (no established fall with n/L)")
    ax.set_title("Width for err ≤ eps from err ~ c (L/n)^a (grey: widths run)")
    if not ax.lines:
        ax.text(0.5, 0.5, "No required width can be extrapolated:\n" + "\n".join(why), ha="center", va="center",
                transform=ax.transAxes, fontsize=8, color="0.3", wrap=True)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    for n in s.widths:
        ax.axhline(n, color="0.6", lw=0.6)
    common.loglog(ax, "depth L", "required width n (fitted law)")
    ax.legend(fontsize=6.5)
    if why:
        ax.text(0.02, 0.02, "not drawn: " + "; ".join(why), transform=ax.transAxes, fontsize=6.5, color="0.3")


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT)
    fig, axes = common.plt.subplots(3, 2, figsize=(11, 12.5))
    panels = [("trained", "anil", "same"), ("fresh", "anil", "same"), ("trained", "maml", "same"),
              ("trained", "fomaml", "same")]
    for ax, (prot, algo, split) in zip(axes[:2].ravel(), panels):
        labs = [lab for lab, p in s.labels if p == prot and parse(lab).algo == algo and parse(lab).split == split]
        if not labs:
            ax.text(0.5, 0.5, f"{algo.upper()} ({split}), {prot} test head: not in this sweep",
                    ha="center", va="center", transform=ax.transAxes, fontsize=9, color="0.3")
            ax.set_axis_off()
            continue
        gap_curves(ax, s, labs[0])
    ax = axes[2, 0]
    mtl = next((lab for lab, p in s.labels if p == "trained" and lab.startswith("mtl")), s.labels[0][0])
    grid = np.full((len(s.depths), len(s.widths)), np.nan)
    for i, L in enumerate(s.depths):
        for j, n in enumerate(s.widths):
            c = s.cell(mtl, L, n)
            if c is not None and c.err is not None:
                grid[i, j] = c.err.mean
    im = ax.imshow(grid, origin="lower", cmap="viridis", aspect="auto")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            txt = "excl." if np.isnan(grid[i, j]) else f"{grid[i, j]:.2f}"
            ax.text(j, i, txt, ha="center", va="center", fontsize=8,
                    color="k" if np.isnan(grid[i, j]) or grid[i, j] >= np.nanmean(grid) else "w")
    ax.grid(False)
    ax.set_xticks(range(len(s.widths)), [str(n) for n in s.widths])
    ax.set_yticks(range(len(s.depths)), [str(L) for L in s.depths])
    ax.set_xlabel("width n")
    ax.set_ylabel("depth L")
    ax.set_title(f"{parse(mtl).display}: ||f_trained - f_∞|| / ||f_∞||")
    fig.colorbar(im, ax=ax)
    anil = [lab for lab, prot in s.labels if prot == "trained" and parse(lab).algo == "anil"
            and parse(lab).split == "same"]
    required_width_panel(axes[2, 1], s, [mtl] + anil)
    cfg = s.config
    left_out = f"\n{len(s.excluded)} runs left out (unconverged, left the kernel regime, or not computable)" \
        if s.excluded else ""
    fig.suptitle(f"Finite closeness ({cfg['tasks']['family']}, {cfg['tasks']['n_train']} training tasks, "
                 f"lr={cfg['lr']}, steps={cfg['steps']}); mean ± sd over {cfg['seeds']} initializations{left_out}",
                 fontsize=9)
    return common.save(fig, out_dir, "finite_closeness", s)


if __name__ == "__main__":
    common.cli(main, CAPTION)
