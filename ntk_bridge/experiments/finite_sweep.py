"""What the sweeps of trained nets share (``width``, ``finite-closeness``): which runs count, their
statistics over kept seeds, and per-method width caps.

A trained run counts unless it was not computable, left the kernel regime (its loss rose by more
than ``finite.RISE_TOL`` in one step) or did not converge; ``include_flagged=True`` lets the last
two back in (never the first).  Runs left out are listed in the summary with ``exclusion``'s
reason.  ``max_widths = ((method, n_max), ...)`` trains a method only at widths ``<= n_max``
(second-order MAML costs several times the others); a method is keyed by its
``name``, whatever its split or test head.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import validate
from ..finite.schedule import RISE_TOL
from ..methods import parse
from .common import stat


@dataclasses.dataclass(frozen=True)
class Excluded:
    """A trained run left out of a summary's statistics and fits, and why (``exclusion``)."""

    method: str     # as the sweep names it (width: Method name; finite-closeness: Method label)
    depth: int
    width: int
    seed: int
    point: str      # the point record's hash
    reason: str


# What a trained run's record keeps of its ``fit_predict`` info for ``exclusion`` and the reports.
FLAG_KEYS = ("converged", "left_kernel_regime", "rises", "max_step_ratio", "steps", "final_loss", "initial_loss")


def exclusion(result: dict, include_flagged: bool = False) -> str | None:
    """Why a trained run stays out of a summary's statistics and fits, or ``None`` when it counts."""
    if result.get("not_computable"):
        return f"not computable: {result['not_computable']}"
    if include_flagged:
        return None
    if result.get("left_kernel_regime"):
        return (f"left the kernel regime: the loss rose {result['rises']} times, by up to "
                f"{result['max_step_ratio']:.3g}x in one step (rule: > {RISE_TOL:g}x)")
    if not result["converged"]:
        ratio = result["final_loss"] / result["initial_loss"] if result["initial_loss"] else float("nan")
        return f"not converged: final loss {ratio:.3g} x the initial loss after {result['steps']} outer steps"
    return None


def kept_stat(values, keep=None) -> dict | None:
    """``stat`` over the finite entries of ``values`` (``None``: none).

    With ``keep`` (one flag per value) only the flagged ones count, and the count of the others is
    stored as ``"excluded"`` when there are any.
    """
    flags = [True] * len(values) if keep is None else list(keep)
    kept = [v for v, k in zip(values, flags) if k and v is not None and np.isfinite(v)]
    if not kept:
        return None
    out = stat(kept)
    if keep is not None and len(kept) < len(values):
        out["excluded"] = len(values) - len(kept)
    return out


def check_caps(caps, methods, name: str = "max_widths") -> tuple:
    """``caps`` (the field ``name``): a tuple of ``(method, width)`` pairs, each method one of ``methods``."""
    if not isinstance(caps, tuple) or any(not isinstance(c, tuple) or len(c) != 2 or c[0] not in methods
                                          for c in caps):
        raise ValueError(f"{name} must be a tuple of (method, width) pairs with a method of {methods}, "
                         f"got {caps!r}")
    for m, n in caps:
        validate.integer(f"{name} of {m}", n, 1)
    return caps


def widths_for(widths, caps, method) -> tuple:
    """The widths of ``widths`` at which ``method`` (a Method or any name/label) is trained, under ``caps``."""
    cap = dict(caps or ()).get(parse(method).name)
    return tuple(n for n in widths if cap is None or n <= cap)
