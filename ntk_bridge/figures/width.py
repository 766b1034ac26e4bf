"""Figure: trained finite nets approach the closed forms as width grows (claim C2), and the finite-width gap."""
from __future__ import annotations

import numpy as np

from ..methods import parse
from . import common

EXPERIMENT = "width"
SECTION = "width"
CAPTION = ("Claim C2. Relative error of trained centered finite nets to their closed-form infinite-width predictors "
           "against width, with fitted rates (theory n^-1/2), and the gap between trained GBML and MTL nets "
           "beside the infinite-width gap")


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT)
    widths = s.widths
    fig, (ax1, ax2) = common.plt.subplots(1, 2, figsize=(11, 4.3))
    styles = ("-", "--", ":")
    for L, ls in zip(s.depths, styles):
        for m in s.methods:
            label, color = parse(m, split=s.config.get("split")).display, common.color(m)
            common.errorbar(ax1, widths, s.err(L, m), f"{label}, L={L}", color=color, ls="none")
            common.power_law(ax1, s.fit(L, m), widths, f"{label}, L={L}", var="n", color=color, ls=ls)
            gap = s.gap_to_mtl(L, m)
            if gap is not None:
                common.errorbar(ax2, widths, gap.finite, f"{label} vs MTL, trained nets, L={L}", color=color, ls=ls)
                if gap.infinite is not None:
                    ax2.axhline(gap.infinite, color=color, ls=ls, lw=0.8, alpha=0.7)
                    ax2.annotate(f"infinite width, L={L}", (widths[-1], gap.infinite), textcoords="offset points",
                                 xytext=(0, 4), ha="right", fontsize=7, color=color)
    first = next((e for L in s.depths for m in s.methods for e in s.err(L, m)[:1] if e is not None), None)
    if first is not None:
        n_ref = np.array([widths[0], widths[-1]], dtype=float)
        ax1.plot(n_ref, first.mean * (n_ref / n_ref[0]) ** -0.5, color="0.5", lw=2, alpha=0.4,
                 label="reference slope $n^{-1/2}$")
    common.loglog(ax1, "width n (hidden units per layer)", "||f_n - f_∞|| / ||f_∞|| on test queries")
    ax1.set_title("Trained centered nets vs closed form")
    ax1.legend(loc="upper right", fontsize=6.5)
    common.loglog(ax2, "width n (hidden units per layer)", "relative gap GBML vs MTL")
    ax2.set_title("Gap between trained nets (lines: infinite-width gap)")
    ax2.legend(loc="upper right", fontsize=6.5)
    cfg = s.config
    left_out = f"; {len(s.excluded)} runs left out (not converged or not computable)" if s.excluded else ""
    fig.suptitle(f"Finite width ({cfg['tasks']['family']}, {cfg['tasks']['n_train']} training tasks, "
                 f"split={cfg['split']}, lr={cfg['lr']}, steps={cfg['steps']}); mean ± sd over {cfg['seeds']} "
                 f"initializations{left_out}")
    return common.save(fig, out_dir, "width", s)


if __name__ == "__main__":
    common.cli(main, CAPTION)
