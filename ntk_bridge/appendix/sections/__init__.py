"""The appendix sections, one module each; a builder takes the :class:`~..context.Context` and returns a Section.

A section whose experiment was never run (no summary record) says so and names the
command that produces it.  The order of :data:`BUILDERS` is the order of the document.
"""
from __future__ import annotations

from ..context import Context
from ..render import Section
from . import ablate, accuracy, checks, closeness, conditioning, cost, digits, finite_closeness, kernels, setup, width

BUILDERS = (setup.build, kernels.build, closeness.build, width.build, finite_closeness.build, cost.build,
            accuracy.build, ablate.build, conditioning.build, digits.build, checks.build)
NAMES = ("setup", "kernels", "closeness", "width", "finite_closeness", "cost", "accuracy", "ablate", "conditioning",
         "digits", "checks")


def other_figures(ctx: Context) -> Section | None:
    """Figures of the figures folder that belong to no section."""
    figs = ctx.figures_for("other")
    return Section("figures", "Further figures", figs) if figs else None
