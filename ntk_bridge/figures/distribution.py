"""Figure: the predictive distribution over initializations (theory.md §9): bands, the gap's parts, ensembles."""
from __future__ import annotations

import numpy as np

from ..methods import parse
from . import common

EXPERIMENT = "distribution"
SECTION = "distribution"
CAPTION = ("Uncentered nets at infinite width (theory.md §9). Top: on one sinusoid task, each method's mean "
           "prediction ± 2 sd over initializations at a shallow and a deep net. Bottom left: E‖Δ‖² between two "
           "methods from one initialization against depth, split into its mean part ‖μa − μb‖² and variance part, "
           "beside trained uncentered nets (mean over seeds of ‖Δ‖², ensembles' depth). Bottom right: relative "
           "error of the ensembles' sample mean and covariance to the closed form against width, beside what "
           "sampling alone gives; legend: fitted error ~ n^-r with its 90% interval (nets resampled per width)")


def bands(ax, s, depth: int) -> None:
    t = s.result.band_task
    x = np.asarray(t.x)
    for m in s.config["band_methods"]:
        b = s.band(m, depth)
        if b is None:
            continue
        mean, sd = np.asarray(b.mean), np.asarray(b.sd)
        c = common.color(m)
        ax.plot(x, mean, color=c, lw=1.5, label=f"{parse(m).display}: mean")
        ax.fill_between(x, mean - 2 * sd, mean + 2 * sd, color=c, alpha=0.18, label=f"{parse(m).display}: ± 2 sd")
    ax.plot(t.support_x, t.support_y, "ko", ms=4, label="test support")
    ax.set_xlabel("x")
    ax.set_ylabel("prediction")
    ax.set_title(f"One sinusoid test task, L = {depth}: prediction over initializations", fontsize=10)
    ax.legend(fontsize=7)


def gap_parts(ax, s) -> None:
    depths = sorted({k[2] for k in s.result.gaps})
    for j, (a, b) in enumerate(s.config["pairs"]):
        rows = [(L, g) for L in depths if (g := s.gap(a, b, L)) is not None]
        if not rows:
            continue
        Ls = [L for L, _ in rows]
        c = common.color(b)
        name = f"{parse(b).display} vs {parse(a).display}"
        ax.plot(Ls, [g.total for _, g in rows], color=c, marker="o", ms=4, lw=1.6, label=f"{name}: E||Δ||²")
        ax.plot(Ls, [g.mean_part for _, g in rows], color=c, ls="--", lw=1, label="  mean part ||μa - μb||²")
        ax.plot(Ls, [g.var_part for _, g in rows], color=c, ls=":", lw=1.2, label="  variance part")
        for i, n in enumerate(s.config["widths"]):
            st = s.finite_gap(a, b, n)
            if st is not None:
                ax.errorbar([s.config["depth"] * (1.06 + 0.06 * i)], [st.mean], yerr=[st.std / np.sqrt(st.n)],
                            marker="sdv^"[i % 4], color=c, mfc="none", ms=6, capsize=2, ls="none",
                            label=f"  trained nets, n={n} (± s.e.)")
    common.loglog(ax, "depth L", "E||Δ||² over the test tasks")
    ax.set_title("Gap between methods from one initialization")
    ax.legend(fontsize=6.5)


def ensembles(ax, s) -> None:
    widths = s.config["widths"]
    for m in s.config["methods"]:
        rows = [(n, e) for n in widths if (e := s.ensemble(m, n)) is not None and e.n]
        if not rows:
            continue
        c = common.color(m)
        ns = [n for n, _ in rows]
        fit = s.width_fit(m)
        slope = lambda f: f" ~ n^-{f.r:.2f} [{f.r_lo:.2f}, {f.r_hi:.2f}]" if f is not None and f.ok else ""  # noqa: E731
        ax.plot(ns, [e.mean_err for _, e in rows], color=c, marker="o",
                label=f"{parse(m).display}: mean{slope(fit and fit.mean)}")
        ax.plot(ns, [e.cov_err for _, e in rows], color=c, marker="s", ls="-.",
                label=f"{parse(m).display}: cov{slope(fit and fit.cov)}")
        ax.plot(ns, [e.mean_sampling for _, e in rows], color=c, ls=":", lw=0.8)
        ax.plot(ns, [e.cov_sampling for _, e in rows], color=c, ls=":", lw=0.8)
    ax.plot([], [], color="0.4", ls=":", lw=0.8, label="sampling alone (same n)")
    common.loglog(ax, "width n", "relative error to the closed form")
    ax.set_title(f"Ensembles of {s.config['n_nets']} uncentered nets, L = {s.config['depth']}")
    ax.legend(fontsize=6.5)


def main(results_dir, out_dir):
    s = common.summary(results_dir, EXPERIMENT)
    fig, axes = common.plt.subplots(2, 2, figsize=(11, 8.5))
    for ax, L in zip(axes[0], s.config["band_depths"][:2]):
        bands(ax, s, L)
    gap_parts(axes[1, 0], s)
    ensembles(axes[1, 1], s)
    cfg = s.config
    fig.suptitle(f"Predictive distribution over initializations (gaps and ensembles: {cfg['tasks']['family']}, "
                 f"{cfg['tasks']['n_train']} training tasks; bands: {cfg['band_train']} sinusoid training tasks; "
                 f"inner loop lr={cfg['lr']}, steps={cfg['steps']})", fontsize=9)
    return common.save(fig, out_dir, "distribution", s)


if __name__ == "__main__":
    common.cli(main, CAPTION)
