"""Figure: test error of MTL, ANIL, MAML and no transfer on each task family (claim C5)."""
from __future__ import annotations

from . import common

LABELS = {"mtl": "MTL", "anil-same": "ANIL (same)", "anil-disjoint": "ANIL (disjoint)", "maml-same": "MAML (same)",
          "maml-disjoint": "MAML (disjoint)", "no-transfer": "no transfer"}
STYLE = {"mtl": ("C2", None), "anil-same": ("C0", None), "anil-disjoint": ("C0", "///"),
         "maml-same": ("C3", None), "maml-disjoint": ("C3", "///"), "no-transfer": ("C7", None)}


def main(results_dir, out_dir):
    rec = common.summary(results_dir, "accuracy")
    rows = rec["result"]["rows"]
    families = list(dict.fromkeys(r["family"] for r in rows))
    fig, axes = common.plt.subplots(len(families), 1, figsize=(10, 3.1 * len(families)), squeeze=False)
    methods = list(LABELS)
    for ax, fam in zip(axes[:, 0], families):
        group = [r for r in rows if r["family"] == fam]
        width = 0.8 / len(methods)
        for g, row in enumerate(group):
            for j, m in enumerate(methods):
                x = g + (j - (len(methods) - 1) / 2) * width
                s = row.get(m)
                color, hatch = STYLE[m]
                if s is None:
                    continue  # not run at this width
                if "mean" not in s:
                    ax.text(x, 0, "n/a", rotation=90, ha="center", va="bottom", fontsize=6, color=color)
                    continue
                ax.bar(x, s["mean"], width, yerr=s["std"], color=color, hatch=hatch, edgecolor="white",
                       alpha=0.9, capsize=1.5, error_kw={"lw": 0.8}, label=LABELS[m] if g == 0 else None)
        ax.set_xticks(range(len(group)))
        ax.set_xticklabels([f"L={r['depth']}, τ={r['tau']:g}\n" + ("infinite width" if r["width"] is None
                                                                     else f"trained, width {r['width']}")
                            for r in group], fontsize=7.5)
        metric = group[0]["metric"]
        ax.set_ylabel("test accuracy (higher is better)" if metric == "accuracy" else "test MSE (lower is better)")
        if metric == "accuracy":
            n_way = 5
            ax.axhline(1 / n_way, color="k", lw=0.8, ls=":", label=f"chance (1/{n_way})")
        ax.set_title(f"{fam}")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    cfg = rec["config"]
    fig.suptitle(f"Test error on unseen tasks, mean ± sd over {cfg['seeds']} task samplings, {cfg['n_train']} "
                 f"training tasks\ninner loop: {cfg['steps']} steps, total time τ/λmax(Θ); "
                 f"n/a: not computable (singular meta-NTK)")
    return common.save(fig, out_dir, "accuracy", rec)


if __name__ == "__main__":
    common.cli(main, __doc__)
