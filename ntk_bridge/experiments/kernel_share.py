"""Kernel share: the head's part ``Sigma / Theta`` of the NTK vs depth (the mechanism of C3).

On the diagonal the share is exactly ``1 / (L + 1)`` for ReLU with ``w_std = sqrt(2)``,
``b_std = 0``; off the diagonal both kernels flatten toward constants as ``L`` grows, which
the record tracks as the spread of the normalized NTK ``Theta(x,x') / Theta(x,x)``; the
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
    """Inputs: ``n_points`` uniform on the unit sphere in ``dim`` dimensions, per seed; with
    ``family="digits"``, ``n_points`` distinct images of scikit-learn's 8x8 digits (all ten
    classes, mapped to the unit sphere as in ``tasks.digits``; ``dim`` unused)."""

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
        check_int("n_points", self.n_points, 2)
        check_choice("family", self.family, (None, "digits"))
        check_int("dim", self.dim)
        check_int("seeds", self.seeds)
        check_int("n_boot", self.n_boot)
        check_choice("backend", self.backend, BACKENDS)

    @classmethod
    def quick(cls) -> "Config":
        return cls(depths=(1, 2, 4, 8, 16, 32, 64), n_points=32, seeds=3, n_boot=1000)


def share(spec: MLPSpec, x: np.ndarray, backend: str = "native") -> dict:
    """Head share ``Sigma/Theta`` on and off the diagonal, and the spread of ``Theta(x,x')/sqrt(Theta(x,x)Theta(x',x'))``."""
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
    """Run (or resume) the sweep depth x seed and store its summary; return the summary record."""
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
    """Kernel quantities at one depth, mean/std over seeds."""

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
    """What a kernel-share summary stores (``schema.to_json``)."""

    rows: tuple[DepthRow, ...]
    fits: dict[str, PowerFit]   # name in FITTED -> c L^-r


@dataclasses.dataclass(frozen=True)
class KernelShareSummary(Summary):
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
    """The typed view of a kernel-share summary record."""
    return KernelShareSummary(summary, schema.from_json(KernelShareResult, summary["result"]))
