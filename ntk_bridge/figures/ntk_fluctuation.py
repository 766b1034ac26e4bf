"""Figure: the NTK's fluctuation over initializations against beta = L/n, beside Hanin & Nica's exp(5 beta)."""
from __future__ import annotations

import numpy as np

from ..experiments.ntk_fluctuation import HANIN_NICA, SMALL_BETA
from . import common

EXPERIMENT = "ntk-fluctuation"
SECTION = "ntk_fluctuation"
CAPTION = ("Fluctuation of the NTK's diagonal Θ(x,x) over initializations against β = L/n: "
           "log E[Θ²]/E[Θ]² and Var log Θ of the whole diagonal, and the head's part with its exact law, "
           "beside Hanin & Nica's 5β")
MARKERS = "os^vDP<>"
NAMES = {"ratio": "log E[Θ²]/E[Θ]²", "log_var": "Var log Θ (open)", "head": "head: log E[Θ²]/E[Θ]²"}


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT)
    rows, fits = s.rows, s.fits
    widths = sorted({r.width for r in rows})
    beta = np.array([r.beta for r in rows])
    span = (beta.min() / 1.3, beta.max() * 1.3)
    fig, (ax1, ax2) = common.plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    for ax, keys, title in ((ax1, ("ratio", "log_var"), "Whole diagonal Θ(x,x)"),
                            (ax2, ("head",), "Head's part |h_L|²/n: exact (1+5/n)^L")):
        ax.axhline(HANIN_NICA, color="0.5", lw=2.5, alpha=0.5, label="Hanin & Nica: 5")
        if ax is ax1:
            ax.axhline(SMALL_BETA, color="0.3", ls=":", lw=1.2, label="small-β, many layers: 11/3 (theory §10)")
        else:
            ax.plot([r.beta for r in rows], [r.head_exact / r.beta for r in rows], "x", color="k", ms=5,
                    label="exact n log(1+5/n)")
        for j, key in enumerate(keys):
            color = f"C{j}"
            for i, n in enumerate(widths):
                sel = [r for r in rows if r.width == n]
                b = np.array([r.beta for r in sel])
                est = [r.measures[key] for r in sel]
                v = np.array([e.value for e in est]) / b
                err = np.array([[e.value - e.lo for e in est], [e.hi - e.value for e in est]]) / b
                ax.errorbar(b * (1.04 if key == "log_var" else 1.0), v, yerr=np.maximum(err, 0), ls="none",
                            marker=MARKERS[i % len(MARKERS)], ms=4, capsize=2, color=color,
                            mfc="none" if key == "log_var" else color, alpha=0.85)
            f = fits[key]
            ax.axhspan(f.lo, f.hi, color=color, alpha=0.15)
            ax.axhline(f.k, color=color, ls="--", lw=1,
                       label=f"{NAMES[key]}: fitted k = {f.k:.2f} [{f.lo:.2f}, {f.hi:.2f}] (β ≤ {s.result.beta_max:g})")
        for i, n in enumerate(widths):   # markers name the widths
            ax.plot([], [], ls="none", marker=MARKERS[i % len(MARKERS)], color="0.4", ms=4, label=f"n = {n}")
        ax.axvline(s.result.beta_max, color="0.7", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xlim(*span)
        ax.xaxis.set_major_formatter(common.matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
        ax.set_xlabel("β = L / n")
        ax.set_ylabel("measure / β  (Hanin & Nica: 5)")
        ax.set_ylim(0, 7.5)
        ax.set_title(title)
        ax.legend(loc="upper left", fontsize=6.5, ncol=2)
    cfg = s.config
    fig.suptitle(f"Bias-free ReLU nets (He init., NTK param.), one unit input in d = {cfg['dim']}, "
                 f"{cfg['n_nets']} nets per (L, n), L ∈ {{{', '.join(map(str, cfg['depths']))}}}\n"
                 "90% bootstrap intervals over nets; points right of the grey line are not fitted")
    return common.save(fig, out_dir, "ntk_fluctuation", s)


if __name__ == "__main__":
    common.cli(main, CAPTION)
