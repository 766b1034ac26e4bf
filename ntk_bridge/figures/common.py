"""What every figure shares: matplotlib set-up, loading a typed summary, saving, drawing stats and fits.

Figures read ONLY stored records, through the experiments' typed readers
(``ntk_bridge.experiments.<name>.read``); nothing is recomputed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the Agg backend)
import numpy as np  # noqa: E402

from .. import experiments, selection, store  # noqa: E402
from ..methods import parse  # noqa: E402

# One color per method (Method.name); the split or the setting changes the line style, not the color.
COLORS = {"anil": "C0", "maml": "C3", "fomaml": "C1", "mtl-shared": "C2", "mtl-independent": "C8",
          "no-transfer": "C7"}
plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "font.size": 9, "axes.titlesize": 10,
                     "legend.fontsize": 7.5, "axes.grid": True, "grid.alpha": 0.3,
                     "figure.constrained_layout.use": True})


class MissingResults(Exception):
    """The experiment a figure needs was never run into this results root."""


def color(method) -> str:
    """The color of ``method`` (a ``Method`` or name)."""
    return COLORS[parse(method).name]


def summary(results, experiment: str, digits: bool = False):
    """The typed selected summary of ``experiment`` under ``results`` (``MissingResults`` if none).

    ``digits``: the one on the real-image family (``selection.on_digits``); by default the one on
    the synthetic families.  Which one, when there are several: ``selection.json``
    (``ntk_bridge.selection``; ``selection.Ambiguous`` when it names none).
    """
    record = selection.summary(results, experiment, digits)
    if record is None:
        what = f"{experiment} summary on digits" if digits else f"{experiment} summary"
        raise MissingResults(f"no {what} under {results}; run `ntk-bridge {experiment} "
                             f"{'--family digits ' if digits else ''}--results {results}` first")
    return experiments.read(record)


def save(fig, out_dir, name: str, summ) -> list[Path]:
    """Write ``<out_dir>/<name>.png`` and ``.pdf`` (naming the summary record in their metadata); close the figure."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    record = summ.record
    source = f"ntk_bridge {record['experiment']} summary {record['config_hash']} ({record['created']})"
    for path in paths:
        key = "Description" if path.suffix == ".png" else "Subject"
        fig.savefig(path, metadata={key: source})
    plt.close(fig)
    return paths


def errorbar(ax, x, stats, label=None, **kw):
    """Mean +- standard deviation over seeds (``Stat`` per x); ``None`` entries (not computable) are skipped."""
    pts = [(xi, s.mean, s.std) for xi, s in zip(x, stats) if s is not None]
    if not pts:
        return None
    xs, ms, sd = map(np.array, zip(*pts))
    kw.setdefault("marker", "o")
    kw.setdefault("ms", 4)
    kw.setdefault("capsize", 2.5)
    return ax.errorbar(xs, ms, yerr=sd, label=label, **kw)


def power_law(ax, fit, x, label: str, var: str = "L", **kw):
    """Draw the fitted ``c * x^-r`` (a ``PowerFit``) over ``x``; the legend gives ``r`` and its interval."""
    if fit is None or not fit.ok:
        return
    x = np.geomspace(min(x), max(x), 50)
    pct = int(round(100 * fit.level)) if fit.level else None
    kw.setdefault("lw", 1.0)
    kw.setdefault("ls", "--")
    interval = f"[{fit.r_lo:.2f}, {fit.r_hi:.2f}]" + (f" ({pct}%)" if pct else "")
    ax.plot(x, fit.c * x ** -fit.r, label=f"{label}: fit ${var}^{{-r}}$, r = {fit.r:.2f} {interval}", **kw)


def loglog(ax, xlabel: str, ylabel: str, base_x: int = 2):
    """Log-log axes, the x axis in powers of ``base_x`` written as plain numbers."""
    ax.set_xscale("log", base=base_x)
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def cli(main, caption: str) -> None:
    """``python -m ntk_bridge.figures.<name> [--results DIR] --out DIR``; exit 2 with one line if no summary."""
    parser = argparse.ArgumentParser(description=caption)
    parser.add_argument("--results", type=Path, default=store.DEFAULT_ROOT, metavar="DIR",
                        help=f"results root (default {store.DEFAULT_ROOT})")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder the figure is written to")
    args = parser.parse_args()
    try:
        with store.read_only():  # figures never change the results they read
            paths = main(args.results, args.out)
    except MissingResults as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    for path in paths:
        print(path)
