"""What every figure script shares: matplotlib set-up, loading a stored summary, saving, drawing fits.

Figure scripts read ONLY stored records (``ntk_bridge.store``); nothing is recomputed.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the Agg backend)
import numpy as np  # noqa: E402

from ntk_bridge import store  # noqa: E402

COLORS = {"anil": "C0", "maml": "C3", "mtl": "C2", "mtl-shared": "C2", "no-transfer": "C7", "no_transfer": "C7",
          "fomaml": "C1"}
plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "font.size": 9, "axes.titlesize": 10,
                     "legend.fontsize": 7.5, "axes.grid": True, "grid.alpha": 0.3, "figure.constrained_layout.use": True})


class MissingResults(Exception):
    """The experiment a figure needs was never run into this results root."""


def summary(results, experiment: str) -> dict:
    """The latest summary record of ``experiment`` under ``results`` (``MissingResults`` if none)."""
    record = store.latest_summary(results, experiment)
    if record is None:
        raise MissingResults(f"no {experiment} summary under {results}; run `ntk-bridge {experiment}` first")
    return record


def save(fig, out_dir, name: str, record: dict) -> list[Path]:
    """Write ``<out_dir>/<name>.png`` and ``.pdf`` (naming ``record`` in their metadata); close the figure."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    source = f"ntk_bridge {record['experiment']} summary {record['config_hash']} ({record['created']})"
    for path in paths:
        key = "Description" if path.suffix == ".png" else "Subject"
        fig.savefig(path, metadata={key: source})
    plt.close(fig)
    return paths


def errorbar(ax, x, stats, label=None, **kw):
    """Mean +- standard deviation over seeds; ``None`` entries (not computable) are skipped."""
    pts = [(xi, s["mean"], s["std"]) for xi, s in zip(x, stats) if s is not None and "mean" in s]
    if not pts:
        return None
    xs, ms, sd = map(np.array, zip(*pts))
    kw.setdefault("marker", "o")
    kw.setdefault("ms", 4)
    kw.setdefault("capsize", 2.5)
    return ax.errorbar(xs, ms, yerr=sd, label=label, **kw)


def power_law(ax, fit: dict, x, label: str, var: str = "L", **kw):
    """Draw the fitted ``c * x^-r`` over ``x``; the legend gives ``r`` and its bootstrap interval."""
    if not fit or "r" not in fit:
        return
    x = np.geomspace(min(x), max(x), 50)
    pct = int(round(100 * fit["level"]))
    kw.setdefault("lw", 1.0)
    kw.setdefault("ls", "--")
    ax.plot(x, fit["c"] * x ** -fit["r"], label=f"{label}: fit ${var}^{{-r}}$, r = {fit['r']:.2f} "
                                                 f"[{fit['r_lo']:.2f}, {fit['r_hi']:.2f}] ({pct}%)", **kw)


def loglog(ax, xlabel: str, ylabel: str, base_x: int = 2):
    """Log-log axes, the x axis in powers of ``base_x`` written as plain numbers."""
    ax.set_xscale("log", base=base_x)
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def cli(main, doc: str) -> None:
    """``python -m figures.<name> [--results DIR] [--out DIR]``."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--results", type=Path, default=store.DEFAULT_ROOT)
    parser.add_argument("--out", type=Path, default=Path("out/figures"))
    args = parser.parse_args()
    for path in main(args.results, args.out):
        print(path)
