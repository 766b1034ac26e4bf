"""Figure: the head's share Sigma/Theta of the NTK vs depth, and the flattening of the deep NTK."""
from __future__ import annotations

from . import common

EXPERIMENT = "kernel-share"
SECTION = "kernels"
CAPTION = ("The head's share Σ/Θ of the infinite-width NTK against depth (theory 1/(L+1) on the diagonal), "
           "and the flattening of the deep NTK toward a constant off the diagonal")


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT)
    rows = s.rows
    depths = s.depths
    fig, (ax1, ax2) = common.plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(depths, [r.theory_diag_share for r in rows], "-", color="0.6", lw=3, alpha=0.6,
             label="theory 1/(L+1)")
    common.errorbar(ax1, depths, [r.diag_share for r in rows], "diagonal Σ(x,x)/Θ(x,x)", color="C0", ls="none")
    common.errorbar(ax1, depths, [r.offdiag_share for r in rows], "off-diagonal Σ(x,x')/Θ(x,x') (ratio of sums)",
                    color="C1", ls="none", marker="s")
    common.power_law(ax1, s.fits.get("offdiag_share"), depths, "off-diagonal", color="C1")
    common.loglog(ax1, "depth L (hidden layers)", "head's share of the NTK")
    ax1.set_title("Head share of the NTK (inputs on the unit sphere)")
    ax1.legend(loc="lower left")
    common.errorbar(ax2, depths, [r.ntk_corr_std for r in rows], "sd over pairs of Θ(x,x')/√(Θ(x,x)Θ(x',x'))",
                    color="C3", ls="none")
    common.power_law(ax2, s.fits.get("ntk_corr_std"), depths, "spread", color="C3")
    common.loglog(ax2, "depth L (hidden layers)", "spread of the normalized NTK (x ≠ x')")
    ax2.set_title("Deep NTKs flatten toward a constant off the diagonal")
    ax2.legend(loc="lower left")
    cfg = s.config
    fig.suptitle(f"Infinite-width ReLU kernels, {cfg['n_points']} points in dimension {cfg['dim']}, "
                 f"mean ± sd over {cfg['seeds']} draws")
    return common.save(fig, out_dir, "kernel_share", s)


if __name__ == "__main__":
    common.cli(main, CAPTION)
