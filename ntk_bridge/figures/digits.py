"""Figure: real images (scikit-learn's 8x8 digits): the closeness gap against depth (C3) and test accuracy (C5).

Reads the selected closeness and accuracy summaries on digits (``selection.on_digits``);
drawn if at least one of them was run.
"""
from __future__ import annotations

from ..methods import Method
from . import common

EXPERIMENT = "closeness"
SECTION = "digits"
CAPTION = ("Real images (scikit-learn's 8x8 digits, meta-train classes 0-4, meta-test 5-9). Top: gap between MTL and "
           "ANIL / MAML on unseen test tasks against depth, split='same' (the theorem's setting) and 'disjoint'. "
           "Bottom: test accuracy of every method per digits setting (labels permuted per episode, except "
           "digits-fixed), closed form and trained finite nets, with chance level and the authors' logistic probe "
           "on each body (diamonds). Third row (finite-closeness on digits): each trained net's distance to its "
           "closed form against L/n with the fitted law, and the trained ANIL-MTL gap against depth per width")


def _optional(results_dir, experiment):
    try:
        return common.summary(results_dir, experiment, digits=True)
    except common.MissingResults:
        return None


def _n_way(family: str) -> int:
    from ..experiments.accuracy import task_config

    return int(dict(task_config(family, 1, 1).options).get("n_way", 5))


def _closeness(axes, s):
    depths = s.depths
    for ax, split in zip(axes, ("same", "disjoint")):
        if split not in s.splits:
            ax.set_visible(False)
            continue
        for algo in ("anil", "maml"):
            c = common.color(algo)
            name = Method.gbml(algo, split).display
            common.errorbar(ax, depths, s.gap(split, algo, "rel_gap"), f"{name} vs MTL, relative gap", color=c)
            common.errorbar(ax, depths, s.gap(split, algo, "normalized_gap"),
                            f"{name} vs MTL, transfer-normalized", color=c, ls=":", mfc="white")
        common.power_law(ax, s.fit(split, "anil", "rel_gap"), depths, "ANIL relative", color="k")
        common.loglog(ax, "depth L (hidden layers)", "gap on unseen digits tasks")
        ax.set_title(f"digits, split='{split}'" + (" (theorem's setting)" if split == "same" else " (few-shot practice)"))
        ax.legend(loc="lower left")
    t = s.config["tasks"]
    opts = dict(t.get("options") or [])
    axes[0].figure.suptitle(f"Real images (scikit-learn digits). C3: {opts.get('n_way', 5)}-way {t['n_support']}-shot, "
                            f"{t['n_query']} queries per class, {t['n_train']} training / {t['n_test']} test tasks, "
                            f"inner loop lr={s.lr:g} x {s.steps}, mean ± sd over {s.config['seeds']} seeds")


def _accuracy(ax, s):
    tau = min(r.tau for r in s.rows)
    groups = [r for r in s.rows if r.tau == tau]
    methods = s.methods
    width = 0.8 / len(methods)
    probe_drawn = False
    for g, row in enumerate(groups):
        for j, m in enumerate(methods):
            if not row.ran(m):
                continue
            x = g + (j - (len(methods) - 1) / 2) * width
            score = row.score(m)
            color = common.color(m)
            if score is None:
                excluded = "excluded" in row.errors.get(m.label, "")
                ax.text(x, 0.02, "excl." if excluded else "n/a", rotation=90, ha="center", va="bottom", fontsize=6,
                        color=color)
                continue
            hatch = "///" if m.kind == "gbml" and m.split == "disjoint" else None
            ax.bar(x, score.mean, width, yerr=score.std, color=color, hatch=hatch, edgecolor="white", alpha=0.9,
                   capsize=1.2, error_kw={"lw": 0.7}, label=m.display if g == 0 else None)
            if row.probe(m) is not None:
                ax.plot(x, row.probe(m).mean, marker="D", ms=3.2, color="k", ls="none",
                        label="logistic probe (frozen body, C=3)" if not probe_drawn else None)
                probe_drawn = True
        chance = 1.0 / _n_way(row.family)
        ax.hlines(chance, g - 0.45, g + 0.45, color="k", lw=1.0, ls=":",
                  label="chance (1/n_way)" if g == 0 else None)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{r.family}\nL={r.depth}\n" + ("inf. width" if r.width is None else f"width {r.width}")
                        for r in groups], fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("test accuracy")
    ax.set_title(f"C5 on digits: accuracy on unseen test tasks, inner time τ={tau:g} (per λmax(Θ)), mean ± sd over "
                 f"{s.config['seeds']} seeds (finite: {s.config['finite_seeds']})\nn/a: not computable; excl.: the trained "
                 f"net did not converge (kept out)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0))


def _finite(axes, s):
    """Trained nets on digits: each net's distance to its closed form against L/n (with the fitted law), and the
    trained ANIL-MTL gap against depth per width beside the closed forms' gap."""
    import numpy as np

    from ..methods import parse

    ax = axes[0]
    for lab, prot in s.labels:
        if prot != "trained":
            continue
        color = common.color(parse(lab).name)
        pts = [(L / n, c.err) for L in s.depths for n in s.widths
               if (c := s.cell(lab, L, n)) is not None and c.err is not None]
        if not pts:
            continue
        x, st = zip(*pts)
        ax.errorbar(x, [v.mean for v in st], yerr=[v.std for v in st], fmt="o", ms=3.5, color=color, capsize=2,
                    label=f"{parse(lab).display} (trained nets)")
        law = s.fit(lab)
        if law is not None and law.ok:
            xs = np.geomspace(min(x), max(x), 50)
            ax.plot(xs, law.c * xs ** law.a, color=color, ls="--", lw=1,
                    label=f"fit c (L/n)^a, a = {law.a:.2f} [{law.a_lo:.2f}, {law.a_hi:.2f}]")
    common.loglog(ax, "L / n (depth / width)", "||f_trained - f_∞|| / ||f_∞||")
    ticks = sorted({L / n for L in s.depths for n in s.widths})
    ax.set_xticks(ticks, [f"1/{round(1 / x)}" for x in ticks], fontsize=7)
    ax.minorticks_off()
    ax.set_title(f"digits, finite width: each trained net vs its closed form\n({len(s.excluded)} runs not "
                 f"converged, kept out)", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[1]
    lab = next((lab for lab, p in s.labels if p == "trained" and parse(lab).algo == "anil"), None)
    if lab is None:
        ax.set_axis_off()
        return
    from .finite_closeness import gap_curves

    gap_curves(ax, s, lab)
    t = s.config["tasks"]
    ax.set_title(f"digits, finite width: trained ANIL vs MTL\n({dict(t.get('options') or []).get('n_way', 5)}-way "
                 f"{t['n_support']}-shot, {t['n_train']} tasks, split '{parse(lab).split}')", fontsize=10)


def main(results_dir, out_dir):
    close, acc = _optional(results_dir, "closeness"), _optional(results_dir, "accuracy")
    fin = _optional(results_dir, "finite-closeness")
    if close is None and acc is None and fin is None:
        raise common.MissingResults(f"no closeness, accuracy or finite-closeness summary on digits under "
                                    f"{results_dir}; run `ntk-bridge closeness --family digits --results "
                                    f"{results_dir}` first")
    rows = (close is not None) + (acc is not None) + (fin is not None)
    fig = common.plt.figure(figsize=(12, 4.4 * rows))
    grid = fig.add_gridspec(rows, 2)
    row = 0
    if close is not None:
        _closeness([fig.add_subplot(grid[row, 0]), fig.add_subplot(grid[row, 1])], close)
        row += 1
    if acc is not None:
        _accuracy(fig.add_subplot(grid[row, :]), acc)
        row += 1
    if fin is not None:
        _finite([fig.add_subplot(grid[row, 0]), fig.add_subplot(grid[row, 1])], fin)
    return common.save(fig, out_dir, "digits", next(x for x in (close, acc, fin) if x is not None))


if __name__ == "__main__":
    common.cli(main, CAPTION)
