"""Figure: beyond the kernel regime (theory.md §12): feature movement, MTL-GBML gaps and the width limit under the
NTK and the maximal-update parameterization, and accuracy with learned features."""
from __future__ import annotations

import numpy as np

from ..methods import parse
from . import common

EXPERIMENT = "feature-learning"
SECTION = "feature_learning"
CAPTION = ("Trained centered nets of depth 2 in the NTK parameterization (solid) and the maximal-update "
           "parameterization muP (dashed), theory.md §12, at the largest target scale (the richest). Top left: "
           "relative movement of the last hidden features on the test points against width, mean ± std over "
           "seeds, per method, with the fitted rate r of c n^-r (NTK predicts 1/2, muP 0). Top middle: the "
           "fitted rate of every configuration (setting, scale, method) with its interval. Top right: relative "
           "movement of the empirical NTK on the probe points. Bottom left: relative gap ‖GBML - MTL‖ / ‖MTL‖ "
           "between nets trained from one initialization. Bottom middle: distance between the functions of "
           "consecutive widths (n, 2n) of one configuration and seed, plotted at n (a width limit makes it "
           "shrink). Bottom right: test accuracy on digits at the largest width, inner loop (bars) and the "
           "authors' probe on the trained body (dots), beside no transfer")
PAR_STYLE = {"ntk": "-", "mup": "--", "standard": ":"}
PAR_NAME = {"ntk": "NTK", "mup": "muP", "standard": "SP"}


def _setting(s) -> str:
    """The setting the curves show: shared-feature when it was run, else the first."""
    settings = s.config["settings"]
    return "shared-feature" if "shared-feature" in settings else settings[0]


def _label(m: str, par: str) -> str:
    return f"{parse(m).display}, {PAR_NAME[par]}"


def _curves(ax, s, kind: str, x: str, y: str, rated: bool = False) -> str:
    """One curve per parameterization and method: ``y`` against ``x`` of the rows of ``kind`` (the shown setting,
    the largest target scale), the fitted movement rate in the legend when ``rated``; returns the setting."""
    cfg, f, scale = s.config, _setting(s), max(s.config["scales"])
    for par in cfg["parameterizations"]:
        for m in cfg["methods"]:
            rows = s.rows(kind, setting=f, parameterization=par, scale=scale, method=m)
            fit = s.fit(f, par, scale, m) if rated else None
            rate = f", r = {fit.r:.2f} [{fit.r_lo:.2f}, {fit.r_hi:.2f}]" if fit is not None and fit.ok else ""
            common.errorbar(ax, [getattr(r, x) for r in rows], [getattr(r, y) for r in rows], color=common.color(m),
                            ls=PAR_STYLE[par], label=_label(m, par) + rate)
    ax.legend(fontsize=6)
    return f


def movement(ax, s, kind: str) -> None:
    f = _curves(ax, s, "scores", "width", kind, rated=kind == "feature_movement")
    common.loglog(ax, "width n", "||phi_T - phi_0|| / ||phi_0||" if kind == "feature_movement"
                  else "||Theta_T - Theta_0||_F / ||Theta_0||_F")
    what = "features" if kind == "feature_movement" else "empirical NTK"
    ax.set_title(f"Movement of the {what}, {f}, scale {max(s.config['scales']):g}")


def rates(ax, s) -> None:
    cfg = s.config
    labels = []
    for i, (k, fit) in enumerate(s.result.movement_fits.items()):
        setting, par, scale, m = k.split("|")
        labels.append(f"{setting}, {PAR_NAME[par]}, s = {scale}, {parse(m).display}")
        if fit is None or not fit.ok:
            continue
        ax.errorbar([fit.r], [i], xerr=[[fit.r - fit.r_lo], [fit.r_hi - fit.r]], fmt="o" if par == "ntk" else "s",
                    color=common.color(m), mfc="none" if par != "ntk" else None, ms=4, capsize=2)
    for r, text in ((0.5, "NTK: 1/2"), (0.0, "muP: 0")):
        ax.axvline(r, color="0.5", lw=0.8, ls=":")
        ax.text(r, -0.9, text, fontsize=6.5, ha="center", va="bottom")
    ax.set_yticks(range(len(labels)), labels, fontsize=5.5)
    ax.set_ylim(len(labels) - 0.5, -1.0)
    ax.set_xlabel("fitted rate r of feature movement ~ c n^-r")
    pars = ", ".join(f"{PAR_NAME[p]}: {'filled circles' if p == 'ntk' else 'open squares'}"
                     for p in cfg["parameterizations"])
    ax.set_title(f"Fitted rates ({pars})", fontsize=8.5)


def gaps(ax, s) -> None:
    f = _curves(ax, s, "gaps", "width", "gap")
    common.loglog(ax, "width n", "||f_GBML - f_MTL|| / ||f_MTL||")
    ax.set_title(f"MTL-GBML gap, one initialization, {f}")


def limits(ax, s) -> None:
    f = _curves(ax, s, "limits", "a", "distance")
    common.loglog(ax, "width n (pair n, 2n)", "||f_n - f_2n|| / ||f_2n||")
    ax.set_title(f"Towards a width limit, {f}")


def accuracy(ax, s) -> None:
    cfg = s.config
    digits = [f for f in cfg["settings"] if f.startswith("digits")]
    if not digits:
        ax.text(0.5, 0.5, "no digits setting in this run", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    scale, bars = max(cfg["scales"]), list(cfg["methods"]) + ["no-transfer"]
    groups = [(f, par) for f in digits for par in cfg["parameterizations"]]
    width = 0.8 / len(bars)
    for j, m in enumerate(bars):
        acc, probe, xs = [], [], []
        for i, (f, par) in enumerate(groups):
            rows = s.rows("scores", setting=f, parameterization=par, scale=scale, method=m)
            if rows:
                top = rows[-1]   # the largest width this method was trained at
                xs.append(i + (j - (len(bars) - 1) / 2) * width)
                acc.append(top.accuracy)
                probe.append(top.probe)
        ax.bar(xs, [a.mean if a else np.nan for a in acc], width, yerr=[a.std if a else 0.0 for a in acc],
               color=common.color(m), alpha=0.85, capsize=1.5, label=parse(m).display)
        ax.plot(xs, [p.mean if p else np.nan for p in probe], "k.", ms=4, label="probe" if j == 0 else None)
    ax.set_xticks(range(len(groups)), [f"{f}\n{PAR_NAME[par]}" for f, par in groups], fontsize=7)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("test accuracy (queries of unseen tasks)")
    ax.set_title(f"Digits, largest width, scale {scale:g}")
    ax.legend(fontsize=6, ncol=3, loc="upper center")


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT)
    fig, axes = common.plt.subplots(2, 3, figsize=(17, 10))
    movement(axes[0, 0], s, "feature_movement")
    rates(axes[0, 1], s)
    movement(axes[0, 2], s, "kernel_movement")
    gaps(axes[1, 0], s)
    limits(axes[1, 1], s)
    accuracy(axes[1, 2], s)
    cfg = s.config
    fig.suptitle(f"Beyond the kernel regime: depth {cfg['depth']}, {cfg['n_tasks']} training tasks, "
                 f"{cfg['seeds']} seeds, target scales {', '.join(f'{x:g}' for x in cfg['scales'])}; inner loop "
                 f"tau = {cfg['tau']} / lambda_max, {cfg['steps']} steps", fontsize=9)
    return common.save(fig, out_dir, "feature_learning", s)


if __name__ == "__main__":
    common.cli(main, CAPTION)
