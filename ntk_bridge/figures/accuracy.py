"""Figure: test error of MTL, ANIL, MAML and no transfer on each task family (claim C5)."""
from __future__ import annotations

from . import common

EXPERIMENT = "accuracy"
SECTION = "accuracy"
CAPTION = ("Claim C5. Test error on the queries of unseen tasks of MTL, ANIL and MAML (both splits) and no "
           "transfer, per task family, depth and inner-loop time, closed form and trained finite nets")


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT)
    families = s.families
    methods = s.methods
    fig, axes = common.plt.subplots(len(families), 1, figsize=(10, 3.1 * len(families)), squeeze=False)
    for ax, fam in zip(axes[:, 0], families):
        group = [r for r in s.rows if r.family == fam]
        width = 0.8 / len(methods)
        for g, row in enumerate(group):
            for j, m in enumerate(methods):
                x = g + (j - (len(methods) - 1) / 2) * width
                color = common.color(m)
                hatch = "///" if m.kind == "gbml" and m.split == "disjoint" else None
                if not row.ran(m):
                    continue  # not run at this width
                score = row.score(m)
                if score is None:
                    ax.text(x, 0, "n/a", rotation=90, ha="center", va="bottom", fontsize=6, color=color)
                    continue
                ax.bar(x, score.mean, width, yerr=score.std, color=color, hatch=hatch, edgecolor="white",
                       alpha=0.9, capsize=1.5, error_kw={"lw": 0.8}, label=m.display if g == 0 else None)
        ax.set_xticks(range(len(group)))
        ax.set_xticklabels([f"L={r.depth}, τ={r.tau:g}\n" + ("infinite width" if r.width is None
                                                              else f"trained, width {r.width}") for r in group],
                           fontsize=7.5)
        accuracy = group[0].higher_is_better
        ax.set_ylabel("test accuracy (higher is better)" if accuracy else "test MSE (lower is better)")
        if accuracy:
            n_way = 5
            ax.axhline(1 / n_way, color="k", lw=0.8, ls=":", label=f"chance (1/{n_way})")
        ax.set_title(f"{fam}")
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    cfg = s.config
    fig.suptitle(f"Test error on unseen tasks, mean ± sd over {cfg['seeds']} task samplings, {cfg['n_train']} "
                 f"training tasks\ninner loop: {cfg['steps']} steps, total time τ/λmax(Θ); "
                 f"n/a: not computable (singular meta-NTK)")
    return common.save(fig, out_dir, "accuracy", s)


if __name__ == "__main__":
    common.cli(main, CAPTION)
