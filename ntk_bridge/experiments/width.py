"""Width (claim C2): trained finite nets approach the closed-form predictors as width grows.

For each depth, width, method and initialization seed, one centered net is trained
(``nb.finite.fit_predict``) on one fixed draw of tasks and compared on the test queries with
the infinite-width closed form (``nb.predict.closed_form``): ``err = ||f_width - f_inf|| /
||f_inf||``.  The summary fits ``err ~ c * width^-r`` per method and depth (theory: ``r =
1/2``), with a bootstrap interval over seeds, and reports the finite-width gap MTL vs each GBML
method beside the infinite-width one (the records keep the test predictions for that).

Runs that did not converge (``converged=False`` after the step halvings) or left the kernel
regime (``left_kernel_regime``: the loss rose by more than ``finite.RISE_TOL`` in one step) stay
out of the errors, fits and gaps unless ``include_flagged=True`` (``.finite_sweep``); runs that cannot be computed
(``NotComputable``: an inner loop past its stability edge, a degenerate net) are recorded
with their reason and always stay out.  ``summary["excluded"]`` lists every point left out
(hash, depth, width, method, seed, reason), so the appendix can say what the fits rest on.
This is the one width sweep: ``benchmarks/width_gpu.py`` runs it too.
"""
from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

import numpy as np

from .. import methods as methods_
from .. import metrics, store, sweep, validate
from ..errors import NotComputable
from ..kernels import BACKENDS
from ..predict import SPLITS, Adaptation, closed_form
from ..spec import MLPSpec
from . import finite_sweep, schema
from .finite_sweep import Excluded
from .common import TaskConfig, check_choice, check_int, check_ints, kernel_table, point, save_summary
from .stats import PowerFit, Stat, Summary

NAME = "width"
ALGORITHM = 1  # bump when this module would store other results for the same config (store.register)
store.register(NAME, ALGORITHM)
FIGURES = ("width",)   # what reports it (ntk_bridge.figures, ntk_bridge.appendix.sections)
SECTIONS = ("width",)
QUICK_S = 28   # seconds of its quick config (2-core machine, 2026-12-04): reproduce starts the longest first
METHODS = ("mtl-shared", "anil", "maml")  # the default sweep
ALL_METHODS = ("mtl-shared", "mtl-independent", "anil", "maml", "fomaml")  # what a sweep may train
DTYPES = ("float32", "float64")


@dataclasses.dataclass(frozen=True)
class Config:
    """The width sweep: depth x width x method x initialization seed, one trained net each.

    ``max_widths``: ``((method, width), ...)`` caps the widths of some methods (second-order MAML is the
    costly one); ``include_flagged``: let unconverged and regime-leaving runs into the summary's errors
    and fits (``.finite_sweep``); ``dtype``, ``device``, ``target_scale``: ``fit_predict`` options.

    Attributes:
      AXES: the fields that are sweep axes or summary-only options (class constant, not a field): kept out
        of each point's configuration (``common.point``), so points are shared between sweeps.
      tasks: the training and test tasks (``TaskConfig``; default 10 + 10 shared-feature tasks, 5 support
        and 10 query points each).
      task_seed: the one task draw every net trains on (``TaskConfig.draw(task_seed)``), ``>= 0``.
      depths: hidden-layer counts ``L`` swept, a non-empty tuple of ints ``>= 1``.
      widths: hidden widths ``n`` swept, a tuple of at least two ints ``>= 1`` (two are needed to fit a rate).
      methods: the trained methods, ``Method`` names of ``ALL_METHODS`` (default ``METHODS``).
      seeds: initialization seeds per (depth, width, method): seeds ``0 .. seeds - 1``.
      lr: inner-loop step size of the GBML methods (``Adaptation.lr``).
      steps: inner-loop steps (``Adaptation.steps``).
      split: how a GBML training task's points are split between inner and outer loop (``predict.SPLITS``).
      outer_steps: most outer (training) steps per net.
      tol: a net converged when its loss fell below ``tol`` x its initial loss, in ``(0, 1)``.
      n_boot: bootstrap resamplings (over seeds) of the fitted rate's interval.
      backend: infinite-width kernel backend (``kernels.BACKENDS``).
      dtype: the nets' float type, ``"float32"`` or ``"float64"``.
      device: ``None`` (JAX's default), ``"cpu"`` or ``"gpu"``.
      target_scale: the nets train on ``target_scale * Y`` and predict divided by it (``fit_predict``), ``> 0``.
      max_widths: ``((method name, n_max), ...)``: that method is trained only at widths ``<= n_max``.
      include_flagged: let unconverged and regime-leaving runs into the errors and fits.

    Raises:
      ValueError: when a field is invalid: fewer than two widths, a method not of ``ALL_METHODS``, a
        non-positive count, ``tol`` outside ``(0, 1)``, an unknown split, backend, dtype or device, a cap of
        ``max_widths`` naming a method not in ``ALL_METHODS`` (the message names the field).

    Examples:
      >>> from ntk_bridge.experiments import width
      >>> cfg = width.Config.quick()
      >>> cfg.depths, cfg.widths, cfg.methods
      ((2,), (64, 256, 512), ('mtl-shared', 'anil'))
      >>> width.Config(max_widths=(("maml", 1024),)).widths_for("maml-same")
      (64, 256, 1024)
      >>> width.Config(widths=(64,))
      Traceback (most recent call last):
      ValueError: widths must hold >= 2 widths to fit a rate, got (64,)
    """

    AXES: ClassVar[tuple] = ("depths", "widths", "methods", "seeds", "n_boot", "max_widths", "include_flagged")
    tasks: TaskConfig = TaskConfig(n_train=10, n_test=10, n_support=5, n_query=10)
    task_seed: int = 0
    depths: tuple = (2, 4)
    widths: tuple = (64, 256, 1024, 4096)
    methods: tuple = METHODS
    seeds: int = 3
    lr: float = 0.02
    steps: int = 5
    split: str = "same"
    outer_steps: int = 3000
    tol: float = 1e-7
    n_boot: int = 2000
    backend: str = "native"
    dtype: str = "float32"
    device: str | None = None
    target_scale: float = 1.0
    max_widths: tuple = ()
    include_flagged: bool = False

    def __post_init__(self):
        check_int("task_seed", self.task_seed, 0)
        check_ints("depths", self.depths)
        check_ints("widths", self.widths)
        if len(self.widths) < 2:
            raise ValueError(f"widths must hold >= 2 widths to fit a rate, got {self.widths!r}")
        if not isinstance(self.methods, tuple) or not self.methods or any(m not in ALL_METHODS for m in self.methods):
            raise ValueError(f"methods must be a non-empty tuple of {ALL_METHODS}, got {self.methods!r}")
        for name in ("seeds", "outer_steps", "n_boot"):
            check_int(name, getattr(self, name))
        Adaptation(self.lr, self.steps)
        check_choice("split", self.split, SPLITS)
        check_choice("backend", self.backend, BACKENDS)
        validate.choice("dtype", self.dtype, DTYPES)
        check_choice("device", self.device, (None, "cpu", "gpu"))
        validate.positive("target_scale", self.target_scale)
        validate.real("tol", self.tol, 0.0, 1.0, low_open=True, high_open=True)
        validate.flag("include_flagged", self.include_flagged)
        finite_sweep.check_caps(self.max_widths, ALL_METHODS)

    @classmethod
    def quick(cls) -> "Config":
        """Depth 2, widths 64/256/512, MTL and ANIL, 2 seeds, trained to 1e-5 of the initial loss (ANIL does
        not reach 1e-7 in 1,000 steps; 1e-5 leaves a function-space residual near 0.3%, far below the
        finite-width error measured)."""
        return cls(depths=(2,), widths=(64, 256, 512), methods=("mtl-shared", "anil"), seeds=2,
                   outer_steps=1000, tol=1e-5, n_boot=1000)

    def widths_for(self, method) -> tuple:
        """The widths ``method`` is trained at (``max_widths`` caps them)."""
        return finite_sweep.widths_for(self.widths, self.max_widths, method)


def _infinite(p: dict, train, test) -> np.ndarray:
    spec = MLPSpec(depth=p["depth"], out_dim=train.out_dim)
    kfn = kernel_table(spec, train, test, backend=p["backend"])
    method = methods_.parse(p["method"], split=p["split"])
    return closed_form(method, kfn, train, test, adapt=Adaptation(p["lr"], p["steps"]))


def _compute(p: dict) -> dict:
    """One point: train one net, compare with the closed form; a ``NotComputable`` run is recorded with its reason."""
    from .. import finite

    train, test = TaskConfig(**p["tasks"]).draw(p["task_seed"])
    spec = MLPSpec(depth=p["depth"], width=p["width"], out_dim=train.out_dim)
    try:
        inf = _infinite(p, train, test)
        pred, info = finite.fit_predict(spec, train, test, method=p["method"], adapt=Adaptation(p["lr"], p["steps"]),
                                        split=p["split"], seed=p["seed"], outer_steps=p["outer_steps"],
                                        tol=p["tol"],
                                        dtype=p.get("dtype", "float32"), device=p.get("device"),
                                        target_scale=p.get("target_scale", 1.0), return_info=True)
    except NotComputable as exc:
        return {"err": None, "converged": False, "not_computable": str(exc), "steps": 0, "final_loss": None,
                "left_kernel_regime": False, "rises": 0, "max_step_ratio": None,
                "initial_loss": None, "train_s": None, "pred": None, "pred_infinite": None}
    return {"err": metrics.rel_gap(pred, inf), "converged": bool(info["converged"]), "steps": int(info["steps"]),
            "final_loss": float(info["final_loss"]), "initial_loss": float(info["initial_loss"]),
            "train_s": float(info["wall_s"]), "pred": pred, "pred_infinite": inf,
            "left_kernel_regime": bool(info.get("left_kernel_regime", False)), "rises": int(info.get("rises", 0)),
            "max_step_ratio": float(info.get("max_step_ratio", 0.0))}


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) depth x width x method x seed; store the summary with fitted rates.

    Each point trains one centered net (``finite.fit_predict``) and stores ``err = ||f_n - f_inf|| /
    ||f_inf||`` against the closed form, its flags and both predictions; points already stored under
    ``root`` are read back, not trained again.  The summary fits ``err ~ c n^-r`` per (depth, method) over
    the kept seeds (``metrics.fit_power_law_kept``) and sets each GBML method's trained gap to MTL beside
    the closed forms' gap (``WidthResult``).

    Args:
      config: the sweep (``Config``).
      root: the results folder the point and summary records are stored under.

    Returns:
      The summary record (a ``dict``, ``kind == "summary"``): its ``"result"`` is ``schema.to_json`` of a
      ``WidthResult`` plus ``"points"``, the hashes of its point records; ``read`` types it.

    Examples:
      Two tiny nets (depth 1, widths 8 and 16) in a temporary folder; a rerun trains nothing and returns
      the same summary:

      >>> import tempfile
      >>> from ntk_bridge.experiments import width
      >>> from ntk_bridge.experiments.common import TaskConfig
      >>> cfg = width.Config(tasks=TaskConfig(n_train=2, n_test=2, n_support=3, n_query=3), depths=(1,),
      ...                    widths=(8, 16), methods=("mtl-shared",), seeds=1, outer_steps=20, tol=1e-2, n_boot=10)
      >>> with tempfile.TemporaryDirectory() as root:
      ...     rec = width.run(cfg, root)
      ...     again = width.run(cfg, root)
      >>> rec["kind"], len(rec["result"]["points"]), again["digest"] == rec["digest"]
      ('summary', 2, True)
      >>> s = width.read(rec)
      >>> s.widths, s.methods, len(s.err(1, "mtl-shared"))
      ((8, 16), ('mtl-shared',), 2)
    """
    start = time.perf_counter()
    seeds = range(config.seeds)
    keys = [(L, w, m, s) for L in config.depths for m in config.methods for w in config.widths_for(m) for s in seeds]
    from ..finite import SCHEDULE  # the outer schedule is part of a trained point's identity (issue #14)

    points = [point(config, depth=L, width=w, method=m, seed=s, schedule=SCHEDULE) for L, w, m, s in keys]
    records = sweep.run(root, NAME, points, _compute, seed_of=lambda p: p["seed"], desc="width")
    res = {k: r["result"] for k, r in zip(keys, records)}
    excluded, keep = [], {}
    for k, rec in zip(keys, records):
        why = finite_sweep.exclusion(rec["result"], config.include_flagged)
        keep[k] = why is None
        if why is not None:
            excluded.append(Excluded(k[2], k[0], k[1], k[3], rec["config_hash"], why))   # k = (L, n, method, seed)
    curves = {}
    for L in config.depths:
        for m in config.methods:
            ws = config.widths_for(m)
            errs = np.array([[res[L, w, m, s]["err"] if keep[L, w, m, s] else np.nan for w in ws] for s in seeds])
            mask = np.array([[keep[L, w, m, s] for w in ws] for s in seeds])
            by_width = {w: finite_sweep.kept_stat(errs[:, j], mask[:, j]) for j, w in enumerate(ws)}
            curves[L, m] = Curve(err=tuple(Stat.read(by_width.get(w)) for w in config.widths),
                                 fit=PowerFit.read(metrics.fit_power_law_kept(ws, errs, mask, n_boot=config.n_boot),
                                                   x=ws),
                                 converged=all(res[L, w, m, s]["converged"] for w in ws for s in seeds),
                                 excluded=int((~mask).sum()), gap_to_mtl=_gap_to_mtl(config, res, keep, L, m))
    result = WidthResult(tuple(config.widths), tuple(config.depths), tuple(config.methods), config.include_flagged,
                         tuple(excluded), curves)
    return save_summary(root, NAME, config, records, schema.to_json(result), start)


def _gap_to_mtl(config: Config, res: dict, keep: dict, L: int, m: str) -> "GapToMtl | None":
    """Trained ``m`` vs trained MTL nets of each seed per width (kept pairs), beside the closed forms' gap."""
    if m == "mtl-shared" or "mtl-shared" not in config.methods:
        return None
    seeds = range(config.seeds)
    ws = [w for w in config.widths_for(m) if w in config.widths_for("mtl-shared")]
    finite_gap = {}
    for w in ws:
        both = [keep[L, w, m, s] and keep[L, w, "mtl-shared", s] for s in seeds]
        gaps = [metrics.rel_gap(res[L, w, m, s]["pred"], res[L, w, "mtl-shared", s]["pred"]) if ok else np.nan
                for s, ok in zip(seeds, both)]
        finite_gap[w] = finite_sweep.kept_stat(gaps, both)
    inf_m = next((res[L, w, m, s]["pred_infinite"] for w in ws for s in seeds
                  if res[L, w, m, s]["pred_infinite"] is not None), None)
    inf_mtl = next((res[L, w, "mtl-shared", s]["pred_infinite"] for w in ws for s in seeds
                    if res[L, w, "mtl-shared", s]["pred_infinite"] is not None), None)
    return GapToMtl(tuple(Stat.read(finite_gap.get(w)) for w in config.widths),
                    None if inf_m is None or inf_mtl is None else metrics.rel_gap(inf_m, inf_mtl))




# --------------------------------------------------------------------------- the summary's schema
@dataclasses.dataclass(frozen=True)
class GapToMtl:
    """Relative gap of a GBML method to MTL: trained nets per width beside the closed forms'.

    Trained nets per width (Stat over kept seeds, ``None`` where no seed counts or the width was not
    run), and the closed forms' gap (``None`` if not computable).

    Attributes:
      finite: per width of the sweep (``WidthResult.widths``), ``||f_m - f_MTL|| / ||f_MTL||`` of the
        trained nets of one seed, a ``Stat`` over the seeds where both nets were kept (``None``: none, or
        not run at that width).
      infinite: the same relative gap of the two infinite-width closed forms (``None``: not computable).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import width
      >>> s = width.read(selection.summary("results/reference", "width"))
      >>> g = s.gap_to_mtl(2, "anil")
      >>> len(g.finite) == len(s.widths), g.finite[0].n
      (True, 2)
      >>> g.infinite
      0.265...
    """

    finite: tuple[Stat | None, ...]
    infinite: float | None


@dataclasses.dataclass(frozen=True)
class Curve:
    """The error of one (depth, method) against width, its fitted rate and its gap to MTL.

    One (depth, method): the error per width of the sweep (Stat over kept seeds; ``None``: not run at
    that width, or every seed excluded), the fit ``err ~ c n^-r`` (``None``: fewer than two widths kept),
    whether every run converged, how many were left out, the gap to MTL (``None`` for MTL).

    Attributes:
      err: per width of the sweep, ``||f_n - f_inf|| / ||f_inf||`` as a ``Stat`` over the kept seeds
        (``None``: not run at that width, or every seed excluded).
      fit: ``err ~ c n^-r`` over the method's widths (``PowerFit``, bootstrap over seeds; ``None``: fewer
        than two widths with a kept run).
      converged: whether every run of this (depth, method) converged, kept or not.
      excluded: how many runs were left out of ``err`` and ``fit``.
      gap_to_mtl: the trained and closed-form gaps to MTL (``GapToMtl``; ``None`` for MTL itself, or when
        MTL was not swept).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import width
      >>> s = width.read(selection.summary("results/reference", "width"))
      >>> c = s.curve(2, "anil")
      >>> len(c.err), c.converged, c.excluded
      (3, True, 0)
      >>> c.fit.r, c.fit.x
      (0.44..., (256, 1024, 4096))
      >>> s.curve(2, "mtl-shared").gap_to_mtl is None
      True
    """

    err: tuple[Stat | None, ...]
    fit: PowerFit | None
    converged: bool
    excluded: int
    gap_to_mtl: GapToMtl | None


@dataclasses.dataclass(frozen=True)
class WidthResult:
    """What a width summary stores (``schema.to_json``); methods are ``Method`` names.

    Attributes:
      widths: the widths of the sweep, in order (every ``Curve.err`` has one entry per width).
      depths: the depths of the sweep.
      methods: the ``Method`` names trained.
      include_flagged: whether unconverged and regime-leaving runs were let in.
      excluded: every run left out (``finite_sweep.Excluded``: method, depth, width, seed, point hash,
        reason).
      curves: ``(depth, method name) -> Curve``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import width
      >>> r = width.read(selection.summary("results/reference", "width")).result
      >>> r.widths, r.depths, r.methods
      ((256, 1024, 4096), (2,), ('mtl-shared', 'anil', 'maml'))
      >>> sorted(r.curves), r.include_flagged, r.excluded
      ([(2, 'anil'), (2, 'maml'), (2, 'mtl-shared')], False, ())
    """

    widths: tuple[int, ...]
    depths: tuple[int, ...]
    methods: tuple[str, ...]
    include_flagged: bool
    excluded: tuple[Excluded, ...]
    curves: dict[tuple[int, str], Curve]


@dataclasses.dataclass(frozen=True)
class WidthSummary(Summary):
    """A width summary record, typed: its ``WidthResult`` and accessors.

    The accessors take a depth and a method (a ``Method`` or any name of it).

    Attributes:
      record: the stored summary record (a ``dict``; ``config`` is its ``"config"``).
      result: the typed ``WidthResult``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import width
      >>> s = width.read(selection.summary("results/reference", "width"))
      >>> s.depths, s.widths_for("maml"), s.config["seeds"]
      ((2,), (256, 1024, 4096), 2)
      >>> s.err(2, "anil-same")[0].mean
      0.158...
      >>> s.all_converged(2, "maml"), s.excluded_runs(2, "maml"), s.fit(2, "maml").ok
      (True, 0, True)
    """

    result: WidthResult | None = None

    @property
    def widths(self) -> tuple:
        return self.result.widths

    @property
    def depths(self) -> tuple:
        return self.result.depths

    @property
    def methods(self) -> tuple:
        return self.result.methods

    @property
    def excluded(self) -> tuple:
        """Every run left out (``Excluded``)."""
        return self.result.excluded

    def widths_for(self, method) -> tuple:
        """The widths ``method`` was trained at (``max_widths`` caps them)."""
        return finite_sweep.widths_for(self.widths, self.config.get("max_widths"), method)

    def curve(self, depth: int, method) -> Curve | None:
        return self.result.curves.get((depth, methods_.parse(method).name))

    def err(self, depth: int, method) -> tuple:
        """``||f_n - f_inf|| / ||f_inf||`` per width (Stat over the kept seeds) of ``method`` at ``depth``."""
        c = self.curve(depth, method)
        return c.err if c is not None else (None,) * len(self.widths)

    def fit(self, depth: int, method):
        """The fit ``err ~ c n^-r`` (theory ``r = 1/2``), or ``None`` (fewer than two widths kept)."""
        c = self.curve(depth, method)
        return None if c is None else c.fit

    def all_converged(self, depth: int, method) -> bool:
        c = self.curve(depth, method)
        return c is not None and c.converged

    def excluded_runs(self, depth: int, method) -> int:
        c = self.curve(depth, method)
        return 0 if c is None else c.excluded

    def gap_to_mtl(self, depth: int, method) -> GapToMtl | None:
        c = self.curve(depth, method)
        return None if c is None else c.gap_to_mtl


def read(summary: dict) -> WidthSummary:
    """The typed view of a width summary record (``selection.summary(root, "width")``).

    Args:
      summary: a width summary record, as ``run`` returns it or ``selection.summary`` reads it.

    Returns:
      A ``WidthSummary`` of the record and its ``WidthResult``.

    Raises:
      ValueError: propagated from ``schema.from_json`` when the record's result does not have this code's
        layout (written by another version).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import width
      >>> s = width.read(selection.summary("results/reference", "width"))
      >>> type(s).__name__, type(s.result).__name__, s.methods
      ('WidthSummary', 'WidthResult', ('mtl-shared', 'anil', 'maml'))
    """
    return WidthSummary(summary, schema.from_json(WidthResult, summary["result"]))
