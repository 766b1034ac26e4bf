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

    Attributes:
      mean: the mean over the ``n`` seeds, in the units of the quantity (a gap, an MSE, an accuracy, ...).
      std: the sample standard deviation (``ddof=1``) over the seeds, same units; ``0.0`` for one seed.
      n: the number of seeds the mean is over.
      failed: seeds that could not be computed (not in ``n``).
      excluded: seeds left out (not in ``n``).

    Examples:
      A stored spread from the committed reference record of the closeness sweep: the relative gap between
      MTL and no transfer at each depth, over 5 seeds:

      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import closeness
      >>> from ntk_bridge.experiments.stats import Stat
      >>> s = closeness.read(selection.summary("results/reference", "closeness"))
      >>> first = s.result.transfer[0]
      >>> type(first).__name__, first.n, first.failed, first.mean
      ('Stat', 5, 0, 0.98...)
      >>> Stat(mean=0.5, std=0.1, n=3)
      Stat(mean=0.5, std=0.1, n=3, failed=0, excluded=0)
    """

    mean: float
    std: float
    n: int
    failed: int = 0
    excluded: int = 0

    @classmethod
    def read(cls, d) -> "Stat | None":
        """``{"mean", "std", "n"[, "failed", "excluded"]}`` as a ``Stat``; ``None`` for ``None`` or an error entry.

        A missing or ``None`` ``std`` reads as ``0.0``, a missing ``n``, ``failed`` or ``excluded`` as 0.

        Args:
          d: a dict of ``common.stat`` (plus ``failed``/``excluded``), or anything else (``None``, an error
            entry ``{"error": ...}``).

        Returns:
          ``Stat``, or ``None`` when ``d`` is not a dict holding ``"mean"``.

        Examples:
          >>> from ntk_bridge.experiments.common import stat
          >>> from ntk_bridge.experiments.stats import Stat
          >>> Stat.read(stat([1.0, 2.0, 3.0]))
          Stat(mean=2.0, std=1.0, n=3, failed=0, excluded=0)
          >>> Stat.read({"error": "not computable"}) is None, Stat.read(None) is None
          (True, True)
        """
        if not isinstance(d, dict) or "mean" not in d:
            return None
        return cls(float(d["mean"]), float(d.get("std") or 0.0), int(d.get("n") or 0), int(d.get("failed") or 0),
                   int(d.get("excluded") or 0))

    def scaled(self, k: float) -> "Stat":
        """The same stat in other units (``k * mean``, ``k * std``).

        Args:
          k: the unit conversion factor (``> 0`` for a meaningful ``std``: a negative ``k`` makes it negative).

        Returns:
          ``Stat`` with ``mean`` and ``std`` multiplied by ``k``, the counts unchanged.

        Examples:
          >>> from ntk_bridge.experiments.stats import Stat
          >>> Stat(mean=0.25, std=0.5, n=3).scaled(100.0)
          Stat(mean=25.0, std=50.0, n=3, failed=0, excluded=0)
        """
        return dataclasses.replace(self, mean=k * self.mean, std=k * self.std)


@dataclasses.dataclass(frozen=True)
class Summary:
    """A stored summary record, typed by its experiment's ``read``: the record itself and its config.

    The base class of each experiment's summary (``ablate.AblateSummary``, ...), which adds its typed
    ``result``.  ``record`` is left out of the ``repr`` and of comparisons.

    Attributes:
      record: the summary record as stored (a dict: ``"config"``, ``"result"``, ``"timings"``, ``"digest"``, ...).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import ablate
      >>> from ntk_bridge.experiments.stats import Summary
      >>> rec = selection.summary("results/reference", "ablate")
      >>> s = ablate.read(rec)
      >>> isinstance(s, Summary), s.record is rec, s.config == rec["config"]
      (True, True, True)
    """

    record: dict = dataclasses.field(repr=False, compare=False)

    @property
    def config(self) -> dict:
        """The stored configuration of the sweep (``record["config"]``, plain JSON data)."""
        return self.record["config"]


@dataclasses.dataclass(frozen=True)
class PowerFit:
    """``y ~ c * x^-r``, least squares in log-log, bootstrap interval ``[r_lo, r_hi]`` at ``level``.

    ``error`` (then the numbers are NaN) says why no fit was made; ``x`` lists the fitted
    abscissae when the summary stored them; ``monotone`` whether the means fall at every step;
    ``note`` how the interval was obtained when not the default bootstrap over seeds.

    Attributes:
      r: the fitted exponent (``y ~ c * x^-r``; theory: ``1/2`` in width, ``1`` in depth for the gaps).
      c: the fitted prefactor, in the units of ``y``.
      r_lo: the lower end of the bootstrap interval of ``r``.
      r_hi: the upper end of the bootstrap interval of ``r``.
      level: the interval's coverage in ``(0, 1)`` (e.g. ``0.9``), or ``None`` when no fit was made.
      x: the fitted abscissae (widths, depths), ``()`` when not stored.
      monotone: whether the means fall at every step of ``x`` (``None``: not checked).
      error: why no fit was made (``None`` when it was).
      note: how the interval was obtained when not the default bootstrap over seeds (``None``: the default).

    Examples:
      The width sweep's reference record fits ``err ~ c * width^-r`` per (depth, method):

      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import width
      >>> from ntk_bridge.experiments.stats import PowerFit
      >>> s = width.read(selection.summary("results/reference", "width"))
      >>> fit = s.result.curves[2, "mtl-shared"].fit
      >>> fit.ok, fit.x, fit.level, fit.r_lo <= fit.r <= fit.r_hi
      (True, (256, 1024, 4096), 0.9, True)
      >>> PowerFit(error="fewer than 2 depths").ok
      False
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
        """Whether a fit was made (``error is None``)."""
        return self.error is None

    @classmethod
    def read(cls, d, x=()) -> "PowerFit | None":
        """A stored ``fit_power_law`` dict (plus optional ``depths``/``monotone_decreasing``); ``None`` if absent.

        Args:
          d: ``metrics.fit_power_law``'s dict (``"r"``, ``"c"``, ``"r_lo"``, ``"r_hi"``, ``"level"``), optionally
            with ``"depths"`` (the abscissae), ``"monotone_decreasing"`` and ``"interval"`` (the ``note``); a dict
            without ``"r"`` is a failed fit (its ``"error"``, else ``"no fit"``); anything else is absent.
          x: the abscissae when ``d`` holds no ``"depths"``.

        Returns:
          ``PowerFit`` (with ``error`` set when ``d`` has no ``"r"``), or ``None`` when ``d`` is not a dict.

        Raises:
          KeyError: when ``d`` holds ``"r"`` but not ``"c"``, ``"r_lo"`` or ``"r_hi"``.

        Examples:
          >>> import numpy as np
          >>> from ntk_bridge import metrics
          >>> from ntk_bridge.experiments.stats import PowerFit
          >>> x = np.array([64.0, 256.0, 1024.0])
          >>> fit = PowerFit.read(metrics.fit_power_law(x, 2.0 * x ** -0.5, n_boot=20), x=(64, 256, 1024))
          >>> round(fit.r, 6), round(fit.c, 6), fit.x, fit.ok
          (0.5, 2.0, (64, 256, 1024), True)
          >>> PowerFit.read({"error": "fewer than 2 depths"}).error, PowerFit.read(None)
          ('fewer than 2 depths', None)
        """
        if not isinstance(d, dict):
            return None
        if "r" not in d:
            return cls(error=str(d.get("error", "no fit")))
        return cls(float(d["r"]), float(d["c"]), float(d["r_lo"]), float(d["r_hi"]), d.get("level"),
                   tuple(d.get("depths", x)), d.get("monotone_decreasing"), note=d.get("interval"))


@dataclasses.dataclass(frozen=True)
class LinearFit:
    """``gap = a * x + b / L + c`` by least squares over ``n`` points, with its ``r2`` (``error``: no fit).

    The closeness sweep's fit of the GBML-MTL gap over its ``lr x steps`` grid (``closeness.lr_steps_fit``):
    ``x`` is ``lr * steps`` (or its scaled form), ``L`` the depth.

    Attributes:
      n: the number of grid points fitted.
      a: the slope in ``x`` (gap units per unit of ``x``); NaN when no fit was made.
      b: the coefficient of ``1 / L``; NaN when no fit was made.
      c: the constant (gap units); NaN when no fit was made.
      r2: the coefficient of determination ``1 - sum(resid^2) / sum((gap - mean gap)^2)``; NaN when no fit.
      rmse: the root mean square residual ``sqrt(mean(resid^2))`` (gap units); NaN when no fit or not stored.
      error: why no fit was made (e.g. ``"fewer than 4 points"``), ``None`` when it was.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import closeness
      >>> s = closeness.read(selection.summary("results/reference", "closeness"))
      >>> fit = s.result.lr_steps["anil"].fit
      >>> type(fit).__name__, fit.ok, fit.n, 0.0 <= fit.r2 <= 1.0
      ('LinearFit', True, 30, True)
    """

    n: int
    a: float = math.nan
    b: float = math.nan
    c: float = math.nan
    r2: float = math.nan
    rmse: float = math.nan
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether a fit was made (``error is None``)."""
        return self.error is None

    @classmethod
    def read(cls, d) -> "LinearFit | None":
        """A stored ``closeness.lr_steps_fit`` dict as a ``LinearFit``; ``None`` if absent.

        Args:
          d: ``{"a", "b", "c", "r2", "n"[, "rmse"]}``; a dict without ``"a"`` is a failed fit (``"n"`` and
            its ``"error"``, else ``"no fit"``); anything else is absent.

        Returns:
          ``LinearFit`` (with ``error`` set when ``d`` has no ``"a"``), or ``None`` when ``d`` is not a dict.

        Raises:
          KeyError: when ``d`` holds ``"a"`` but not ``"n"``, ``"b"``, ``"c"`` or ``"r2"``.

        Examples:
          >>> from ntk_bridge.experiments import closeness
          >>> from ntk_bridge.experiments.stats import LinearFit
          >>> rows = [{"depth": L, "lr_steps": x, "gap": 0.5 * x + 0.2 / L + 0.1} for L in (1, 2) for x in (0.1, 0.5)]
          >>> fit = LinearFit.read(closeness.lr_steps_fit(rows))
          >>> fit.n, round(fit.a, 6), round(fit.b, 6), round(fit.c, 6), round(fit.r2, 6)
          (4, 0.5, 0.2, 0.1, 1.0)
          >>> LinearFit.read(closeness.lr_steps_fit(rows[:3]))
          LinearFit(n=3, a=nan, b=nan, c=nan, r2=nan, rmse=nan, error='fewer than 4 points')
        """
        if not isinstance(d, dict):
            return None
        if "a" not in d:
            return cls(int(d.get("n", 0)), error=str(d.get("error", "no fit")))
        return cls(int(d["n"]), float(d["a"]), float(d["b"]), float(d["c"]), float(d["r2"]),
                   float(d.get("rmse", math.nan)))
