"""Figure: trained finite nets approach the closed forms as width grows (claim C2), and the finite-width gap."""
from __future__ import annotations

import numpy as np

from . import common

LABEL = {"mtl-shared": "MTL (shared heads)", "anil": "ANIL", "maml": "MAML"}


def main(results_dir, out_dir):
    rec = common.summary(results_dir, "width")
    res, cfg = rec["result"], rec["config"]
    widths = res["widths"]
    fig, (ax1, ax2) = common.plt.subplots(1, 2, figsize=(11, 4.3))
    styles = ("-", "--", ":")
    for L, ls in zip(res["depths"], styles):
        for m in res["methods"]:
            color = common.COLORS[m]
            common.errorbar(ax1, widths, res[f"{L}/{m}/err"], f"{LABEL[m]}, L={L}", color=color, ls="none")
            common.power_law(ax1, res[f"{L}/{m}/fit"], widths, f"{LABEL[m]}, L={L}", var="n", color=color, ls=ls)
            gap = res.get(f"{L}/{m}/gap_to_mtl")
            if gap:
                common.errorbar(ax2, widths, gap["finite"], f"{LABEL[m]} vs MTL, trained nets, L={L}", color=color,
                                ls=ls)
                ax2.axhline(gap["infinite"], color=color, ls=ls, lw=0.8, alpha=0.7)
                ax2.annotate(f"infinite width, L={L}", (widths[-1], gap["infinite"]), textcoords="offset points",
                             xytext=(0, 4), ha="right", fontsize=7, color=color)
    n_ref = np.array([widths[0], widths[-1]], dtype=float)
    first = res[f"{res['depths'][0]}/{res['methods'][0]}/err"][0]["mean"]
    ax1.plot(n_ref, first * (n_ref / n_ref[0]) ** -0.5, color="0.5", lw=2, alpha=0.4, label="reference slope $n^{-1/2}$")
    common.loglog(ax1, "width n (hidden units per layer)", "||f_n - f_∞|| / ||f_∞|| on test queries")
    ax1.set_title("Trained centered nets vs closed form")
    ax1.legend(loc="upper right", fontsize=6.5)
    common.loglog(ax2, "width n (hidden units per layer)", "relative gap GBML vs MTL")
    ax2.set_title("Gap between trained nets (lines: infinite-width gap)")
    ax2.legend(loc="upper right", fontsize=6.5)
    fig.suptitle(f"Finite width ({cfg['tasks']['family']}, {cfg['tasks']['n_train']} training tasks, "
                 f"split={cfg['split']}, lr={cfg['lr']}, steps={cfg['steps']}); mean ± sd over {cfg['seeds']} "
                 f"initializations")
    return common.save(fig, out_dir, "width", rec)


if __name__ == "__main__":
    common.cli(main, __doc__)
