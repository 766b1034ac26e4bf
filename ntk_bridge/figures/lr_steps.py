"""Figure: the gap against the inner loop's lr*steps at several depths, with the fit a*lr*steps + b/L + c."""
from __future__ import annotations

import numpy as np

from ..methods import Method
from . import common

EXPERIMENT = "closeness"
SECTION = "closeness"
CAPTION = ("The relative gap between GBML and MTL (split same) against the inner loop's lr × steps at several "
           "depths, with the least-squares fit gap ≈ a·lr·steps + b/L + c (dashed)")


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT)
    algos = [a for a in ("anil", "maml") if a in s.lr_steps]
    if not algos:
        raise common.MissingResults(f"the closeness summary under {results_dir} has no lr_steps grid")
    fig, axes = common.plt.subplots(1, len(algos), figsize=(5.5 * len(algos), 4.4), squeeze=False)
    for ax, algo in zip(axes[0], algos):
        sweep = s.lr_steps[algo]
        fit = sweep.fit
        cmap = common.plt.get_cmap("viridis")
        for i, L in enumerate(sweep.depths):
            color = cmap(i / max(len(sweep.depths) - 1, 1))
            x, y = np.array(sorted((p.lr_steps, p.gap) for p in sweep.points if p.depth == L)).T
            ax.plot(x, y, "o", color=color, ms=4, label=f"L = {L}")
            if fit is not None and fit.ok:
                xx = np.geomspace(x.min(), x.max(), 40)
                ax.plot(xx, fit.a * xx + fit.b / L + fit.c, "--", color=color, lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("lr × steps of the inner loop")
        ax.set_ylabel("relative gap GBML vs MTL (split = same)")
        kernel = "Σ (head only)" if algo == "anil" else "Θ (all parameters)"
        title = f"{Method.gbml(algo, 'same').display}, inner kernel {kernel}"
        if fit is not None and fit.ok:
            title += (f"\ndashed: gap ≈ {fit.a:.3g}·lr·steps + {fit.b:.3g}/L + {fit.c:.3g}"
                      f"\nR² = {fit.r2:.3f} over n = {fit.n} (depth, lr, steps) points")
            scaled = sweep.fit_scaled
            if algo == "maml" and scaled is not None and scaled.ok:
                title += f"; with lr·steps·(L+1): R² = {scaled.r2:.3f}"
        ax.set_title(title, fontsize=8.5)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="depth")
    return common.save(fig, out_dir, "lr_steps", s)


if __name__ == "__main__":
    common.cli(main, CAPTION)
