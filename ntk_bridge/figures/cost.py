"""Figure: training cost per outer step, MTL (first order) vs ANIL, FOMAML and second-order MAML (claim C4)."""
from __future__ import annotations

import numpy as np

from ..methods import parse
from . import common

EXPERIMENT = "cost"
SECTION = "cost"
CAPTION = ("Claim C4. Wall time per full-batch outer training step of MTL (first order), ANIL, FOMAML and second-order "
           "MAML against width, and each method's time relative to MTL's")


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT)
    rows, cfg = s.rows, s.config
    if not rows:
        raise common.MissingResults(f"the cost summary under {results_dir} has no rows")
    widths = [r.width for r in rows]
    fig, (ax1, ax2) = common.plt.subplots(1, 2, figsize=(10, 4))
    bar = 0.8 / len(s.methods)
    for j, m in enumerate(s.methods):
        method = parse(m)
        x = np.arange(len(rows)) + (j - (len(s.methods) - 1) / 2) * bar
        times = [r.time(m) for r in rows]
        ax1.bar(x, [1e3 * t.mean for t in times], bar, yerr=[1e3 * t.std for t in times], capsize=2,
                color=common.color(m), label=method.display)
        if method.kind != "mtl":
            common.errorbar(ax2, widths, [r.ratio_to_mtl(m) for r in rows], method.display, color=common.color(m))
    ax1.set_xticks(range(len(rows)))
    ax1.set_xticklabels([f"width {w}" for w in widths])
    ax1.set_yscale("log")
    ax1.set_ylabel("wall time per outer step (ms)")
    ax1.set_title(f"Time per full-batch outer step, device {rows[0].device}")
    ax1.legend(loc="upper left")
    ax2.axhline(1.0, color=common.color("mtl-shared"), lw=1, label="MTL (= 1)")
    common.loglog(ax2, "width n (hidden units per layer)", "time per step / MTL's")
    ratio = s.ratio_maml
    ax2.set_title(f"Cost relative to MTL; at width {widths[-1]}: MAML "
                  + (f"{ratio.mean:.1f}×" if ratio is not None else "not timed"))
    ax2.legend(loc="best")
    fig.suptitle(f"Training cost at equal data: {cfg['n_tasks']} tasks × ({cfg['n_support']} support + "
                 f"{cfg['n_query']} query), depth {cfg['depth']}, {cfg['steps']} inner steps; "
                 f"mean ± sd over {cfg['repeats']} timed repeats")
    return common.save(fig, out_dir, "cost", s)


if __name__ == "__main__":
    common.cli(main, CAPTION)
