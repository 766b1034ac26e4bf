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
    """Every figure, in report order (the experiments' ``FIGURES``, then the shared ones).

    The keys of ``ntk_bridge.experiments.figures()`` (which imports every experiment module).

    Returns:
      A tuple of figure names (``str``, module names under ``ntk_bridge.figures``).

    Examples:
      >>> from ntk_bridge import figures
      >>> names = figures.names()
      >>> names[:3], names[-1]
      (('kernel_share', 'closeness', 'lr_steps'), 'digits')
    """
    from .. import experiments

    return tuple(experiments.figures())


def module(name: str):
    """The module drawing figure ``name`` (one of ``names``).

    Imports it (and matplotlib, with the Agg backend).  It declares ``EXPERIMENT``, ``SECTION``,
    ``CAPTION`` and ``main(results_dir, out_dir)``.

    Args:
      name: a figure name (one of ``names()``).

    Returns:
      The imported module.

    Raises:
      ValueError: when ``name`` is not a figure of ``names()``.

    Examples:
      >>> from ntk_bridge import figures
      >>> mod = figures.module("lr_steps")
      >>> mod.__name__, mod.EXPERIMENT
      ('ntk_bridge.figures.lr_steps', 'closeness')
      >>> figures.module("nope")
      Traceback (most recent call last):
      ...
      ValueError: figure must be one of ('kernel_share', 'closeness', ...), got 'nope'
    """
    from .. import experiments

    paths = experiments.figures()
    if name not in paths:
        raise ValueError(f"figure must be one of {tuple(paths)}, got {name!r}")
    return importlib.import_module(paths[name])


def caption(name: str) -> str:
    """The caption of figure ``name``: its module's ``CAPTION`` (the appendix prints it under the figure).

    Args:
      name: a figure name (one of ``names()``).

    Returns:
      The caption text (``str``).

    Raises:
      ValueError: (from ``module``) when ``name`` is not a figure.

    Examples:
      >>> from ntk_bridge import figures
      >>> figures.caption("closeness") == figures.module("closeness").CAPTION, figures.caption("closeness")[:9]
      (True, 'Claim C3.')
    """
    return module(name).CAPTION


def section(name: str) -> str:
    """The appendix section figure ``name`` belongs to: its module's ``SECTION``.

    Args:
      name: a figure name (one of ``names()``).

    Returns:
      A section name (a key of ``ntk_bridge.experiments.sections()``).

    Raises:
      ValueError: (from ``module``) when ``name`` is not a figure.

    Examples:
      >>> from ntk_bridge import experiments, figures
      >>> figures.section("closeness"), figures.section("lr_steps"), figures.section("kernel_share")
      ('closeness', 'closeness', 'kernels')
      >>> all(figures.section(n) in experiments.sections() for n in figures.names())
      True
    """
    return module(name).SECTION


def check_results(results) -> str | None:
    """Why no figure can be drawn from ``results`` (a missing folder, no summary at all, several
    summaries of one experiment and none selected: ``ntk_bridge.selection``), or ``None``.

    Looks at the experiments the figures read (``EXPERIMENT`` of each).  Loads their summaries with
    ``ntk_bridge.store.load``, which moves a damaged record aside unless called within
    ``store.read_only()`` (as ``main`` does).

    Args:
      results: the results root (path-like).

    Returns:
      One line saying what is wrong (several ``selection.unresolved`` messages are ``"; "``-joined), or
      ``None`` when figures can be drawn.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import experiments, figures
      >>> figures.check_results("no/such/folder")
      'results folder no/such/folder does not exist'
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> figures.check_results(root)
      'no experiment summary under ... (run `ntk-bridge reproduce --quick --results ...`)'
      >>> config = experiments.configure("kernel-share", quick=True, depths=(1, 2), n_points=8, seeds=2, n_boot=10)
      >>> _ = experiments.run("kernel-share", config, root)
      >>> figures.check_results(root) is None
      True
      >>> tmp.cleanup()
    """
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
    """Draw the figures ``which`` (default: every one, ``names``) from ``results`` into ``out_dir``.

    Calls each figure module's ``main(results, out_dir)``.  A figure whose experiment was not run
    (``figures.common.MissingResults``) is skipped; one that fails to draw (any other exception, an
    unknown name included) is reported (with its traceback on stderr) without hiding the others.
    Each outcome is passed to ``log`` as one line (``"figure NAME: paths"``, ``"... skipped (why)"``,
    ``"... FAILED (error)"``).

    Args:
      results: the results root to read (not changed, except that a damaged record is moved aside
        unless within ``ntk_bridge.store.read_only``).
      out_dir: where the ``<name>.png`` and ``<name>.pdf`` files are written (created as needed).
      which: the figure names to draw (an iterable); ``None``: every one of ``names()``.
      log: called with each line (default ``print``).

    Returns:
      ``(drawn, skipped, failed)``: ``{name: [png Path, pdf Path]}``, ``{name: why (str)}``,
      ``{name: "ExceptionType: message"}``.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import figures
      >>> tmp = tempfile.TemporaryDirectory(); out = tmp.name
      >>> drawn, skipped, failed = figures.draw("results/reference", out, which=["kernel_share"])
      figure kernel_share: .../kernel_share.png, .../kernel_share.pdf
      >>> [p.name for p in drawn["kernel_share"]], skipped, failed
      (['kernel_share.png', 'kernel_share.pdf'], {}, {})
      >>> empty = tempfile.TemporaryDirectory()   # a results root where cost was never run
      >>> drawn, skipped, failed = figures.draw(empty.name, out, which=["cost"], log=lambda line: None)
      >>> drawn, list(skipped), failed
      ({}, ['cost'], {})
      >>> tmp.cleanup(); empty.cleanup()
    """
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

    What ``ntk-bridge figures`` runs.  Reads ``results`` without changing it
    (``ntk_bridge.store.read_only``: a damaged record is reported and left in place).  Drawn
    figures are listed on stdout, skipped and failed ones on stderr; status 2 also when
    ``check_results`` finds that which summary to read is ambiguous.

    Args:
      results: the results root to read.
      out_dir: where the figures are written (``<name>.png`` and ``<name>.pdf``).

    Returns:
      The exit status (``int``): 0 (every figure whose experiment was run was drawn), 1 (some failed),
      2 (nothing could be drawn; the reason is one line on stderr).

    Examples:
      >>> import tempfile
      >>> from pathlib import Path
      >>> from ntk_bridge import experiments, figures
      >>> tmp = tempfile.TemporaryDirectory(); root = Path(tmp.name) / "results"; out = Path(tmp.name) / "figs"
      >>> figures.main(root, out), out.exists()   # no results folder: nothing is written
      (2, False)
      >>> config = experiments.configure("kernel-share", quick=True, depths=(1, 2), n_points=8, seeds=2, n_boot=10)
      >>> _ = experiments.run("kernel-share", config, root)
      >>> figures.main(root, out)   # the other figures' experiments were not run: skipped (on stderr)
      figure kernel_share: .../figs/kernel_share.png, .../figs/kernel_share.pdf
      0
      >>> tmp.cleanup()
    """
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
