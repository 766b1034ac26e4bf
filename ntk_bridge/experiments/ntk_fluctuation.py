"""NTK fluctuation at finite width against Hanin & Nica's constant (theory.md §10).

Per ``(L, n)``: ``Theta(x, x)`` of ``n_nets`` bias-free He-initialized ReLU nets on one unit input
(``ntk_bridge.finite.fluctuation.diagonal``), its mean beside the infinite-width kernel, and
three fluctuation measures, each against ``beta = L / n``:

* ``ratio``: ``log(E[Theta^2] / E[Theta]^2)``, Hanin & Nica's quantity (``≃ 5 beta``);
* ``log_var``: ``Var[log Theta]`` (equal to ``ratio`` for a log-normal, and not dominated by
  rare nets, so it estimates well where the tail is heavy);
* ``head``: ``ratio`` of the head's part alone, whose exact value is ``L log(1 + 5/n)``.

The summary fits each through the origin, ``y = k beta`` (weighted least squares, weights from a
bootstrap over nets; bootstrap interval of ``k``), over the points with ``beta <= beta_max``, to set
beside 5.  Beyond that the tail of ``Theta`` is heavy enough that a few hundred nets underestimate
``E[Theta^2]`` (the head's part, whose value is exact, shows by how much: ``head_exact_k`` is the
same fit of the exact values, so ``fits["head"]`` against it calibrates the estimator).
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import ClassVar

import numpy as np

from .. import store, sweep
from ..finite import fluctuation
from ..kernels import kernels
from ..spec import MLPSpec
from . import schema
from .common import check_int, check_ints, point, save_summary
from .stats import Summary

NAME = "ntk-fluctuation"
ALGORITHM = 1  # bump when this module would store other results for the same config (store.register)
store.register(NAME, ALGORITHM)
FIGURES = ("ntk_fluctuation",)
SECTIONS = ("ntk_fluctuation",)
QUICK_S = 5   # seconds of its quick config (2-core machine, 2026-12-04): reproduce starts the longest first

HANIN_NICA = 5.0        # their exponent: E[Theta^2] / E[Theta]^2 ≃ exp(5 beta)
SMALL_BETA = 11.0 / 3   # theory.md §10: the whole diagonal's log-variance per unit beta, small beta, many layers
MEASURES = ("ratio", "log_var", "head")
LEVEL = 0.9


@dataclasses.dataclass(frozen=True)
class Config:
    """The ntk-fluctuation sweep: ``Theta(x, x)`` of many nets per ``(depth, width)``.

    ``n_nets`` initializations per ``(depth, width)``; one input ``x`` uniform on the unit sphere in ``dim``
    dimensions (drawn from ``input_seed``); nets from ``seed``.

    Attributes:
      AXES: the fields that are sweep axes or summary-only options (class constant, not a field): kept out
        of each point's configuration (``common.point``).
      depths: hidden-layer counts ``L``, a non-empty tuple of ints ``>= 1``.
      widths: hidden widths ``n``, a non-empty tuple of ints ``>= 2``.
      n_nets: initializations per ``(L, n)``, ``>= 10``.
      dim: input dimension.
      input_seed: seed of the one input ``x``, ``>= 0``.
      seed: seed of the nets (each point draws its own stream from ``(seed, L, n)``), ``>= 0``.
      n_boot: bootstrap resamplings over nets, ``>= 10``.
      beta_max: points with ``beta = L / n`` above it are reported, not fitted (``> 0``).

    Raises:
      ValueError: when a field is invalid, or fewer than two distinct ``beta = L / n <= beta_max`` (no slope).

    Examples:
      >>> from ntk_bridge.experiments import ntk_fluctuation
      >>> cfg = ntk_fluctuation.Config.quick()
      >>> cfg.depths, cfg.widths, cfg.n_nets
      ((1, 2, 4, 8), (64,), 200)
      >>> ntk_fluctuation.Config(depths=(8,), widths=(64,))
      Traceback (most recent call last):
      ValueError: depths x widths must give at least two values of beta = L/n <= beta_max to fit a slope
    """

    AXES: ClassVar[tuple] = ("depths", "widths", "n_boot", "beta_max")
    depths: tuple = (1, 2, 4, 8, 16, 32)
    widths: tuple = (64, 128, 256, 512, 1024)
    n_nets: int = 500
    dim: int = 16
    input_seed: int = 0
    seed: int = 0
    n_boot: int = 1000
    beta_max: float = 0.125   # points with L/n above it are reported, not fitted

    def __post_init__(self):
        check_ints("depths", self.depths)
        check_ints("widths", self.widths, 2)
        check_int("n_nets", self.n_nets, 10)
        check_int("dim", self.dim)
        check_int("input_seed", self.input_seed, 0)
        check_int("seed", self.seed, 0)
        check_int("n_boot", self.n_boot, 10)
        if not (isinstance(self.beta_max, (int, float)) and self.beta_max > 0):
            raise ValueError(f"beta_max must be a positive number, got {self.beta_max!r}")
        if len(set(d / w for d in self.depths for w in self.widths if d / w <= self.beta_max)) < 2:
            raise ValueError("depths x widths must give at least two values of beta = L/n <= beta_max to fit a slope")

    @classmethod
    def quick(cls) -> "Config":
        return cls(depths=(1, 2, 4, 8), widths=(64,), n_nets=200, n_boot=200)


def _input(dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng([seed, 10]).standard_normal(dim)
    return x / np.linalg.norm(x)


def _compute(p: dict) -> dict:
    spec = MLPSpec(depth=p["depth"], width=p["width"])
    # one stream per point: nets shared across points would correlate the points' errors (and the fits')
    seed = int(np.random.SeedSequence([p["seed"], p["depth"], p["width"]]).generate_state(1)[0])
    parts = fluctuation.diagonal(spec, _input(p["dim"], p["input_seed"]), n_nets=p["n_nets"], seed=seed)
    return {"theta": parts.sum(1).tolist(), "head": parts[:, -1].tolist()}


def measures(theta, head) -> dict:
    """The three fluctuation measures (module docstring) of one point's samples.

    ``ratio = log(mean(theta^2) / mean(theta)^2)``, ``log_var = var(log theta)`` (population variance) and
    ``head = log(mean(head^2) / mean(head)^2)``.

    Args:
      theta: samples of ``Theta(x, x)``, one per net, shape ``(n_nets,)``, positive.
      head: the head's part of each sample, shape ``(n_nets,)``.

    Returns:
      ``{"ratio": float, "log_var": float, "head": float}``.

    Examples:
      >>> import math
      >>> from ntk_bridge.experiments import ntk_fluctuation
      >>> m = ntk_fluctuation.measures([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
      >>> math.isclose(m["ratio"], math.log((14 / 3) / 4)), round(m["log_var"], 4), m["head"]
      (True, 0.2058, 0.0)
    """
    theta, head = np.asarray(theta), np.asarray(head)
    return {"ratio": math.log(fluctuation.moment_ratio(theta)), "log_var": float(np.var(np.log(theta))),
            "head": math.log(fluctuation.moment_ratio(head))}


def _boot(theta, head, n_boot: int, seed: int) -> dict:
    """``{measure: (n_boot,)}`` over nets resampled with replacement."""
    theta, head = np.asarray(theta), np.asarray(head)
    idx = np.random.default_rng(seed).integers(0, len(theta), (n_boot, len(theta)))
    t, h = theta[idx], head[idx]
    ratio = lambda a: np.log(np.mean(a ** 2, axis=1) / np.mean(a, axis=1) ** 2)
    return {"ratio": ratio(t), "log_var": np.var(np.log(t), axis=1), "head": ratio(h)}


def fit_slope(beta, y, boot, level: float = LEVEL) -> "Slope":
    """Fit ``y = k beta`` through the origin, weighted by the bootstrap, with a bootstrap interval of ``k``.

    ``y = k beta`` through the origin, weights ``1 / var(y)`` from the bootstrap ``boot (n_boot, points)``;
    the interval of ``k`` from refitting every bootstrap draw.

    ``k = sum(w beta y) / sum(w beta^2)`` with ``w = 1 / var(boot, axis=0)``; each bootstrap row refitted with
    the same weights gives a ``k``, and ``[lo, hi]`` are their ``(1 -+ level) / 2`` quantiles.

    Args:
      beta: the abscissae ``L / n``, shape ``(points,)``.
      y: a measure at each point, shape ``(points,)``.
      boot: bootstrap draws of ``y``, shape ``(n_boot, points)``.
      level: the interval's coverage, in ``(0, 1)``.

    Returns:
      A ``Slope`` (``k``, ``lo``, ``hi``, ``level``, ``n = points``).

    Examples:
      >>> from ntk_bridge.experiments import ntk_fluctuation
      >>> s = ntk_fluctuation.fit_slope([0.1, 0.2], [0.5, 1.0], [[0.4, 0.9], [0.6, 1.1]])
      >>> round(s.k, 4), round(s.lo, 4), round(s.hi, 4), s.level, s.n
      (5.0, 4.46, 5.54, 0.9, 2)
      >>> s.contains(ntk_fluctuation.HANIN_NICA)
      True
    """
    beta, y, boot = np.asarray(beta, float), np.asarray(y, float), np.asarray(boot, float)
    w = 1.0 / np.maximum(boot.var(axis=0), 1e-300)
    k = float(np.sum(w * beta * y) / np.sum(w * beta ** 2))
    ks = (boot * (w * beta)).sum(axis=1) / np.sum(w * beta ** 2)
    lo, hi = np.quantile(ks, [(1 - level) / 2, (1 + level) / 2])
    return Slope(k, float(lo), float(hi), level, len(beta))


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) the sweep depth x width and store its summary; return the summary record.

    Each point samples ``Theta(x, x)`` of ``n_nets`` nets (``fluctuation.diagonal``); points already stored
    under ``root`` are read back.  The summary holds per point a ``Row`` (mean beside the infinite-width
    kernel, the three ``measures`` with bootstrap intervals, the exact head value ``L log(1 + 5/n)``), the
    slopes ``y = k beta`` (``fit_slope``) over the points with ``beta <= beta_max``, overall and per depth
    (depths with two such betas), and ``head_exact_k``, the same weighted fit of the exact head values.

    Args:
      config: the sweep (``Config``).
      root: the results folder the point and summary records are stored under.

    Returns:
      The summary record (a ``dict``, ``kind == "summary"``): ``"result"`` is ``schema.to_json`` of a
      ``FluctuationResult`` plus ``"points"``; ``read`` types it.

    Examples:
      Ten nets at depths 1 and 2, width 16 (``beta`` 1/16 and 1/8), in a temporary folder:

      >>> import math, tempfile
      >>> from ntk_bridge.experiments import ntk_fluctuation
      >>> cfg = ntk_fluctuation.Config(depths=(1, 2), widths=(16,), n_nets=10, n_boot=10)
      >>> with tempfile.TemporaryDirectory() as root:
      ...     s = ntk_fluctuation.read(ntk_fluctuation.run(cfg, root))
      >>> [(r.depth, r.beta, r.n_nets) for r in s.rows]
      [(1, 0.0625, 10), (2, 0.125, 10)]
      >>> math.isclose(s.rows[1].head_exact, 2 * math.log(1 + 5 / 16)), sorted(s.fits), s.fits["ratio"].n
      (True, ['head', 'log_var', 'ratio'], 2)
    """
    start = time.perf_counter()
    grid = [(L, n) for L in config.depths for n in config.widths]
    points = [point(config, depth=L, width=n) for L, n in grid]
    records = sweep.run(root, NAME, points, _compute, seed_of=lambda p: p["seed"])
    x = _input(config.dim, config.input_seed)
    rows, boots = [], []
    for i, ((L, n), rec) in enumerate(zip(grid, records)):
        theta, head = np.asarray(rec["result"]["theta"]), np.asarray(rec["result"]["head"])
        m = measures(theta, head)
        b = _boot(theta, head, config.n_boot, seed=i)
        boots.append(b)
        ci = {k: tuple(float(q) for q in np.quantile(b[k], [(1 - LEVEL) / 2, (1 + LEVEL) / 2])) for k in MEASURES}
        rows.append(Row(L, n, L / n, len(theta), float(theta.mean()), float(theta.std(ddof=1) / math.sqrt(len(theta))),
                        float(kernels(MLPSpec(depth=L), x[None]).theta[0, 0]),
                        {k: Estimate(m[k], *ci[k]) for k in MEASURES}, L * math.log1p(5.0 / n)))
    kept = [i for i, r in enumerate(rows) if r.beta <= config.beta_max]
    beta = [rows[i].beta for i in kept]
    fits = {k: fit_slope(beta, [rows[i].measures[k].value for i in kept],
                         np.stack([boots[i][k] for i in kept], axis=1)) for k in MEASURES}
    by_depth = {}
    for L in config.depths:   # the constant's dependence on depth: one fit per depth over its widths
        at = [i for i in kept if rows[i].depth == L]
        if len({rows[i].beta for i in at}) >= 2:
            by_depth[L] = {k: fit_slope([rows[i].beta for i in at], [rows[i].measures[k].value for i in at],
                                        np.stack([boots[i][k] for i in at], axis=1)) for k in MEASURES}
    # the exact head values through the same weights: what fits["head"] should find
    w = 1.0 / np.array([boots[i]["head"].var() for i in kept])
    b = np.array(beta)
    head_exact_k = float(np.sum(w * b * [rows[i].head_exact for i in kept]) / np.sum(w * b ** 2))
    result = FluctuationResult(tuple(rows), fits, head_exact_k, config.beta_max, by_depth)
    return save_summary(root, NAME, config, records, schema.to_json(result), start)


# --------------------------------------------------------------------------- the summary's schema
@dataclasses.dataclass(frozen=True)
class Estimate:
    """A measure at one point with its bootstrap interval (over nets).

    Attributes:
      value: the measure of the point's samples (``measures``).
      lo: lower end of its bootstrap interval (level ``LEVEL``).
      hi: upper end of that interval.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import ntk_fluctuation
      >>> s = ntk_fluctuation.read(selection.summary("results/reference", "ntk-fluctuation"))
      >>> e = s.rows[0].measures["ratio"]
      >>> e.value, e.lo <= e.value <= e.hi
      (0.04..., True)
    """

    value: float
    lo: float
    hi: float


@dataclasses.dataclass(frozen=True)
class Slope:
    """``y = k beta`` through the origin over ``n`` points, bootstrap interval ``[lo, hi]`` at ``level``.

    Attributes:
      k: the fitted slope (compare with ``HANIN_NICA = 5``).
      lo: lower end of the bootstrap interval of ``k``.
      hi: upper end of that interval.
      level: the interval's coverage (``LEVEL = 0.9``).
      n: how many points were fitted.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import ntk_fluctuation
      >>> s = ntk_fluctuation.read(selection.summary("results/reference", "ntk-fluctuation"))
      >>> f = s.fits["head"]
      >>> f.k, f.n, f.level
      (4.85..., 27, 0.9)
      >>> f.contains(f.k)
      True
    """

    k: float
    lo: float
    hi: float
    level: float
    n: int

    def contains(self, value: float) -> bool:
        return self.lo <= value <= self.hi


@dataclasses.dataclass(frozen=True)
class Row:
    """One point ``(L, n)`` of the sweep: the sampled mean of ``Theta(x, x)`` and its fluctuation measures.

    Attributes:
      depth: hidden-layer count ``L``.
      width: hidden width ``n``.
      beta: ``L / n``.
      n_nets: how many nets were sampled.
      mean: sample mean of ``Theta(x, x)``.
      mean_se: its standard error, ``std / sqrt(n_nets)`` (``ddof = 1``).
      kernel: the infinite-width ``Theta(x, x)`` (``= E[Theta(x, x)]`` exactly for bias-free ReLU nets).
      measures: ``MEASURES -> Estimate`` at this point.
      head_exact: the exact value of the head's measure, ``L log(1 + 5/n)``.

    Examples:
      >>> import math
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import ntk_fluctuation
      >>> s = ntk_fluctuation.read(selection.summary("results/reference", "ntk-fluctuation"))
      >>> r = s.rows[0]
      >>> r.depth, r.width, r.beta, r.n_nets, sorted(r.measures)
      (1, 64, 0.015625, 500, ['head', 'log_var', 'ratio'])
      >>> math.isclose(r.head_exact, math.log(1 + 5 / 64)), round(r.kernel, 4)
      (True, 0.125)
    """

    depth: int
    width: int
    beta: float
    n_nets: int
    mean: float             # sample mean of Theta(x, x)
    mean_se: float          # its standard error
    kernel: float           # infinite-width Theta(x, x) (= E[Theta(x, x)] exactly, bias-free ReLU)
    measures: dict[str, Estimate]   # MEASURES -> value at this point
    head_exact: float       # L log(1 + 5/n)


@dataclasses.dataclass(frozen=True)
class FluctuationResult:
    """What an ntk-fluctuation summary stores (``schema.to_json``).

    Attributes:
      rows: one ``Row`` per ``(L, n)``, depth-major.
      fits: ``MEASURES -> Slope`` against ``beta``, over the rows with ``beta <= beta_max``.
      head_exact_k: the same weighted fit of the head's exact values ``L log(1 + 5/n)`` (what ``fits["head"]``
        should find).
      beta_max: the largest ``beta`` fitted.
      by_depth: ``depth -> MEASURES -> Slope`` over that depth's widths (depths with two fitted betas).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import ntk_fluctuation
      >>> r = ntk_fluctuation.read(selection.summary("results/reference", "ntk-fluctuation")).result
      >>> len(r.rows), sorted(r.fits), r.beta_max, sorted(r.by_depth)
      (30, ['head', 'log_var', 'ratio'], 0.125, [1, 2, 4, 8, 16, 32])
      >>> r.head_exact_k
      4.93...
    """

    rows: tuple[Row, ...]
    fits: dict[str, Slope]  # MEASURES -> slope against beta, over rows with beta <= beta_max
    head_exact_k: float     # the same fit of the head's exact values L log(1 + 5/n)
    beta_max: float
    by_depth: dict[int, dict[str, Slope]]   # depth -> MEASURES -> slope over that depth's widths


@dataclasses.dataclass(frozen=True)
class FluctuationSummary(Summary):
    """An ntk-fluctuation summary record, typed: its ``FluctuationResult`` and accessors.

    Attributes:
      record: the stored summary record (a ``dict``; ``config`` is its ``"config"``).
      result: the typed ``FluctuationResult``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import ntk_fluctuation
      >>> s = ntk_fluctuation.read(selection.summary("results/reference", "ntk-fluctuation"))
      >>> len(s.rows), s.fits["ratio"].k, s.config["n_nets"]
      (30, 3.25..., 500)
      >>> s.mean_z() < 3
      True
    """

    result: FluctuationResult | None = None

    @property
    def rows(self) -> tuple:
        return self.result.rows

    @property
    def fits(self) -> dict:
        return self.result.fits

    def mean_z(self) -> float:
        """Largest ``|mean - kernel| / se`` over points (the mean is exact: should be a few at most)."""
        return max(abs(r.mean - r.kernel) / r.mean_se for r in self.rows)


def read(summary: dict) -> FluctuationSummary:
    """The typed view of an ntk-fluctuation summary record.

    Args:
      summary: an ntk-fluctuation summary record, as ``run`` returns it or ``selection.summary`` reads it.

    Returns:
      A ``FluctuationSummary`` of the record and its ``FluctuationResult``.

    Raises:
      ValueError: propagated from ``schema.from_json`` when the record's result does not have this code's
        layout (written by another version).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import ntk_fluctuation
      >>> s = ntk_fluctuation.read(selection.summary("results/reference", "ntk-fluctuation"))
      >>> type(s).__name__, type(s.rows[0]).__name__, type(s.fits["head"]).__name__
      ('FluctuationSummary', 'Row', 'Slope')
    """
    return FluctuationSummary(summary, schema.from_json(FluctuationResult, summary["result"]))
