"""Figures, drawn from stored summary records only (``ntk_bridge.store``); nothing is recomputed.

    ntk-bridge figures [--results DIR] [--out DIR]                        # every figure
    python -m ntk_bridge.figures --results DIR --out DIR                  # the same
    python -m ntk_bridge.figures.closeness --results DIR --out DIR        # one figure

One module per figure, each declaring ``EXPERIMENT`` (the summary it reads, through that
experiment's typed ``read``), ``SECTION`` (the appendix section it belongs to), ``CAPTION``
and ``main(results_dir, out_dir) -> [png, pdf]``.  Files are written under ``out_dir`` only.
Which figures there are is derived from the experiments' registry (each declares its ``FIGURES``,
``ntk_bridge.experiments.figures``).
"""
from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

def names() -> tuple:
    """Every figure, in report order (the experiments' ``FIGURES``, then the shared ones)."""
    from .. import experiments

    return tuple(experiments.figures())


def module(name: str):
    """The module drawing figure ``name`` (one of ``names``)."""
    from .. import experiments

    paths = experiments.figures()
    if name not in paths:
        raise ValueError(f"figure must be one of {tuple(paths)}, got {name!r}")
    return importlib.import_module(paths[name])


def caption(name: str) -> str:
    return module(name).CAPTION


def section(name: str) -> str:
    return module(name).SECTION


def check_results(results) -> str | None:
    """Why no figure can be drawn from ``results`` (a missing folder, no summary at all, several
    summaries of one experiment and none selected: ``ntk_bridge.selection``), or ``None``."""
    from .. import selection, store

    results = Path(results)
    if not results.is_dir():
        return f"results folder {results} " + ("is a file, not a folder" if results.exists() else "does not exist")
    names_ = sorted({module(n).EXPERIMENT for n in names()})
    if not any(store.load(results, name, kind="summary") for name in names_):
        return f"no experiment summary under {results} (run `ntk-bridge reproduce --quick --results {results}`)"
    problems = selection.unresolved(results, names_)
    return "; ".join(problems) if problems else None


def draw(results, out_dir, which=None, log=print) -> tuple[dict, dict, dict]:
    """Draw the figures ``which`` (default: every one, ``names``) from ``results`` into ``out_dir``: ``(drawn {name: paths}, skipped {name: why},
    failed {name: error})``.  A figure whose experiment was not run is skipped; one that fails
    to draw is reported (with its traceback on stderr) without hiding the others."""
    from .common import MissingResults

    drawn, skipped, failed = {}, {}, {}
    for name in names() if which is None else which:
        try:
            drawn[name] = module(name).main(results, out_dir)
        except MissingResults as exc:
            skipped[name] = str(exc)
            log(f"figure {name}: skipped ({exc})")
        except Exception as exc:  # one broken figure must not hide the others; reported, status 1
            failed[name] = f"{type(exc).__name__}: {exc}"
            log(f"figure {name}: FAILED ({failed[name]})")
            traceback.print_exc()
        else:
            log(f"figure {name}: " + ", ".join(str(p) for p in drawn[name]))
    return drawn, skipped, failed


def main(results, out_dir) -> int:
    """Every figure whose experiment was run; 0, 1 if a figure failed, 2 (one line) if ``results``
    is missing or holds no summary, or ``out_dir`` is a file (then nothing is written).

    Reads ``results`` without changing it (``ntk_bridge.store.read_only``: a damaged record
    is reported and left in place)."""
    from .. import store

    with store.read_only():
        problem = check_results(results)
        if problem is None and Path(out_dir).exists() and not Path(out_dir).is_dir():
            problem = f"--out {out_dir} is a file, not a folder"
        if problem is not None:
            print(f"ntk-bridge figures: error: {problem}", file=sys.stderr)
            return 2
        _, _, failed = draw(results, out_dir, log=lambda m: print(m, file=sys.stderr if "FAILED" in m or
                                                                  "skipped" in m else sys.stdout, flush=True))
    return 1 if failed else 0
