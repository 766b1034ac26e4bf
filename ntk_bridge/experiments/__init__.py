"""Experiments: importable sweeps with frozen-dataclass configs, storing records (``ntk_bridge.store``).

Each module holds ``NAME``, a ``Config`` (``Config()`` full, ``Config.quick()`` for
``reproduce --quick``), ``run(config, root) -> summary record`` and ``read(record)`` (its typed
view), and declares what reports it: ``FIGURES`` (modules of ``ntk_bridge.figures``, or dotted
module paths), ``SECTIONS`` (modules of ``ntk_bridge.appendix.sections``, or dotted paths) and
``QUICK_S`` (seconds its quick config took on a 2-core machine: ``reproduce`` starts the longest
first).  Ablations import a config and vary it::

    from ntk_bridge.experiments import closeness
    cfg = dataclasses.replace(closeness.Config.quick(), depths=(1, 4, 16), seeds=2)
    summary = closeness.run(cfg, root="results/mine")

Sweeps resume: points already stored are read back, never recomputed.

**The one registry.**  ``MODULES`` lists the experiments in report order; the CLI's
subcommands, ``reproduce``, ``verify``, the figures (``figures``) and the appendix's sections
(``sections``) all derive from it.  Adding an experiment is one module (and its tests) plus a
``register`` call, or a line in ``MODULES`` for one of this package.
"""
from __future__ import annotations

import dataclasses
import importlib

from .. import store

# The one list of experiments (command name -> module path), in report order.
MODULES = {name: f"{__name__}.{mod}" for name, mod in (
    ("kernel-share", "kernel_share"), ("closeness", "closeness"), ("width", "width"),
    ("finite-closeness", "finite_closeness"), ("cost", "cost"), ("accuracy", "accuracy"), ("ablate", "ablate"),
    ("conditioning", "conditioning"), ("ntk-fluctuation", "ntk_fluctuation"), ("distribution", "distribution"),
    ("conv", "conv"), ("feature-learning", "feature_learning"))}
# What reports show beside the experiments' own figures and sections: the digits figure and
# section read several experiments' summaries on real images; the appendix opens with the
# set-up and ends with the proofs checks.
SHARED_FIGURES = ("digits",)
SECTIONS_BEFORE, SECTIONS_AFTER = ("setup",), ("digits", "checks")


def register(name: str, module_path: str) -> None:
    """Add experiment ``name`` implemented by the module ``module_path`` (absolute, dotted) to the registry.

    Sets ``MODULES[name] = module_path`` (after this package's experiments, in registration order);
    nothing is imported until ``module(name)`` is called.  Registering a name again with the same
    module is a no-op.

    Args:
      name: the experiment's command name (non-empty, no ``/``, not starting with ``.`` or ``-``).
      module_path: the absolute dotted path of its module (not checked until it is imported).

    Raises:
      ValueError: when ``name`` is not a plain command name, or is already registered with another module.

    Examples:
      >>> from ntk_bridge import experiments
      >>> experiments.register("my-sweep", "mypackage.my_sweep")
      >>> experiments.names()[-1], experiments.MODULES["my-sweep"]
      ('my-sweep', 'mypackage.my_sweep')
      >>> del experiments.MODULES["my-sweep"]   # leave the registry as it was
      >>> experiments.register("closeness", "mypackage.closeness")
      Traceback (most recent call last):
      ...
      ValueError: experiment 'closeness' is already registered (module ntk_bridge.experiments.closeness)
    """
    if not isinstance(name, str) or not name or "/" in name or name.startswith((".", "-")):
        raise ValueError(f"experiment name must be a plain command name, got {name!r}")
    if name in MODULES and MODULES[name] != module_path:
        raise ValueError(f"experiment {name!r} is already registered (module {MODULES[name]})")
    MODULES[name] = module_path


def names() -> tuple:
    """Every experiment, in report order (this package's, then the registered ones).

    Returns:
      The keys of ``MODULES`` (a tuple of command names such as ``"kernel-share"``).

    Examples:
      >>> from ntk_bridge import experiments
      >>> experiments.names()[:3]
      ('kernel-share', 'closeness', 'width')
      >>> experiments.names() == tuple(experiments.MODULES)
      True
    """
    return tuple(MODULES)


def module(name: str):
    """The module of experiment ``name`` (a key of ``MODULES``).

    Imports it (which registers its algorithm version with ``ntk_bridge.store``).

    Args:
      name: the experiment's command name (one of ``names()``).

    Returns:
      The imported module (with ``NAME``, ``Config``, ``run``, ``read``, ``FIGURES``, ``SECTIONS``, ...).

    Raises:
      ValueError: when ``name`` is not a registered experiment.
      ImportError: when its registered module cannot be imported.

    Examples:
      >>> from ntk_bridge import experiments
      >>> mod = experiments.module("finite-closeness")
      >>> mod.__name__, mod.NAME
      ('ntk_bridge.experiments.finite_closeness', 'finite-closeness')
      >>> experiments.module("nope")
      Traceback (most recent call last):
      ...
      ValueError: experiment must be one of ('kernel-share', 'closeness', ...), got 'nope'
    """
    if name not in MODULES:
        raise ValueError(f"experiment must be one of {names()}, got {name!r}")
    return importlib.import_module(MODULES[name])


def _paths(package: str, entries) -> dict:
    """``{name: module path}``: bare names are modules of ``package``; a dotted path names itself (last part)."""
    return {e.rpartition(".")[2]: (e if "." in e else f"{package}.{e}") for e in entries}


def figures() -> dict:
    """``{figure name: module path}`` of every figure, in report order: each experiment's ``FIGURES``, then
    ``SHARED_FIGURES``.

    Imports every experiment module.  A bare entry ``x`` is the module ``ntk_bridge.figures.x``; a dotted
    entry names its module itself, and the figure is named by its last part.

    Returns:
      ``{figure name: dotted module path}`` (``dict`` of ``str``), in report order.

    Examples:
      >>> from ntk_bridge import experiments
      >>> paths = experiments.figures()
      >>> paths["lr_steps"], list(paths)[-1]
      ('ntk_bridge.figures.lr_steps', 'digits')
    """
    entries = [f for name in names() for f in getattr(module(name), "FIGURES", ())] + list(SHARED_FIGURES)
    return _paths("ntk_bridge.figures", entries)


def sections() -> dict:
    """``{section name: module path}`` of the appendix, in document order: ``SECTIONS_BEFORE``, each
    experiment's ``SECTIONS``, ``SECTIONS_AFTER``.

    Imports every experiment module.  A bare entry ``x`` is the module ``ntk_bridge.appendix.sections.x``;
    a dotted entry names its module itself, and the section is named by its last part.

    Returns:
      ``{section name: dotted module path}`` (``dict`` of ``str``), in document order.

    Examples:
      >>> from ntk_bridge import experiments
      >>> sections = experiments.sections()
      >>> list(sections)[0], list(sections)[-2:], sections["kernels"]
      ('setup', ['digits', 'checks'], 'ntk_bridge.appendix.sections.kernels')
    """
    entries = [*SECTIONS_BEFORE, *(x for name in names() for x in getattr(module(name), "SECTIONS", ())),
               *SECTIONS_AFTER]
    return _paths("ntk_bridge.appendix.sections", entries)


class UnreadableSummary(ValueError):
    """A stored summary this code's typed reader cannot read: written in another layout, by another version.

    Raised by ``read``; the message names the summary and says how to rebuild it from its stored
    points.  A ``ValueError``.

    Examples:
      >>> from ntk_bridge import experiments, selection
      >>> rec = selection.summary("results/reference", "kernel-share")
      >>> experiments.read(dict(rec, result={"points": rec["result"]["points"]}))   # rows and fits missing
      Traceback (most recent call last):
      ...
      ntk_bridge.experiments.UnreadableSummary: kernel-share summary ... was written in another layout than this
      code reads (TypeError: ...); rerun `ntk-bridge kernel-share` with the same options to rebuild it from its
      stored points (or `ntk-bridge verify --remove-stale`)
      >>> issubclass(experiments.UnreadableSummary, ValueError)
      True
    """


def read(record: dict):
    """The typed view of a summary record (its experiment's ``read``).

    ``module(record["experiment"]).read(record)``: a frozen dataclass (a ``stats.Summary``) whose
    ``record`` is the record and whose ``result`` holds its rows and fits.

    Args:
      record: a summary record (``ntk_bridge.selection.summary``, ``store.load(..., kind="summary")``).

    Returns:
      The experiment's typed summary (e.g. ``ClosenessSummary`` for ``closeness``).

    Raises:
      UnreadableSummary: when its result does not have this code's layout (made by another version of
        ntk_bridge): a ``KeyError``, ``TypeError`` or ``ValueError`` of the reader; the message says how to
        rebuild it from its stored points.
      ValueError: when ``record`` has no ``"experiment"``, or names an experiment that is not registered.

    Examples:
      >>> from ntk_bridge import experiments, selection
      >>> summary = experiments.read(selection.summary("results/reference", "closeness"))
      >>> type(summary).__name__, summary.record["experiment"]
      ('ClosenessSummary', 'closeness')
    """
    if "experiment" not in record:
        raise ValueError(f"record is not a summary record: it has no 'experiment' (keys: {sorted(record)})")
    reader = module(record["experiment"]).read
    try:
        return reader(record)
    except (KeyError, TypeError, ValueError) as exc:
        name = record.get("experiment")
        raise UnreadableSummary(
            f"{name} summary {record.get('config_hash')} was written in another layout than this code reads "
            f"({type(exc).__name__}: {exc}); rerun `ntk-bridge {name}` with the same options to rebuild it from "
            f"its stored points (or `ntk-bridge verify --remove-stale`)") from None


def algorithms() -> dict[str, int]:
    """Every experiment's current algorithm version (imports each module, which registers it with the store).

    Returns:
      ``{experiment name: ALGORITHM of its module (int >= 1)}``, in report order.

    Examples:
      >>> from ntk_bridge import experiments, store
      >>> versions = experiments.algorithms()
      >>> list(versions) == list(experiments.names()), versions["closeness"] == store.ALGORITHMS["closeness"]
      (True, True)
    """
    return {name: module(name).ALGORITHM for name in names()}


def configure(name: str, quick: bool = False, **overrides):
    """The quick or full config of ``name`` with ``overrides`` applied (``None`` values ignored).

    ``dataclasses.replace(Config.quick() if quick else Config(), **overrides)``, except that ``family``
    sets ``tasks.family`` (or ``families`` to that one family); ``family="digits"`` starts from the
    experiment's ``Config.digits(quick)`` where it has one.

    Args:
      name: the experiment's command name (one of ``names()``).
      quick: ``True`` for ``Config.quick()`` (what ``reproduce --quick`` runs), ``False`` for ``Config()``.
      **overrides: config fields to set (CLI options, ``_`` for ``-``), and ``family``.

    Returns:
      The experiment's frozen ``Config`` dataclass.

    Raises:
      ValueError: when an override names an option the experiment does not have; (propagated) when
        ``name`` is not an experiment (``module``) or a value is invalid (the ``Config``'s checks).

    Examples:
      >>> from ntk_bridge import experiments
      >>> experiments.configure("closeness", quick=True, depths=(1, 2)).depths
      (1, 2)
      >>> experiments.configure("closeness", quick=True, family="digits").tasks.family
      'digits'
      >>> experiments.configure("closeness", bogus=1)
      Traceback (most recent call last):
      ValueError: experiment 'closeness' has no option --bogus
    """
    mod = module(name)
    config = mod.Config.quick() if quick else mod.Config()
    if overrides.get("family") == "digits" and hasattr(mod.Config, "digits"):
        config = mod.Config.digits(quick)  # real images: sizes that fit the digits class pools
        overrides = dict(overrides, family=None)
    fields = {f.name for f in dataclasses.fields(config)}
    changes = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "family" and "families" in fields:
            changes["families"] = (value,)
        elif key == "family" and "tasks" in fields:
            changes["tasks"] = dataclasses.replace(config.tasks, family=value)
        elif key in fields:
            changes[key] = value
        else:
            raise ValueError(f"experiment {name!r} has no option --{key.replace('_', '-')}")
    return dataclasses.replace(config, **changes)


# Sweeps `reproduce` runs besides each experiment's own config: (experiment, family) pairs,
# configured by configure(name, quick, family=...).  Real images: one digits closeness sweep.
EXTRA_RUNS = (("closeness", "digits"),)


def reproduce_plan(quick: bool = False) -> list[tuple[str, object]]:
    """``(name, config)`` of every sweep ``ntk-bridge reproduce`` runs, in order: each experiment of
    ``names`` with its quick or full config, then ``EXTRA_RUNS``.

    Nothing is run; each config is ``configure(name, quick=quick[, family=...])``.

    Args:
      quick: ``True`` for the quick configs (``reproduce --quick``), ``False`` for the full ones.

    Returns:
      A list of ``(experiment name, Config)`` pairs.

    Examples:
      >>> from ntk_bridge import experiments
      >>> plan = experiments.reproduce_plan(quick=True)
      >>> len(plan) == len(experiments.names()) + len(experiments.EXTRA_RUNS), plan[0][0]
      (True, 'kernel-share')
      >>> plan[-1][0], plan[-1][1].tasks.family
      ('closeness', 'digits')
    """
    plan = [(name, configure(name, quick=quick)) for name in names()]
    return plan + [(name, configure(name, quick=quick, family=family)) for name, family in EXTRA_RUNS]


def run(name: str, config=None, root=store.DEFAULT_ROOT) -> dict:
    """Run experiment ``name`` with ``config`` (default: its full config); return its summary record.

    ``module(name).run(config, root)``: computes the points not yet stored under ``root`` (the sweep
    resumes), then stores (or keeps) the summary.  Nothing is selected in ``selection.json``.  The
    full config takes minutes to hours; ``configure(name, quick=True)`` gives the quick one.

    Args:
      name: the experiment's command name (one of ``names()``).
      config: its ``Config`` (``configure``); ``None``: the full ``Config()``.
      root: the results root the records are written under (default ``results/``).

    Returns:
      The summary record (a dict; ``read`` gives its typed view).

    Raises:
      ValueError: (from ``module``) when ``name`` is not an experiment; whatever the experiment raises.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import experiments
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> config = experiments.configure("kernel-share", quick=True, depths=(1, 2), n_points=8, seeds=2, n_boot=10)
      >>> rec = experiments.run("kernel-share", config, root)
      >>> rec["kind"], len(rec["result"]["points"])   # 2 depths x 2 seeds
      ('summary', 4)
      >>> summary = experiments.read(rec)
      >>> [(row.depth, round(row.diag_share.mean, 4)) for row in summary.rows]   # exactly 1 / (L + 1)
      [(1, 0.5), (2, 0.3333)]
      >>> experiments.run("kernel-share", config, root)["config_hash"] == rec["config_hash"]   # resumed
      True
      >>> tmp.cleanup()
    """
    mod = module(name)
    return mod.run(mod.Config() if config is None else config, root)
