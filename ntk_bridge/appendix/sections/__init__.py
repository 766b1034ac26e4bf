"""The appendix sections, one module each, holding ``build(ctx) -> Section``.

Which sections there are, in document order, is derived from the experiments' registry (each
experiment declares its ``SECTIONS``; ``ntk_bridge.experiments.sections``).  A section whose
experiment was never run (no summary record) says so and names the command that produces it.
"""
from __future__ import annotations

import importlib

from ..context import Context
from ..render import Section


def builders() -> list:
    """``[(name, build)]`` of every section, in document order."""
    from ... import experiments

    return [(name, importlib.import_module(path).build) for name, path in experiments.sections().items()]


def other_figures(ctx: Context) -> Section | None:
    """Figures of the figures folder that belong to no section."""
    figs = ctx.figures_for("other")
    return Section("figures", "Further figures", figs) if figs else None
