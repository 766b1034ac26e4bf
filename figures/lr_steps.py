"""Figure: the gap against the inner loop's lr*steps at several depths, with the fit a*lr*steps + b/L + c."""
from __future__ import annotations

import numpy as np

from . import common


def main(results_dir, out_dir):
    rec = common.summary(results_dir, "closeness")
    res = rec["result"]
    fig, axes = common.plt.subplots(1, 2, figsize=(11, 4.4), squeeze=False)
    for ax, algo in zip(axes[0], ("anil", "maml")):
        block = res[f"lr_steps/{algo}"]
        rows, fit = block["rows"], block["fit"]
        depths = sorted({r["depth"] for r in rows})
        cmap = common.plt.get_cmap("viridis")
        for i, L in enumerate(depths):
            color = cmap(i / max(len(depths) - 1, 1))
            pts = sorted((r["lr_steps"], r["gap"]) for r in rows if r["depth"] == L)
            x, y = np.array(pts).T
            ax.plot(x, y, "o", color=color, ms=4, label=f"L = {L}")
            if "a" in fit:
                xx = np.geomspace(x.min(), x.max(), 40)
                ax.plot(xx, fit["a"] * xx + fit["b"] / L + fit["c"], "--", color=color, lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("lr × steps of the inner loop")
        ax.set_ylabel("relative gap GBML vs MTL (split = same)")
        kernel = "Σ (head only)" if algo == "anil" else "Θ (all parameters)"
        title = f"{algo.upper()}, inner kernel {kernel}"
        if "a" in fit:
            title += (f"\ndashed: gap ≈ {fit['a']:.3g}·lr·steps + {fit['b']:.3g}/L + {fit['c']:.3g}"
                      f"\nR² = {fit['r2']:.3f} over n = {fit['n']} (depth, lr, steps) points")
            scaled = block["fit_scaled"]
            if algo == "maml" and "r2" in scaled:
                title += f"; with lr·steps·(L+1): R² = {scaled['r2']:.3f}"
        ax.set_title(title, fontsize=8.5)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="depth")
    return common.save(fig, out_dir, "lr_steps", rec)


if __name__ == "__main__":
    common.cli(main, __doc__)
