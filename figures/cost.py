"""Figure: training cost per outer step, MTL (first order) vs ANIL, FOMAML and second-order MAML (claim C4)."""
from __future__ import annotations

import numpy as np

from . import common

METHODS = ("mtl-shared", "anil", "fomaml", "maml")
LABEL = {"mtl-shared": "MTL", "anil": "ANIL", "fomaml": "FOMAML", "maml": "MAML (2nd order)"}


def main(results_dir, out_dir):
    rec = common.summary(results_dir, "cost")
    rows, cfg = rec["result"]["rows"], rec["config"]
    widths = [r["width"] for r in rows]
    fig, (ax1, ax2) = common.plt.subplots(1, 2, figsize=(10, 4))
    bar = 0.8 / len(METHODS)
    for j, m in enumerate(METHODS):
        x = np.arange(len(rows)) + (j - (len(METHODS) - 1) / 2) * bar
        s = [r[f"per_step_s/{m}"] for r in rows]
        ax1.bar(x, [1e3 * v["mean"] for v in s], bar, yerr=[1e3 * v["std"] for v in s], capsize=2,
                color=common.COLORS[m], label=LABEL[m])
        if m != "mtl-shared":
            common.errorbar(ax2, widths, [r[f"ratio/{m}"] for r in rows], LABEL[m], color=common.COLORS[m])
    ax1.set_xticks(range(len(rows)))
    ax1.set_xticklabels([f"width {w}" for w in widths])
    ax1.set_yscale("log")
    ax1.set_ylabel("wall time per outer step (ms)")
    ax1.set_title(f"Time per full-batch outer step, device {rows[0]['device']}")
    ax1.legend(loc="upper left")
    ax2.axhline(1.0, color=common.COLORS["mtl-shared"], lw=1, label="MTL (= 1)")
    common.loglog(ax2, "width n (hidden units per layer)", "time per step / MTL's")
    ax2.set_title(f"Cost relative to MTL; at width {widths[-1]}: MAML "
                  f"{rec['result']['ratio_maml']['mean']:.1f}×")
    ax2.legend(loc="best")
    fig.suptitle(f"Training cost at equal data: {cfg['n_tasks']} tasks × ({cfg['n_support']} support + "
                 f"{cfg['n_query']} query), depth {cfg['depth']}, {cfg['steps']} inner steps; "
                 f"mean ± sd over {cfg['repeats']} timed repeats")
    return common.save(fig, out_dir, "cost", rec)


if __name__ == "__main__":
    common.cli(main, __doc__)
