"""Figure: the gap MTL vs ANIL / MAML on unseen tasks against depth (claim C3), both splits."""
from __future__ import annotations

from . import common

MARKERS = ("s", "^", "D", "v", "P")


def main(results_dir, out_dir):
    rec = common.summary(results_dir, "closeness")
    res, cfg = rec["result"], rec["config"]
    depths = res["depths"]
    splits = cfg["splits"]
    fig, axes = common.plt.subplots(1, len(splits), figsize=(5.2 * len(splits), 4.4), sharey=True, squeeze=False)
    for ax, split in zip(axes[0], splits):
        for algo in ("anil", "maml"):
            c = common.COLORS[algo]
            common.errorbar(ax, depths, res[f"{split}/{algo}/rel_gap"], f"{algo.upper()} vs MTL, relative gap", color=c)
            common.errorbar(ax, depths, res[f"{split}/{algo}/normalized_gap"],
                            f"{algo.upper()} vs MTL, transfer-normalized gap", color=c, ls=":", mfc="white")
        common.power_law(ax, res[f"fit/{split}/anil/rel_gap"], depths, "ANIL relative", color="k")
        widths = sorted({p["width"] for p in res["finite"]})
        for marker, w in zip(MARKERS, widths):
            pts = [p for p in res["finite"] if p["width"] == w and split in p]
            if pts:
                ax.scatter([p["depth"] * 1.06 for p in pts], [p[split]["rel_gap"] for p in pts], marker=marker,
                           s=28, facecolor="none", edgecolor="C4", label=f"ANIL vs MTL, trained nets, width {w}")
        common.loglog(ax, "depth L (hidden layers)", "gap on unseen test tasks")
        title = "split = same (theorem's setting)" if split == "same" else "split = disjoint (few-shot practice)"
        ax.set_title(f"{title}; inner loop lr={res['lr']}, steps={res['steps']}")
        ax.legend(loc="lower left")
    fig.suptitle(f"MTL vs GBML predictors, infinite width: mean ± sd over {cfg['seeds']} task samplings "
                 f"({cfg['tasks']['family']}, {cfg['tasks']['n_train']} training tasks)")
    return common.save(fig, out_dir, "closeness", rec)


if __name__ == "__main__":
    common.cli(main, __doc__)
