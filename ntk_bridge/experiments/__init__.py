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
    """Add experiment ``name`` implemented by the module ``module_path`` (absolute, dotted) to the registry."""
    if not isinstance(name, str) or not name or "/" in name or name.startswith((".", "-")):
        raise ValueError(f"experiment name must be a plain command name, got {name!r}")
    if name in MODULES and MODULES[name] != module_path:
        raise ValueError(f"experiment {name!r} is already registered (module {MODULES[name]})")
    MODULES[name] = module_path


def names() -> tuple:
    """Every experiment, in report order (this package's, then the registered ones)."""
    return tuple(MODULES)


def module(name: str):
    """The module of experiment ``name`` (a key of ``MODULES``)."""
    if name not in MODULES:
        raise ValueError(f"experiment must be one of {names()}, got {name!r}")
    return importlib.import_module(MODULES[name])


def _paths(package: str, entries) -> dict:
    """``{name: module path}``: bare names are modules of ``package``; a dotted path names itself (last part)."""
    return {e.rpartition(".")[2]: (e if "." in e else f"{package}.{e}") for e in entries}


def figures() -> dict:
    """``{figure name: module path}`` of every figure, in report order: each experiment's ``FIGURES``, then
    ``SHARED_FIGURES``."""
    entries = [f for name in names() for f in getattr(module(name), "FIGURES", ())] + list(SHARED_FIGURES)
    return _paths("ntk_bridge.figures", entries)


def sections() -> dict:
    """``{section name: module path}`` of the appendix, in document order: ``SECTIONS_BEFORE``, each
    experiment's ``SECTIONS``, ``SECTIONS_AFTER``."""
    entries = [*SECTIONS_BEFORE, *(x for name in names() for x in getattr(module(name), "SECTIONS", ())),
               *SECTIONS_AFTER]
    return _paths("ntk_bridge.appendix.sections", entries)


class UnreadableSummary(ValueError):
    """A stored summary this code's typed reader cannot read: written in another layout, by another version."""


def read(record: dict):
    """The typed view of a summary record (its experiment's ``read``).

    Raises:
      UnreadableSummary: its result does not have this code's layout (made by another version of
        ntk_bridge); the message says how to rebuild it from its stored points.
    """
    try:
        return module(record["experiment"]).read(record)
    except (KeyError, TypeError, ValueError) as exc:
        name = record.get("experiment")
        raise UnreadableSummary(
            f"{name} summary {record.get('config_hash')} was written in another layout than this code reads "
            f"({type(exc).__name__}: {exc}); rerun `ntk-bridge {name}` with the same options to rebuild it from "
            f"its stored points (or `ntk-bridge verify --remove-stale`)") from None


def algorithms() -> dict[str, int]:
    """Every experiment's current algorithm version (imports each module, which registers it with the store)."""
    return {name: module(name).ALGORITHM for name in names()}


def configure(name: str, quick: bool = False, **overrides):
    """The quick or full config of ``name`` with ``overrides`` applied (``None`` values ignored).

    ``family`` sets ``tasks.family`` (or ``families`` to that one family); ``family="digits"``
    starts from the experiment's ``Config.digits(quick)`` where it has one.  Raises
    ``ValueError`` for an option the experiment does not have or an invalid value.

    Example:
      >>> from ntk_bridge import experiments
      >>> experiments.configure("closeness", quick=True, depths=(1, 2)).depths
      (1, 2)
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
    ``names`` with its quick or full config, then ``EXTRA_RUNS``."""
    plan = [(name, configure(name, quick=quick)) for name in names()]
    return plan + [(name, configure(name, quick=quick, family=family)) for name, family in EXTRA_RUNS]


def run(name: str, config=None, root=store.DEFAULT_ROOT) -> dict:
    """Run experiment ``name`` with ``config`` (default: its full config); return its summary record."""
    mod = module(name)
    return mod.run(mod.Config() if config is None else config, root)
