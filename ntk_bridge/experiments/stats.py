"""The typed numbers summaries are made of: spreads over seeds and fits, and the ``Summary`` base.

``Stat.read``, ``PowerFit.read`` and ``LinearFit.read`` turn the plain dicts of
``common.stat``, ``metrics.fit_power_law`` and the closeness sweep's least squares into these
frozen dataclasses; each experiment's result dataclasses are built from them and stored
through ``.schema``, so figures and the appendix never index raw dicts.
"""
from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation over ``n`` seeds.

    ``failed``: seeds that could not be computed; ``excluded``: seeds left out (a finite run that
    did not converge or was not computable).
    """

    mean: float
    std: float
    n: int
    failed: int = 0
    excluded: int = 0

    @classmethod
    def read(cls, d) -> "Stat | None":
        """``{"mean", "std", "n"[, "failed"]}`` as a ``Stat``; ``None`` for ``None`` or an error entry."""
        if not isinstance(d, dict) or "mean" not in d:
            return None
        return cls(float(d["mean"]), float(d.get("std") or 0.0), int(d.get("n") or 0), int(d.get("failed") or 0),
                   int(d.get("excluded") or 0))

    def scaled(self, k: float) -> "Stat":
        """The same stat in other units (``k * mean``, ``k * std``)."""
        return dataclasses.replace(self, mean=k * self.mean, std=k * self.std)


@dataclasses.dataclass(frozen=True)
class Summary:
    """A stored summary record, typed by its experiment's ``read``: the record itself and its config."""

    record: dict = dataclasses.field(repr=False, compare=False)

    @property
    def config(self) -> dict:
        return self.record["config"]


@dataclasses.dataclass(frozen=True)
class PowerFit:
    """``y ~ c * x^-r``, least squares in log-log, bootstrap interval ``[r_lo, r_hi]`` at ``level``.

    ``error`` (then the numbers are NaN) says why no fit was made; ``x`` lists the fitted
    abscissae when the summary stored them; ``monotone`` whether the means fall at every step;
    ``note`` how the interval was obtained when not the default bootstrap over seeds.
    """

    r: float = math.nan
    c: float = math.nan
    r_lo: float = math.nan
    r_hi: float = math.nan
    level: float | None = None
    x: tuple[int | float, ...] = ()
    monotone: bool | None = None
    error: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def read(cls, d, x=()) -> "PowerFit | None":
        """A stored ``fit_power_law`` dict (plus optional ``depths``/``monotone_decreasing``); ``None`` if absent."""
        if not isinstance(d, dict):
            return None
        if "r" not in d:
            return cls(error=str(d.get("error", "no fit")))
        return cls(float(d["r"]), float(d["c"]), float(d["r_lo"]), float(d["r_hi"]), d.get("level"),
                   tuple(d.get("depths", x)), d.get("monotone_decreasing"), note=d.get("interval"))


@dataclasses.dataclass(frozen=True)
class LinearFit:
    """``gap = a * x + b / L + c`` by least squares over ``n`` points, with its ``r2`` (``error``: no fit)."""

    n: int
    a: float = math.nan
    b: float = math.nan
    c: float = math.nan
    r2: float = math.nan
    rmse: float = math.nan
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def read(cls, d) -> "LinearFit | None":
        if not isinstance(d, dict):
            return None
        if "a" not in d:
            return cls(int(d.get("n", 0)), error=str(d.get("error", "no fit")))
        return cls(int(d["n"]), float(d["a"]), float(d["b"]), float(d["c"]), float(d["r2"]),
                   float(d.get("rmse", math.nan)))
