"""Kernel share: the head's part ``Sigma / Theta`` of the NTK vs depth (the mechanism of C3).

On the diagonal the share is exactly ``1 / (L + 1)`` for ReLU with ``w_std = sqrt(2)``,
``b_std = 0``; off the diagonal both kernels flatten toward constants as ``L`` grows, which
the record tracks as the spread of the normalized NTK ``Theta(x,x') / sqrt(Theta(x,x) Theta(x',x'))``
(``= Theta(x,x') / Theta(x,x)`` on the unit sphere, where the diagonal is constant); the
summary fits ``c * L^-r`` to the off-diagonal share and to that spread.  Figures and the
appendix read the summary through ``read``.
"""
from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

import numpy as np

from .. import metrics, store, sweep
from ..kernels import BACKENDS, kernels
from ..spec import MLPSpec
from . import schema
from .common import check_choice, check_int, check_ints, point, save_summary, stat
from .stats import PowerFit, Stat, Summary

NAME = "kernel-share"
ALGORITHM = 1  # bump when this module would store other results for the same config (store.register)
store.register(NAME, ALGORITHM)
FIGURES = ("kernel_share",)   # what reports it (ntk_bridge.figures, ntk_bridge.appendix.sections)
SECTIONS = ("kernels",)
QUICK_S = 1   # seconds of its quick config (2-core machine, 2026-12-04): reproduce starts the longest first


@dataclasses.dataclass(frozen=True)
class Config:
    """The kernel-share sweep: depth x seed, one point set per seed.

    Inputs: ``n_points`` uniform on the unit sphere in ``dim`` dimensions, per seed; with
    ``family="digits"``, ``n_points`` distinct images of scikit-learn's 8x8 digits (all ten
    classes, mapped to the unit sphere as in ``tasks.digits``; ``dim`` unused).  The default is
    the reference sweep (``results/reference``); ``quick()`` the one of ``reproduce --quick``.

    Attributes:
      AXES: fields left out of each point's config (``common.point``): sweep axes and summary-only
        settings, so changing them reuses the stored points (class constant, not a field).
      depths: hidden-layer counts ``L`` swept, integers ``>= 1``.
      n_points: points per seed, ``>= 3`` (two points make one off-diagonal pair: no spread to fit).
      dim: input dimension of the sphere points (unused with ``family="digits"``: 64 pixels).
      seeds: point sets drawn per depth (seed ``s`` draws from ``numpy.random.default_rng([s, 7])``).
      n_boot: bootstrap resamples (over seeds) of the power-law fits' intervals.
      backend: kernel backend, one of ``kernels.BACKENDS`` (``"native"`` or ``"nt"``).
      family: ``None`` (uniform on the sphere) or ``"digits"`` (real images).

    Raises:
      ValueError: a field out of range (non-integer or non-positive counts, ``n_points < 3``, a
        ``family`` or ``backend`` not among the choices); the message names the field.

    Examples:
      >>> from ntk_bridge.experiments import kernel_share
      >>> kernel_share.Config.quick().depths
      (1, 2, 4, 8, 16, 32, 64)
      >>> kernel_share.Config(family="sinusoid")
      Traceback (most recent call last):
      ...
      ValueError: family must be one of (None, 'digits'), got 'sinusoid'
    """

    AXES: ClassVar[tuple] = ("depths", "seeds", "n_boot", "family")
    depths: tuple = (1, 2, 4, 8, 16, 32, 64, 128)
    n_points: int = 64
    dim: int = 16
    seeds: int = 5
    n_boot: int = 2000
    backend: str = "native"
    family: str | None = None   # None: uniform on the sphere; "digits": real images

    def __post_init__(self):
        check_ints("depths", self.depths)
        check_int("n_points", self.n_points, 3)
        check_choice("family", self.family, (None, "digits"))
        check_int("dim", self.dim)
        check_int("seeds", self.seeds)
        check_int("n_boot", self.n_boot)
        check_choice("backend", self.backend, BACKENDS)

    @classmethod
    def quick(cls) -> "Config":
        return cls(depths=(1, 2, 4, 8, 16, 32, 64), n_points=32, seeds=3, n_boot=1000)


def share(spec: MLPSpec, x: np.ndarray, backend: str = "native") -> dict:
    """Head share ``Sigma/Theta`` on and off the diagonal, and the spread of the NTK's correlations.

    With ``Sigma``, ``Theta`` the infinite-width NNGP and NTK of ``spec`` on ``x`` (``kernels.kernels``)
    and ``ratio = Sigma / Theta`` elementwise, over the ``n (n - 1)`` off-diagonal pairs ``x != x'``:

        diag_share           = mean_i ratio[i, i]                  (= 1 / (L + 1) for ReLU, sqrt(2), b_std 0)
        diag_share_max_dev   = max_i |ratio[i, i] - 1 / (L + 1)|
        offdiag_share        = sum Sigma[off] / sum Theta[off]     (ratio of sums: robust where Theta ~ 0)
        offdiag_share_median = median ratio[off]
        ntk_corr_mean/std    = mean / population std of Theta[i, j] / sqrt(Theta[i, i] Theta[j, j]) over off

    Args:
      spec: the infinite-width MLP (``MLPSpec``; its ``depth`` is ``L``).
      x: ``(n, d)`` inputs, ``n >= 2`` (``n = 1`` has no off-diagonal pair: those four entries are NaN).
      backend: kernel backend, one of ``kernels.BACKENDS``.

    Returns:
      dict of Python floats with keys ``"diag_share"``, ``"diag_share_max_dev"``, ``"offdiag_share"``,
      ``"offdiag_share_median"``, ``"ntk_corr_mean"``, ``"ntk_corr_std"`` (formulas above).

    Raises:
      ValueError: from ``kernels.kernels``: a bad ``backend`` or inputs it rejects.

    Examples:
      Three orthonormal points: every off-diagonal pair has the same angle, so the off-diagonal
      quantities are constant (zero spread, median = ratio of sums):

      >>> import numpy as np
      >>> from ntk_bridge.spec import MLPSpec
      >>> from ntk_bridge.experiments import kernel_share
      >>> out = kernel_share.share(MLPSpec(depth=3), np.eye(4)[:3])
      >>> sorted(out)
      ['diag_share', 'diag_share_max_dev', 'ntk_corr_mean', 'ntk_corr_std', 'offdiag_share', 'offdiag_share_median']
      >>> round(out["diag_share"], 10), out["diag_share_max_dev"] < 1e-12     # 1 / (L + 1) with L = 3
      (0.25, True)
      >>> round(out["ntk_corr_std"], 10), bool(np.isclose(out["offdiag_share"], out["offdiag_share_median"]))
      (0.0, True)
    """
    k = kernels(spec, x, backend=backend)
    ratio = k.sigma / k.theta
    off = ~np.eye(len(x), dtype=bool)
    d = np.sqrt(np.diag(k.theta))
    corr = (k.theta / np.outer(d, d))[off]
    return {"diag_share": float(np.mean(np.diag(ratio))),
            "diag_share_max_dev": float(np.max(np.abs(np.diag(ratio) - 1.0 / (spec.depth + 1)))),
            # ratio of sums: elementwise ratios blow up where Theta(x, x') crosses zero
            "offdiag_share": float(np.sum(k.sigma[off]) / np.sum(k.theta[off])),
            "offdiag_share_median": float(np.median(ratio[off])),
            "ntk_corr_mean": float(np.mean(corr)),
            "ntk_corr_std": float(np.std(corr))}


def _compute(p: dict) -> dict:
    rng = np.random.default_rng([p["seed"], 7])
    if p.get("family") == "digits":
        from ..tasks import digit_images

        images = digit_images("sphere")[0]
        x = images[rng.choice(len(images), p["n_points"], replace=False)]
    else:
        x = rng.standard_normal((p["n_points"], p["dim"]))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    return share(MLPSpec(depth=p["depth"]), x, p["backend"])


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) the sweep depth x seed and store its summary; return the summary record.

    Each ``(depth, seed)`` point computes ``share`` on its point set and is stored under
    ``root/kernel-share`` (points already stored are reused, not recomputed).  The summary holds a
    ``DepthRow`` per depth (mean/std over seeds) and, with two depths or more, the fits
    ``c * L^-r`` of ``offdiag_share`` and ``ntk_corr_std`` with ``config.n_boot`` bootstrap resamples.

    Args:
      config: the sweep (``Config``).
      root: results folder the records are stored under (default ``results``).

    Returns:
      dict: the stored summary record (``kind == "summary"``); ``read`` gives its typed view.

    Raises:
      ValueError: from ``metrics.fit_power_law`` when a fitted quantity is not positive at some
        depth (e.g. every off-diagonal correlation equal, so ``ntk_corr_std`` is 0).

    Examples:
      >>> import tempfile
      >>> from ntk_bridge.experiments import kernel_share
      >>> config = kernel_share.Config(depths=(1, 2), n_points=4, dim=3, seeds=2, n_boot=20)
      >>> with tempfile.TemporaryDirectory() as root:
      ...     rec = kernel_share.run(config, root=root)
      ...     again = kernel_share.run(config, root=root)    # resumed: nothing recomputed or rewritten
      >>> rec["kind"], rec["experiment"], again["created"] == rec["created"]
      ('summary', 'kernel-share', True)
      >>> s = kernel_share.read(rec)
      >>> s.depths, [round(r.diag_share.mean, 10) for r in s.rows], sorted(s.fits)
      ((1, 2), [0.5, 0.3333333333], ['ntk_corr_std', 'offdiag_share'])
    """
    start = time.perf_counter()
    # family is in a point only when set: points on the sphere keep their records (and hashes)
    extra = {} if config.family is None else {"family": config.family}
    points = [point(config, depth=L, seed=s, **extra) for L in config.depths for s in range(config.seeds)]
    records = sweep.run(root, NAME, points, _compute, seed_of=lambda p: p["seed"])
    by_depth = {L: [r["result"] for r in records if r["config"]["depth"] == L] for L in config.depths}
    rows = tuple(DepthRow(L, 1.0 / (L + 1),
                          **{key: Stat.read(stat([res[key] for res in by_depth[L]])) for key in STATS},
                          diag_share_max_dev=max(res["diag_share_max_dev"] for res in by_depth[L]))
                 for L in config.depths)
    fits = {}
    if len(config.depths) >= 2:
        for key in FITTED:
            y = np.array([[res[key] for res in by_depth[L]] for L in config.depths]).T  # (seeds, depths)
            fits[key] = PowerFit.read(metrics.fit_power_law(config.depths, y, n_boot=config.n_boot),
                                      x=tuple(config.depths))
    return save_summary(root, NAME, config, records, schema.to_json(KernelShareResult(rows, fits)), start)


# --------------------------------------------------------------------------- the summary's schema
STATS = ("diag_share", "offdiag_share", "offdiag_share_median", "ntk_corr_mean", "ntk_corr_std")
FITTED = ("offdiag_share", "ntk_corr_std")


@dataclasses.dataclass(frozen=True)
class DepthRow:
    """Kernel quantities at one depth, mean/std over seeds (the keys of ``share``).

    Attributes:
      depth: number of hidden layers ``L``.
      theory_diag_share: ``1 / (L + 1)``, the exact diagonal share.
      diag_share: ``Sigma(x,x) / Theta(x,x)``, mean over points; ``Stat`` over seeds.
      offdiag_share: ``sum Sigma(x,x') / sum Theta(x,x')`` over ``x != x'``; ``Stat`` over seeds.
      offdiag_share_median: median of ``Sigma(x,x') / Theta(x,x')`` over ``x != x'``; ``Stat`` over seeds.
      ntk_corr_mean: mean of ``Theta(x,x') / sqrt(Theta(x,x) Theta(x',x'))`` over ``x != x'``; ``Stat``.
      ntk_corr_std: its spread (population std over pairs); ``Stat`` over seeds.
      diag_share_max_dev: max over points and seeds of ``|diag share - 1/(L+1)|`` (float, unitless).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import kernel_share
      >>> row = kernel_share.read(selection.summary("results/reference", "kernel-share")).rows[0]
      >>> row.depth, row.theory_diag_share, round(row.diag_share.mean, 10), row.diag_share.n
      (1, 0.5, 0.5, 5)
    """

    depth: int
    theory_diag_share: float    # 1 / (L + 1)
    diag_share: Stat            # Sigma(x,x) / Theta(x,x)
    offdiag_share: Stat         # sum Sigma(x,x') / sum Theta(x,x'), x != x'
    offdiag_share_median: Stat  # median of Sigma(x,x') / Theta(x,x'), x != x'
    ntk_corr_mean: Stat         # mean of Theta(x,x') / sqrt(Theta(x,x) Theta(x',x'))
    ntk_corr_std: Stat          # its spread
    diag_share_max_dev: float   # max over points and seeds of |diag share - 1/(L+1)|


@dataclasses.dataclass(frozen=True)
class KernelShareResult:
    """What a kernel-share summary stores (``schema.to_json``).

    Attributes:
      rows: one ``DepthRow`` per depth of the sweep, in ``Config.depths`` order.
      fits: name in ``FITTED`` (``"offdiag_share"``, ``"ntk_corr_std"``) -> ``PowerFit`` of ``c * L^-r``
        over the depths (bootstrap over seeds); empty with a single depth.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import kernel_share
      >>> result = kernel_share.read(selection.summary("results/reference", "kernel-share")).result
      >>> len(result.rows), sorted(result.fits), result.fits["offdiag_share"].ok
      (8, ['ntk_corr_std', 'offdiag_share'], True)
    """

    rows: tuple[DepthRow, ...]
    fits: dict[str, PowerFit]   # name in FITTED -> c L^-r


@dataclasses.dataclass(frozen=True)
class KernelShareSummary(Summary):
    """A kernel-share summary record, typed: its ``KernelShareResult`` and accessors (``rows``, ``fits``,
    ``depths``).

    Attributes:
      record: the stored summary record (dict; ``config`` reads its config).
      result: the typed result (``KernelShareResult``).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import kernel_share
      >>> s = kernel_share.read(selection.summary("results/reference", "kernel-share"))
      >>> s.depths, s.config["n_points"], s.fits["offdiag_share"].x == s.depths
      ((1, 2, 4, 8, 16, 32, 64, 128), 64, True)
    """

    result: KernelShareResult | None = None

    @property
    def rows(self) -> tuple:
        return self.result.rows

    @property
    def fits(self) -> dict:
        return self.result.fits

    @property
    def depths(self) -> tuple:
        return tuple(r.depth for r in self.rows)


def read(summary: dict) -> KernelShareSummary:
    """The typed view of a kernel-share summary record.

    Args:
      summary: a stored kernel-share summary record (from ``run``, or ``selection.summary(root, "kernel-share")``).

    Returns:
      KernelShareSummary: the record and its ``KernelShareResult``.

    Raises:
      ValueError: from ``schema.from_json``: ``summary["result"]`` does not have the schema's shape.
      KeyError: ``summary`` has no ``"result"``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import kernel_share
      >>> s = kernel_share.read(selection.summary("results/reference", "kernel-share", digits=True))
      >>> type(s).__name__, s.config["family"], [round(r.diag_share.mean, 10) for r in s.rows[:2]]
      ('KernelShareSummary', 'digits', [0.5, 0.3333333333])
    """
    return KernelShareSummary(summary, schema.from_json(KernelShareResult, summary["result"]))
