"""Figure: ablations of the MTL-GBML gap (inner steps and lr, training tasks, similarity, heads, flow, lr scaling)."""
from __future__ import annotations

from ..methods import Method, parse
from . import common

EXPERIMENT = "ablate"
SECTION = "ablate"
CAPTION = ("Ablations of the relative gap between GBML and MTL (split same, infinite width): inner steps, inner "
           "learning rate, number of training tasks, task similarity, MTL head initialization, gradient flow vs "
           "steps and learning-rate scaling with depth")
XLABEL = {"steps": "inner steps (lr fixed)", "lr": "inner learning rate (steps fixed)",
          "n_train": "number of training tasks", "similarity": "task similarity (shared-feature family)",
          "flow": "inner loop", "lr_scaling": "depth L (hidden layers)"}
TITLE = {"n_train": "training tasks", "flow": "gradient flow vs steps (same lr·steps)"}
LOG_X = {"steps", "lr", "n_train", "lr_scaling"}


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT)
    ablations = s.ablations
    ncol = min(4, len(ablations))
    nrow = -(-len(ablations) // ncol)
    fig, axes = common.plt.subplots(nrow, ncol, figsize=(4.0 * ncol, 3.5 * nrow), squeeze=False)
    for ax in axes.flat[len(ablations):]:
        ax.set_visible(False)
    for ax, ab in zip(axes.flat, ablations):
        sub = s.of(ab)
        if ab == "heads":
            _heads(ax, sub)
            continue
        if ab == "lr_scaling":
            for value, ls in (("fixed", "-"), ("depth", "--")):
                pts = [r for r in sub if r.value == value]
                lab = "lr fixed" if value == "fixed" else "lr·2/(L+1)"
                for algo in ("anil", "maml"):
                    common.errorbar(ax, [r.depth for r in pts], [r.gap("same", algo) for r in pts],
                                    f"{Method.gbml(algo, 'same').display}, {lab}", color=common.color(algo), ls=ls,
                                    mfc="white" if value == "depth" else None)
            ax.set_title("learning-rate scaling with depth")
        else:
            depths = sorted({r.depth for r in sub})
            cmap = common.plt.get_cmap("viridis")
            for i, L in enumerate(depths):
                pts = [r for r in sub if r.depth == L]
                x = list(range(len(pts))) if ab == "flow" else [r.value for r in pts]
                color = cmap(i / max(len(depths) - 1, 1))
                for algo, ls in (("anil", "-"), ("maml", "--")):
                    common.errorbar(ax, x, [r.gap("same", algo) for r in pts],
                                    f"{Method.gbml(algo, 'same').display}, L={L}", color=color, ls=ls,
                                    marker="o" if algo == "anil" else "s")
            if ab == "flow":
                ax.set_xticks([0, 1])
                ax.set_xticklabels(["discrete steps", "gradient flow"])
                ax.set_xlim(-0.5, 1.5)
            ax.set_title(f"ablation: {TITLE.get(ab, ab)}")
        if ab in LOG_X:
            ax.set_xscale("log")
            ticks = sorted({r.depth if ab == "lr_scaling" else r.value for r in sub})
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:g}" for t in ticks])
            ax.xaxis.set_minor_locator(common.matplotlib.ticker.NullLocator())
        ax.set_yscale("log")
        ax.set_xlabel(XLABEL[ab])
        ax.set_ylabel("relative gap vs MTL (split = same)")
        ax.legend(fontsize=6.5, loc="best")
    cfg = s.config
    fig.suptitle(f"Ablations at infinite width ({cfg['tasks']['family']}; base: {cfg['tasks']['n_train']} tasks, "
                 f"lr={cfg['lr']}, steps={cfg['steps']}); mean ± sd over {cfg['seeds']} task samplings")
    return common.save(fig, out_dir, "ablate", s)


def _heads(ax, sub):
    """MTL with shared vs independent head initialization: test MSE beside ANIL and no transfer."""
    depths = sorted({r.depth for r in sub})
    # (method, the "heads" value of the row it is read from)
    bars = [(parse("mtl-shared"), "shared"), (parse("mtl-independent"), "independent"),
            (parse("anil-same"), "shared"), (parse("no-transfer"), "shared")]
    width = 0.8 / len(bars)
    for j, (method, value) in enumerate(bars):
        for i, L in enumerate(depths):
            row = next(r for r in sub if r.depth == L and r.value == value)
            st = row.test_mse(method)
            if st is not None:
                ax.bar(i + (j - 1.5) * width, st.mean, width, yerr=st.std, color=common.color(method), capsize=1.5,
                       label=method.display if i == 0 else None)
    ax.set_xticks(range(len(depths)))
    ax.set_xticklabels([f"L = {L}" for L in depths])
    ax.set_ylabel("test MSE on unseen tasks")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.45)
    ax.set_title("ablation: MTL head initialization")
    ax.legend(fontsize=6.5, loc="upper center", ncol=2)


if __name__ == "__main__":
    common.cli(main, CAPTION)
