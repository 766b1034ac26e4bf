"""Width (claim C2): trained finite nets approach the closed-form predictors as width grows.

For each depth, width, method and initialization seed, one centered net is trained
(``nb.finite.fit_predict``) on one fixed draw of tasks and compared on the test queries with
the infinite-width closed form (``nb.predict.closed_form``): ``err = ||f_width - f_inf|| /
||f_inf||``.  The summary fits ``err ~ c * width^-r`` per method and depth (theory: ``r =
1/2``), with a bootstrap interval over seeds, and reports the finite-width gap MTL vs each GBML
method beside the infinite-width one (the records keep the test predictions for that).

Runs that did not converge (``converged=False`` after the step halvings) or left the kernel
regime (``left_kernel_regime``: the loss rose by more than ``finite.RISE_TOL`` in one step) stay
out of the errors, fits and gaps unless ``include_unconverged=True``; runs that cannot be computed
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
from .common import TaskConfig, check_choice, check_int, check_ints, kernel_table, point, save_summary, stat
from .stats import Summary

NAME = "width"
ALGORITHM = 1  # bump when this module would store other results for the same config (store.register)
store.register(NAME, ALGORITHM)
METHODS = ("mtl-shared", "anil", "maml")  # the default sweep
ALL_METHODS = ("mtl-shared", "mtl-independent", "anil", "maml", "fomaml")  # what a sweep may train
DTYPES = ("float32", "float64")


@dataclasses.dataclass(frozen=True)
class Config:
    """The width sweep.  ``max_width``: ``((method, width), ...)`` caps the widths of some methods
    (second-order MAML is the costly one); ``include_unconverged``: let unconverged runs into the
    summary's errors and fits; ``dtype``, ``device``, ``target_scale``: ``fit_predict`` options."""

    AXES: ClassVar[tuple] = ("depths", "widths", "methods", "seeds", "n_boot", "max_width", "include_unconverged")
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
    max_width: tuple = ()
    include_unconverged: bool = False

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
        validate.flag("include_unconverged", self.include_unconverged)
        if not isinstance(self.max_width, tuple) or any(
                not isinstance(c, tuple) or len(c) != 2 or c[0] not in ALL_METHODS for c in self.max_width):
            raise ValueError(f"max_width must be a tuple of (method, width) pairs, got {self.max_width!r}")
        for m, w in self.max_width:
            validate.integer(f"max_width of {m}", w, 1)

    @classmethod
    def quick(cls) -> "Config":
        """Depth 2, widths 64/256/512, MTL and ANIL, 2 seeds, trained to 1e-5 of the initial loss (ANIL does
        not reach 1e-7 in 1,000 steps; 1e-5 leaves a function-space residual near 0.3%, far below the
        finite-width error measured)."""
        return cls(depths=(2,), widths=(64, 256, 512), methods=("mtl-shared", "anil"), seeds=2,
                   outer_steps=1000, tol=1e-5, n_boot=1000)

    def widths_of(self, method: str) -> tuple:
        """The widths ``method`` is trained at (``max_width`` caps them)."""
        cap = dict(self.max_width).get(method)
        return tuple(w for w in self.widths if cap is None or w <= cap)


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


def exclusion(result: dict, include_unconverged: bool = False) -> str | None:
    """Why a point stays out of the summary's errors and fits, or ``None`` when it counts."""
    if result.get("not_computable"):
        return f"not computable: {result['not_computable']}"
    if result.get("left_kernel_regime") and not include_unconverged:
        return (f"left the kernel regime: the loss rose {result['rises']} times, by up to "
                f"{result['max_step_ratio']:.3g}x in one step (rule: > 1.05x)")
    if not result["converged"] and not include_unconverged:
        ratio = result["final_loss"] / result["initial_loss"] if result["initial_loss"] else float("nan")
        return (f"not converged: final loss {result['final_loss']:.3g} = {ratio:.3g} x the initial loss after "
                f"{result['steps']} outer steps")
    return None


def _stat(values, keep) -> dict | None:
    kept = [v for v, k in zip(values, keep) if k]
    if not kept:
        return None
    out = stat(kept)
    if len(kept) < len(values):
        out["excluded"] = len(values) - len(kept)
    return out


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) depth x width x method x seed; store the summary with fitted rates."""
    start = time.perf_counter()
    seeds = range(config.seeds)
    keys = [(L, w, m, s) for L in config.depths for m in config.methods for w in config.widths_of(m) for s in seeds]
    from ..finite import SCHEDULE  # the outer schedule is part of a trained point's identity (issue #14)

    points = [point(config, depth=L, width=w, method=m, seed=s, schedule=SCHEDULE) for L, w, m, s in keys]
    records = sweep.run(root, NAME, points, _compute, seed_of=lambda p: p["seed"], desc="width")
    res = {k: r["result"] for k, r in zip(keys, records)}
    excluded = []
    keep = {}
    for k, rec in zip(keys, records):
        why = exclusion(rec["result"], config.include_unconverged)
        keep[k] = why is None
        if why is not None:
            excluded.append(dict(zip(("depth", "width", "method", "seed"), k), point=rec["config_hash"], reason=why))
    summary = {"widths": list(config.widths), "depths": list(config.depths), "methods": list(config.methods),
               "include_unconverged": config.include_unconverged, "excluded": excluded}
    for L in config.depths:
        for m in config.methods:
            ws = config.widths_of(m)
            errs = np.array([[res[L, w, m, s]["err"] if keep[L, w, m, s] else np.nan for w in ws] for s in seeds])
            mask = np.array([[keep[L, w, m, s] for w in ws] for s in seeds])
            by_width = {w: _stat(errs[:, j], mask[:, j]) for j, w in enumerate(ws)}
            summary[f"{L}/{m}/err"] = [by_width.get(w) for w in config.widths]
            summary[f"{L}/{m}/fit"] = metrics.fit_power_law_kept(ws, errs, mask, n_boot=config.n_boot)
            summary[f"{L}/{m}/converged"] = all(res[L, w, m, s]["converged"] for w in ws for s in seeds)
            summary[f"{L}/{m}/excluded"] = int((~mask).sum())
        if "mtl-shared" in config.methods:
            for m in config.methods:
                if m == "mtl-shared":
                    continue
                ws = [w for w in config.widths_of(m) if w in config.widths_of("mtl-shared")]
                finite_gap = {}
                for w in ws:
                    both = [keep[L, w, m, s] and keep[L, w, "mtl-shared", s] for s in seeds]
                    gaps = [metrics.rel_gap(res[L, w, m, s]["pred"], res[L, w, "mtl-shared", s]["pred"]) if ok
                            else np.nan for s, ok in zip(seeds, both)]
                    finite_gap[w] = _stat(gaps, both)
                inf_m = next((res[L, w, m, s]["pred_infinite"] for w in ws for s in seeds
                              if res[L, w, m, s]["pred_infinite"] is not None), None)
                inf_mtl = next((res[L, w, "mtl-shared", s]["pred_infinite"] for w in ws for s in seeds
                                if res[L, w, "mtl-shared", s]["pred_infinite"] is not None), None)
                summary[f"{L}/{m}/gap_to_mtl"] = {
                    "finite": [finite_gap.get(w) for w in config.widths],
                    "infinite": None if inf_m is None or inf_mtl is None else metrics.rel_gap(inf_m, inf_mtl)}
    return save_summary(root, NAME, config, records, summary, start)



# --------------------------------------------------------------------------- reading a summary
@dataclasses.dataclass(frozen=True)
class GapToMtl:
    """Rel. gap of a GBML method to MTL: trained nets per width (Stat over kept seeds, ``None`` where no
    seed counts or the width was not run), and the closed forms' gap (``None`` if not computable)."""

    finite: tuple
    infinite: float | None


@dataclasses.dataclass(frozen=True)
class WidthSummary(Summary):
    """A width summary record, typed.  Methods are :class:`~ntk_bridge.methods.Method` names; per-width
    tuples follow :attr:`widths` (``None``: not run at that width, or every seed excluded)."""

    widths: tuple = ()
    depths: tuple = ()
    methods: tuple = ()
    errs: dict = dataclasses.field(default_factory=dict, repr=False)       # (depth, name) -> Stat | None per width
    fits: dict = dataclasses.field(default_factory=dict, repr=False)       # (depth, name) -> PowerFit, err ~ c n^-r
    converged: dict = dataclasses.field(default_factory=dict, repr=False)  # (depth, name) -> every run converged
    n_excluded: dict = dataclasses.field(default_factory=dict, repr=False)  # (depth, name) -> runs left out
    gaps: dict = dataclasses.field(default_factory=dict, repr=False)       # (depth, name) -> GapToMtl
    excluded: tuple = ()   # every run left out: dicts with depth, width, method, seed, point (hash), reason


    def widths_of(self, method) -> tuple:
        """The widths ``method`` was trained at (``max_width`` caps them)."""
        cap = {m: w for m, w in self.config.get("max_width") or ()}.get(methods_.parse(method).name)
        return tuple(w for w in self.widths if cap is None or w <= cap)

    def err(self, depth: int, method) -> tuple:
        """``||f_n - f_inf|| / ||f_inf||`` per width (Stat over the kept seeds) of ``method`` at ``depth``."""
        return self.errs.get((depth, methods_.parse(method).name), (None,) * len(self.widths))

    def fit(self, depth: int, method):
        """The fit ``err ~ c n^-r`` (theory ``r = 1/2``), or ``None`` (fewer than two widths kept)."""
        return self.fits.get((depth, methods_.parse(method).name))

    def all_converged(self, depth: int, method) -> bool:
        return self.converged.get((depth, methods_.parse(method).name), False)

    def excluded_runs(self, depth: int, method) -> int:
        return self.n_excluded.get((depth, methods_.parse(method).name), 0)

    def gap_to_mtl(self, depth: int, method) -> "GapToMtl | None":
        return self.gaps.get((depth, methods_.parse(method).name))


def read(summary: dict) -> WidthSummary:
    """The typed view of a width summary record (``selection.summary(root, "width")``)."""
    from .stats import PowerFit, stats

    res = summary["result"]
    out = WidthSummary(summary, tuple(res["widths"]), tuple(res["depths"]),
                       tuple(methods_.parse(m).name for m in res["methods"]),
                       excluded=tuple(res.get("excluded") or ()))
    for L in out.depths:
        for m in res["methods"]:
            name = methods_.parse(m).name
            if f"{L}/{m}/err" in res:
                out.errs[L, name] = stats(res[f"{L}/{m}/err"])
            fit = PowerFit.read(res.get(f"{L}/{m}/fit"), x=out.widths)
            if fit is not None:
                out.fits[L, name] = fit
            out.converged[L, name] = bool(res.get(f"{L}/{m}/converged"))
            out.n_excluded[L, name] = int(res.get(f"{L}/{m}/excluded") or 0)
            gap = res.get(f"{L}/{m}/gap_to_mtl")
            if gap:
                out.gaps[L, name] = GapToMtl(stats(gap["finite"]),
                                             None if gap.get("infinite") is None else float(gap["infinite"]))
    return out
