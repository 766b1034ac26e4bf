"""Figure: the gap between MTL and ANIL / MAML on unseen tasks against depth (claim C3), both splits."""
from __future__ import annotations

from ..methods import Method
from . import common

EXPERIMENT = "closeness"
SECTION = "closeness"
CAPTION = ("Claim C3. The gap between the MTL and GBML (ANIL, MAML) predictions on unseen test tasks against depth, "
           "relative and transfer-normalized, with the fitted rate of ANIL's relative gap and trained finite "
           "nets overlaid")
MARKERS = ("s", "^", "D", "v", "P")


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT)
    depths = s.depths
    fig, axes = common.plt.subplots(1, len(s.splits) + 1, figsize=(5.2 * (len(s.splits) + 1), 4.4), squeeze=False)
    for ax in axes[0, 1:len(s.splits)]:
        ax.sharey(axes[0, 0])
    for ax, split in zip(axes[0], s.splits):
        for algo in ("anil", "maml"):
            name = Method.gbml(algo, split).display
            c = common.color(algo)
            common.errorbar(ax, depths, s.gap(split, algo, "rel_gap"), f"{name} vs MTL, relative gap", color=c)
            common.errorbar(ax, depths, s.gap(split, algo, "normalized_gap"),
                            f"{name} vs MTL, transfer-normalized gap", color=c, ls=":", mfc="white")
        common.power_law(ax, s.fit(split, "anil", "rel_gap"), depths, "ANIL relative", color="k")
        finite = [p for p in s.finite if p.split == split]
        for marker, w in zip(MARKERS, sorted({p.width for p in finite})):
            pts = [p for p in finite if p.width == w]
            ax.scatter([p.depth * 1.06 for p in pts], [p.rel_gap for p in pts], marker=marker, s=28,
                       facecolor="none", edgecolor="C4", label=f"ANIL vs MTL, trained nets, width {w}")
        common.loglog(ax, "depth L (hidden layers)", "gap on unseen test tasks")
        title = "split = same (theorem's setting)" if split == "same" else "split = disjoint (few-shot practice)"
        ax.set_title(f"{title}; inner loop lr={s.lr}, steps={s.steps}")
        ax.legend(loc="lower left")
    _non_vacuity(axes[0, -1], s)
    cfg = s.config
    fig.suptitle(f"MTL vs GBML predictors, infinite width: mean ± sd over {cfg['seeds']} task samplings "
                 f"({cfg['tasks']['family']}, {cfg['tasks']['n_train']} training tasks)")
    return common.save(fig, out_dir, "closeness", s)


def _non_vacuity(ax, s):
    """Test MSE against depth of MTL, the GBML methods (split "same"), no transfer and the zero predictor; the
    effective rank of the normalized NTK on the test points on the right axis."""
    depths = s.depths
    common.errorbar(ax, depths, s.mse("mtl"), "MTL", color=common.color("mtl-shared"))
    if "same" in s.splits:
        for algo in ("anil", "maml"):
            common.errorbar(ax, depths, s.mse(f"{algo}-same"), Method.gbml(algo, "same").display,
                            color=common.color(algo), mfc="white")
    common.errorbar(ax, depths, s.mse("no_transfer"), "no transfer", color=common.color("no-transfer"), ls="--")
    common.errorbar(ax, depths, s.mse("zero"), "zero predictor", color="k", ls=":", marker="x")
    common.loglog(ax, "depth L (hidden layers)", "test MSE on unseen tasks")
    ax.set_yscale("linear")
    ax.set_ylim(bottom=0)
    rank = ax.twinx()
    common.errorbar(rank, depths, s.effective_rank, None, color="C5", ls="-.", marker=".", alpha=0.7)
    rank.set_ylabel("effective rank of the normalized NTK (dash-dot)", color="C5")
    rank.set_ylim(bottom=0)
    rank.grid(False)
    ax.set_title("Non-vacuity: are the close predictors still useful?")
    ax.legend(loc="center left")


if __name__ == "__main__":
    common.cli(main, CAPTION)
