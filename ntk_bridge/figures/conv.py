"""Figure: convolutional nets on digit images (theory.md §11): closeness with the CNTK, accuracy, trained conv nets."""
from __future__ import annotations

import numpy as np

from ..methods import parse
from . import common

EXPERIMENT = "conv"
SECTION = "conv"
CAPTION = ("Convolutional nets on scikit-learn's 8x8 digits read as images (theory.md §11). Left: relative gap "
           "between the GBML and MTL closed forms (split 'same') against depth, with the CNTK of the conv net "
           "with global average pooling (solid) or flattening (dash-dot) and with the MLP's NTK on the same images "
           "flattened (dashed), mean ± std over seeds; legend: fitted rate r of c L^-r with its interval. Middle: test accuracy of each method's closed form and of the authors' logistic probe on the "
           "initial features, per digits setting, conv and MLP. Right: trained centered conv nets against their "
           "CNTK closed form as the channels grow (one marker per seed; open: excluded, did not converge or left "
           "the kernel regime), fitted c C^-r over the kept nets")
ARCH_STYLE = {"conv-gap": ("-", "o"), "conv-flatten": ("-.", "^"), "mlp": ("--", "s")}   # line, marker
ARCH_NAME = {"conv-gap": "CNTK, pooling", "conv-flatten": "CNTK, flatten", "mlp": "MLP"}
BARS = ("mtl-shared", "anil-disjoint", "maml-disjoint", "no-transfer")


def closeness(ax, s) -> None:
    for arch in s.archs:
        c = s.closeness(arch)
        for algo in ("anil", "maml"):
            if "same" not in c.splits:
                continue
            col = common.color(algo)
            ls, marker = ARCH_STYLE[arch]
            fit = c.fit("same", algo)
            rate = f", r = {fit.r:.2f} [{fit.r_lo:.2f}, {fit.r_hi:.2f}]" if fit is not None and fit.ok else ""
            common.errorbar(ax, c.depths, c.gap("same", algo), color=col, ls=ls, marker=marker,
                            mfc="none" if arch == "mlp" else None,
                            label=f"{parse(algo + '-same').display}, {ARCH_NAME[arch]}{rate}")
    common.loglog(ax, "depth L", "rel. gap ||GBML - MTL|| / ||MTL||")
    ax.set_title("C3-conv: gap to MTL against depth")
    ax.legend(fontsize=6.5)


def accuracy(ax, s) -> None:
    parts = {arch: acc for arch in s.archs if (acc := s.accuracy(arch)) is not None}
    depth = min(r.depth for acc in parts.values() for r in acc.rows)   # the shallowest: one bar group per setting
    bars = sorted(((r.family, i, f"{r.family}\n{ARCH_NAME[arch]}", [r.score(m) for m in BARS] + [r.probe("mtl-shared")])
                   for i, (arch, acc) in enumerate(parts.items()) for r in acc.rows if r.depth == depth),
                  key=lambda b: b[:2])   # settings side by side, the architectures within each
    labels, groups = [b[2] for b in bars], [b[3] for b in bars]
    names = [parse(m).display for m in BARS] + ["probe (initial body)"]
    colors = [common.color(m) for m in BARS] + ["C4"]
    width = 0.8 / len(names)
    x = np.arange(len(groups))
    for j, (name, col) in enumerate(zip(names, colors)):
        vals = [g[j] for g in groups]
        ax.bar(x + (j - (len(names) - 1) / 2) * width, [v.mean if v else np.nan for v in vals], width,
               yerr=[v.std if v else 0.0 for v in vals], color=col, alpha=0.85,
               label=name, capsize=1.5)
    ax.set_xticks(x, labels, fontsize=6.5)
    ax.set_ylim(0, 1.2)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("test accuracy (queries of unseen tasks)")
    ax.set_title(f"C5-conv: accuracy of closed forms and probe, L = {depth}")
    ax.legend(fontsize=6.5, loc="upper center", ncol=len(names))


def channels(ax, s) -> None:
    cfg = s.config
    for m in cfg["finite_methods"]:
        pts = s.trained(m)
        col = common.color(m)
        kept = [(p.channels, p.err) for p in pts if p.excluded is None and p.err is not None]
        out = [(p.channels, p.err) for p in pts if p.excluded is not None and p.err is not None]
        if kept:
            ax.plot(*zip(*kept), "o", color=col, ms=4, label=f"{parse(m).display}")
        if out:
            ax.plot(*zip(*out), "o", color=col, mfc="none", ms=5)
        fit = s.channel_fit(m)
        if fit is not None and fit.ok:
            common.power_law(ax, fit, fit.x, parse(m).display, var="C", color=col)
    if any(p.excluded is not None and p.err is not None for p in s.result.channels):
        ax.plot([], [], "o", color="0.4", mfc="none", label="excluded run")
    common.loglog(ax, "channels C", "||trained - closed form|| / ||closed form||")
    ax.set_title(f"Trained conv nets, depth {cfg['finite_depth']}, {cfg['finite_pool']}")
    ax.legend(fontsize=6.5)


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT, digits=True)
    fig, axes = common.plt.subplots(1, 3, figsize=(17, 5), width_ratios=(1, 1.5, 1))
    closeness(axes[0], s)
    accuracy(axes[1], s)
    channels(axes[2], s)
    cfg = s.config
    t = cfg["tasks"]
    fig.suptitle(f"Conv nets on digit images (closeness: {dict(t['options'])['n_way']}-way "
                 f"{t['n_support']}-shot, {t['n_train']} training tasks; inner loop tau = {cfg['tau']} / lambda_max, "
                 f"{cfg['steps']} steps)", fontsize=9)
    return common.save(fig, out_dir, "conv", s)


if __name__ == "__main__":
    common.cli(main, CAPTION)
