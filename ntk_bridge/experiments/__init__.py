"""Experiments: importable sweeps with frozen-dataclass configs, storing records (``ntk_bridge.store``).

Each module holds ``NAME``, a ``Config`` (``Config()`` full, ``Config.quick()`` for
``reproduce --quick``) and ``run(config, root) -> summary record``.  Ablations import a
config and vary it::

    from ntk_bridge.experiments import closeness
    cfg = dataclasses.replace(closeness.Config.quick(), depths=(1, 4, 16), seeds=2)
    summary = closeness.run(cfg, root="results/mine")

Sweeps resume: points already stored are read back, never recomputed.
"""
from __future__ import annotations

import dataclasses
import importlib

from .. import store

# The one list of experiments (command name -> module), in run and report order: the CLI's
# subcommands, `reproduce` and the appendix all take it from here.
MODULES = {"closeness": "closeness", "width": "width", "kernel-share": "kernel_share",
           "accuracy": "accuracy", "cost": "cost", "ablate": "ablate", "finite-closeness": "finite_closeness",
           "conditioning": "conditioning"}
ORDER = tuple(MODULES)


def module(name: str):
    """The module of experiment ``name`` (a key of ``MODULES``)."""
    if name not in MODULES:
        raise ValueError(f"experiment must be one of {ORDER}, got {name!r}")
    return importlib.import_module(f"{__name__}.{MODULES[name]}")


def algorithms() -> dict[str, int]:
    """Every experiment's current algorithm version (imports each module, which registers it with the store)."""
    return {name: module(name).ALGORITHM for name in ORDER}


def configure(name: str, quick: bool = False, **overrides):
    """The quick or full config of ``name`` with ``overrides`` applied (``None`` values ignored).

    ``family`` sets ``tasks.family`` (or ``families`` to that one family); ``family="digits"``
    starts from the experiment's ``Config.digits(quick)`` where it has one.  Raises
    ``ValueError`` for an option the experiment does not have or an invalid value.
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
    :data:`ORDER` with its quick or full config, then :data:`EXTRA_RUNS`."""
    plan = [(name, configure(name, quick=quick)) for name in ORDER]
    return plan + [(name, configure(name, quick=quick, family=family)) for name, family in EXTRA_RUNS]


def run(name: str, config=None, root=store.DEFAULT_ROOT) -> dict:
    """Run experiment ``name`` with ``config`` (default: its full config); return its summary record."""
    mod = module(name)
    return mod.run(mod.Config() if config is None else config, root)
