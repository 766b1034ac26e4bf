"""Closeness (claim C3): MTL(shared heads) vs ANIL and MAML on unseen tasks, against depth.

For each depth ``L``, task-sampling seed and inner loop ``(lr, steps)`` one point record
holds, per split (``"same"``: the theorem's setting, ``"disjoint"`` beside it) and GBML
algorithm, the gaps of the GBML prediction ``a`` to the MTL prediction ``b`` on the test
queries:

    rel_gap        = ||a - b|| / ||b||
    normalized_gap = ||a - b|| / ||b - c||,   c = no-transfer baseline (head fine-tuning
                                              from the zero function, MTL's test-time loop)

A GBML predictor that cannot be computed (``errors.NotComputable``: inner loop diverging,
singular meta-NTK) is stored as ``{"error": message}`` and left out of the fits.  The summary holds, per split,
algorithm and gap, the mean/std over seeds per depth, the fit ``gap ~ c L^-r`` with a
bootstrap interval over seeds, the least-squares fit ``gap ~ a lr*steps + b / L + c``
(with its R^2) over the ``lr_steps`` grid (and with ``lr*steps*(L+1)`` for MAML, whose inner
kernel ``Theta`` is ``L + 1`` times the head's on the diagonal), and finite-width points overlaid on the
infinite-width gap (``nb.finite.fit_predict``, centered nets).

Figures and the appendix read a summary only through ``read`` (a
``ClosenessSummary``), never through its string keys.
"""
from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

import numpy as np

from .. import metrics, store, sweep, validate
from ..errors import NotComputable
from ..kernels import BACKENDS
from ..methods import Method
from ..predict import SPLITS, Adaptation, closed_form
from ..spec import MLPSpec
from . import schema
from .common import (TaskConfig, check_choice, check_int, check_ints, kernel_table, point, save_summary,
                     scaled_adaptation, spec_for, stat)
from .stats import LinearFit, PowerFit, Stat, Summary

NAME = "closeness"
ALGORITHM = 2  # bump when this module would store other results for the same config (store.register)
store.register(NAME, ALGORITHM)
FIGURES = ("closeness", "lr_steps")   # what reports it (ntk_bridge.figures, ntk_bridge.appendix.sections)
SECTIONS = ("closeness",)
QUICK_S = 25   # seconds of its quick config (2-core machine, 2026-12-05): reproduce starts the longest first
ALGOS = ("anil", "maml")
GAPS = ("rel_gap", "normalized_gap")
# Real images: 2-way 5-shot digits episodes, 5 queries per class (Config.digits).
DIGITS_TASKS = TaskConfig("digits", 20, 20, 5, 5, options=(("n_way", 2),))


@dataclasses.dataclass(frozen=True)
class Config:
    """Depth sweep at ``(lr, steps)``, plus an ``lr_steps`` grid at ``lr_steps_depths``.

    ``lr = 0.02`` keeps MAML's inner loop stable and its meta-NTK well conditioned up to
    depth 64 (``Theta`` grows like ``L + 1``; with 15 points per task on the unit sphere
    ``lr * lambda_max(Theta) ~ 0.4`` at ``L = 64``).  ``widths``: finite-width overlay at
    ``finite_depths`` with ``finite_seeds`` seeds (both initialization and task sampling).  The
    default is the reference sweep (``results/reference``); ``quick()`` the one of ``reproduce
    --quick``; ``digits()`` the real-image variant.

    Attributes:
      AXES: fields left out of each point's config (``common.point``): sweep axes and summary-only
        settings, so changing them reuses the stored points (class constant, not a field).
      tasks: the tasks (``TaskConfig``: family, training/test task counts, points per task).
      depths: depths ``L`` of the headline sweep at ``(lr, steps)``.
      seeds: task samplings per point (seed ``s``: training tasks ``2s``, test tasks ``2s + 1``).
      lr: inner learning rate of the headline sweep.
      steps: inner steps of the headline sweep.
      splits: GBML splits evaluated, a non-empty tuple of ``predict.SPLITS`` (``"same"``, ``"disjoint"``).
      lr_steps: ``(lr, steps)`` pairs of the ``lr * steps`` grid (``()``: no grid), measured on split
        ``"same"``, which ``splits`` must then hold.
      lr_steps_depths: depths of that grid.
      widths: hidden widths of the finite-width overlay (``()``: none).
      finite_depths: depths of the overlay.
      finite_seeds: seeds (initialization and task sampling) of the overlay.
      finite_outer_steps: most outer steps a trained net takes.
      finite_tol: convergence threshold of a trained net, relative to its initial loss, in ``(0, 1)``.
      n_boot: bootstrap resamples (over seeds) of the fits ``gap ~ c L^-r``.
      fit_min_depth: smallest depth in those fits (at least two of ``depths`` must reach it).
      backend: kernel backend, one of ``kernels.BACKENDS``.

    Raises:
      ValueError: a field out of range (non-positive counts, a bad ``(lr, steps)`` pair, an unknown
        split or backend, ``finite_tol`` outside ``(0, 1)``, fewer than two depths ``>= fit_min_depth``);
        the message names the field.

    Examples:
      >>> from ntk_bridge.experiments import closeness
      >>> closeness.Config.digits(quick=True).depths, closeness.Config.quick().widths
      ((1, 4, 16), (64, 256))
      >>> closeness.Config(depths=(4,))
      Traceback (most recent call last):
      ...
      ValueError: depths must hold >= 2 depths >= fit_min_depth=1, got (4,)
    """

    AXES: ClassVar[tuple] = ("depths", "seeds", "lr_steps", "lr_steps_depths", "widths", "finite_depths",
                             "finite_seeds", "finite_outer_steps", "finite_tol", "n_boot", "fit_min_depth")
    tasks: TaskConfig = TaskConfig(n_support=5, n_query=10)
    depths: tuple = (1, 2, 4, 8, 16, 32, 64)
    seeds: int = 5
    lr: float = 0.02
    steps: int = 5
    splits: tuple = ("same", "disjoint")
    lr_steps: tuple = ((0.02, 1), (0.02, 5), (0.05, 5), (0.1, 5), (0.2, 5), (0.1, 20))
    lr_steps_depths: tuple = (2, 4, 8, 16, 32)
    widths: tuple = (128, 512, 2048)
    finite_depths: tuple = (1, 2, 4)
    finite_seeds: int = 2
    finite_outer_steps: int = 3000
    finite_tol: float = 1e-7
    n_boot: int = 2000
    fit_min_depth: int = 1
    backend: str = "native"

    def __post_init__(self):
        check_ints("depths", self.depths)
        check_int("seeds", self.seeds)
        Adaptation(self.lr, self.steps)  # validates lr and steps
        if not self.splits or any(s not in SPLITS for s in self.splits):
            raise ValueError(f"splits must be a non-empty tuple of {SPLITS}, got {self.splits!r}")
        for pair in self.lr_steps:
            if len(pair) != 2:
                raise ValueError(f"lr_steps must hold (lr, steps) pairs, got {pair!r}")
            Adaptation(*pair)
        if self.lr_steps:
            check_ints("lr_steps_depths", self.lr_steps_depths)
            if "same" not in self.splits:
                raise ValueError(f"lr_steps: the lr x steps grid is measured on split 'same', which splits "
                                 f"{self.splits!r} leaves out; add 'same' or pass lr_steps=()")
        if self.widths:
            check_ints("widths", self.widths)
            check_ints("finite_depths", self.finite_depths)
        check_int("finite_seeds", self.finite_seeds)
        check_int("finite_outer_steps", self.finite_outer_steps)
        validate.real("finite_tol", self.finite_tol, 0.0, 1.0, low_open=True, high_open=True)
        check_int("n_boot", self.n_boot)
        check_int("fit_min_depth", self.fit_min_depth)
        check_choice("backend", self.backend, BACKENDS)
        if sum(L >= self.fit_min_depth for L in self.depths) < 2:
            raise ValueError(f"depths must hold >= 2 depths >= fit_min_depth={self.fit_min_depth}, got {self.depths}")

    @classmethod
    def quick(cls) -> "Config":
        return cls(seeds=2, lr_steps=((0.02, 1), (0.02, 5), (0.05, 5), (0.1, 5), (0.2, 5)),
                   lr_steps_depths=(2, 8, 16), widths=(64, 256), finite_depths=(2,), finite_seeds=1,
                   finite_outer_steps=1000, finite_tol=1e-5, n_boot=1000)

    @classmethod
    def digits(cls, quick: bool = False) -> "Config":
        """Real images (``tasks.digits``): 2-way 5-shot episodes, 5 queries per class, meta-train
        classes 0-4, meta-test 5-9, labels permuted per episode.  Full: depths 1-32, 3 seeds, closed
        forms (trained nets on digits: ``finite_closeness.Config.digits``, smaller tasks that converge
        on a CPU; ``--widths`` adds this experiment's overlay); quick (``reproduce --quick``): 8
        training and 8 test tasks, depths 1, 4, 16, 2 seeds, closed forms only (about 10 s of CPU)."""
        if quick:
            return cls(tasks=TaskConfig("digits", 8, 8, 5, 5, options=(("n_way", 2),)), depths=(1, 4, 16), seeds=2,
                       lr_steps=(), widths=(), n_boot=200)
        return cls(tasks=DIGITS_TASKS, depths=(1, 2, 4, 8, 16, 32), seeds=3, lr_steps=(), widths=(), n_boot=1000)


# --------------------------------------------------------------------------- one point
def predictions(kernel_fn, train, test, adapt: Adaptation, splits, heads: str = "shared") -> dict:
    """Test-query predictions ``{"mtl", "no-transfer", (split, algo): array | NotComputable}``.

    Each is ``predict.closed_form`` of its method on ``test`` after training on ``train``: MTL with
    ``heads`` head initialization, no transfer (head fine-tuning from the zero function), and
    ``Method.gbml(algo, split)`` for each split and algorithm of ``ALGOS``.  Only ``NotComputable``
    (diverging inner loop, singular meta-NTK) is kept as a result; any other error is a bug and propagates.

    Args:
      kernel_fn: ``(x1, x2=None) -> Kernels`` over the tasks' points (e.g. ``common.kernel_table``).
      train: training tasks (``TaskSet``).
      test: unseen test tasks (``TaskSet``).
      adapt: the inner loop (``Adaptation``: ``lr``, ``steps``, ``flow``).
      splits: GBML splits to run, each in ``predict.SPLITS``.
      heads: MTL head initialization, ``"shared"`` or ``"independent"``.

    Returns:
      dict: ``"mtl"``, ``"no-transfer"`` -> ``(test tasks, n_query, out_dim)`` float64 arrays;
      ``(split, algo)`` -> such an array, or the ``errors.NotComputable`` raised.

    Raises:
      ValueError: from ``predict.closed_form``: arguments it rejects (e.g. an unknown split).

    Examples:
      >>> from ntk_bridge.experiments import closeness
      >>> from ntk_bridge.experiments.common import TaskConfig, kernel_table
      >>> from ntk_bridge.predict import Adaptation
      >>> from ntk_bridge.spec import MLPSpec
      >>> train, test = TaskConfig(n_train=3, n_test=2, n_support=2, n_query=3).draw(0)
      >>> kfn = kernel_table(MLPSpec(depth=2), train, test)
      >>> preds = closeness.predictions(kfn, train, test, Adaptation(0.02, 5), ("same",))
      >>> list(preds), preds["mtl"].shape, preds["same", "anil"].dtype
      (['mtl', 'no-transfer', ('same', 'anil'), ('same', 'maml')], (2, 3, 1), dtype('float64'))
    """
    out = {"mtl": closed_form(Method.mtl(heads), kernel_fn, train, test, adapt=adapt),
           "no-transfer": closed_form(Method.none(), kernel_fn, train, test, adapt=adapt)}
    for split in splits:
        for algo in ALGOS:
            try:
                out[split, algo] = closed_form(Method.gbml(algo, split), kernel_fn, train, test, adapt=adapt)
            except NotComputable as exc:  # a result, recorded and left out of the fits
                out[split, algo] = exc
    return out


def gaps(pred, mtl, no_transfer) -> dict:
    """``rel_gap(pred, mtl)`` and ``normalized_gap(pred, mtl, no_transfer)`` (``None`` if MTL equals it).

    ``rel_gap = ||pred - mtl|| / ||mtl||`` and ``normalized_gap = ||pred - mtl|| / ||mtl - no_transfer||``
    (Frobenius norms over every test point, ``metrics``).

    Args:
      pred: a GBML prediction, e.g. ``(tasks, query, out_dim)``.
      mtl: the MTL prediction, same shape (the reference).
      no_transfer: the no-transfer baseline, same shape.

    Returns:
      dict: ``{"rel_gap": float, "normalized_gap": float | None}`` (``None`` when ``mtl`` equals
      ``no_transfer`` exactly: independent heads transfer nothing).

    Raises:
      ValueError: from ``metrics.rel_gap``: different shapes, or ``mtl`` identically zero.

    Examples:
      >>> import numpy as np
      >>> from ntk_bridge.experiments import closeness
      >>> mtl = np.array([3.0, 4.0])
      >>> closeness.gaps(np.array([3.0, 5.0]), mtl, np.array([0.0, 4.0]))
      {'rel_gap': 0.2, 'normalized_gap': 0.3333333333333333}
      >>> closeness.gaps(np.array([3.0, 5.0]), mtl, mtl.copy())["normalized_gap"] is None
      True
    """
    same = np.array_equal(mtl, no_transfer)  # independent heads: MTL is the no-transfer baseline
    return {"rel_gap": metrics.rel_gap(pred, mtl),
            "normalized_gap": None if same else metrics.normalized_gap(pred, mtl, no_transfer)}


def evaluate(p: dict) -> dict:
    """One infinite-width point: gaps GBML vs MTL per split and algorithm, test MSEs (each predictor, no
    transfer, the zero predictor) and the effective rank of the normalized NTK on the test tasks' points.

    ``p`` holds ``tasks`` (a ``TaskConfig`` dict), ``seed``, ``depth``, ``lr``, ``steps``,
    ``splits``, ``backend`` and optionally ``flow`` (default ``False``) and ``heads``
    (MTL head initialization, default ``"shared"``); ``tau`` instead of ``lr`` sets the step by
    ``scaled_adaptation`` (stored as ``lr``); ``arch``/``pool``: ``spec_for``.

    Args:
      p: the point (fields above; ``run`` builds it with ``common.point``).

    Returns:
      dict: ``"transfer"`` (``rel_gap(no transfer, MTL)``), ``"mse"`` (``{"mtl", "no_transfer", "zero"}``:
      test MSEs, ``"zero"`` of the zero predictor), ``"effective_rank"`` (``metrics.effective_rank`` of
      ``Theta`` on the test tasks' support and query points), ``"lr"`` (only with ``tau``), and per split
      ``{algo: {"rel_gap", "normalized_gap", "mse"}}`` or ``{algo: {"error": message}}`` where not computable.

    Raises:
      KeyError: a field missing from ``p``.
      ValueError: tasks that cannot be drawn (``TaskConfig.draw``), a bad ``(lr, steps)`` or backend.

    Examples:
      >>> import numpy as np
      >>> from ntk_bridge import store
      >>> from ntk_bridge.experiments import closeness
      >>> from ntk_bridge.experiments.common import TaskConfig
      >>> tasks = TaskConfig(n_train=3, n_test=2, n_support=2, n_query=3)
      >>> p = {"tasks": store.to_jsonable(tasks), "seed": 0, "depth": 2, "lr": 0.02, "steps": 5,
      ...      "splits": ["same"], "backend": "native"}
      >>> res = closeness.evaluate(p)
      >>> sorted(res), sorted(res["same"]["anil"])
      (['effective_rank', 'mse', 'same', 'transfer'], ['mse', 'normalized_gap', 'rel_gap'])
      >>> _, test = tasks.draw(0)
      >>> bool(np.isclose(res["mse"]["zero"], np.mean(test.yq ** 2)))      # the zero predictor's MSE
      True
    """
    tasks = TaskConfig(**p["tasks"])
    train, test = tasks.draw(p["seed"])
    spec = spec_for(p, train)   # MLPSpec, or a ConvSpec on images (the conv experiment's points)
    kfn = kernel_table(spec, train, test, backend=p["backend"])
    if "tau" in p:   # the inner loop in units of the kernel's scale (the conv experiment's points)
        adapt = scaled_adaptation(kfn, train, p["tau"], p["steps"])
    else:
        adapt = Adaptation(p["lr"], p["steps"], p.get("flow", False))
    preds = predictions(kfn, train, test, adapt, p["splits"], p.get("heads", "shared"))
    m, c = preds["mtl"], preds["no-transfer"]
    test_points = np.concatenate([test.xs, test.xq], axis=1).reshape(-1, test.dim)
    result = {"lr": adapt.lr} if "tau" in p else {}
    result |= {"transfer": metrics.rel_gap(c, m),  # ||c - m|| / ||m||: how far MTL is from no transfer
              # stored key "no_transfer" (records since schema 1); read it through ablate.read
              "mse": {"mtl": metrics.mse(m, test.yq), "no_transfer": metrics.mse(c, test.yq),
                      "zero": metrics.mse(np.zeros_like(m), test.yq)},
              # non-vacuity (ALGORITHM 2): how much the deep NTK still tells the test points apart
              "effective_rank": metrics.effective_rank(kfn(test_points).theta)}
    for split in p["splits"]:
        result[split] = {}
        for algo in ALGOS:
            a = preds[split, algo]
            if isinstance(a, NotComputable):
                result[split][algo] = {"error": str(a)}
            else:
                result[split][algo] = dict(gaps(a, m, c), mse=metrics.mse(a, test.yq))
    return result


def _compute_finite(p: dict) -> dict:
    from .. import finite

    tasks = TaskConfig(**p["tasks"])
    train, test = tasks.draw(p["seed"])
    spec = MLPSpec(depth=p["depth"], width=p["width"], out_dim=train.out_dim)
    adapt = Adaptation(p["lr"], p["steps"])
    kfn = kernel_table(spec, train, test, backend=p["backend"])
    inf = {"mtl": closed_form(Method.mtl(), kfn, train, test, adapt=adapt)}
    fin, info = {}, {}
    fit = dict(adapt=adapt, seed=p["seed"], outer_steps=p["outer_steps"], tol=p["tol"], return_info=True)
    fin["mtl"], info["mtl"] = finite.fit_predict(spec, train, test, method="mtl-shared", **fit)
    result = {}
    for split in p["splits"]:
        inf["anil"] = closed_form(Method.gbml("anil", split), kfn, train, test, adapt=adapt)
        fin["anil"], info["anil"] = finite.fit_predict(spec, train, test, method="anil", split=split, **fit)
        result[split] = {"rel_gap": metrics.rel_gap(fin["anil"], fin["mtl"]),
                         "rel_gap_infinite": metrics.rel_gap(inf["anil"], inf["mtl"]),
                         "err_to_infinite": {k: metrics.rel_gap(fin[k], inf[k]) for k in fin},
                         "converged": {k: bool(info[k]["converged"]) for k in info},
                         "train_s": {k: float(info[k]["wall_s"]) for k in info}}
    return result


# --------------------------------------------------------------------------- the sweep
def _ok(res: dict, split: str, algo: str) -> bool:
    return "error" not in res[split][algo]


def lr_steps_fit(rows: list[dict], x_key: str = "lr_steps") -> dict:
    """Least squares ``gap = a * x + b / L + c`` over ``rows`` ``{"depth", x_key, "gap"}``, with its R^2.

    ``x = row[x_key]``, ``L = row["depth"]``; ``r2 = 1 - sum(resid^2) / sum((gap - mean gap)^2)`` (1 when
    every gap is equal: the constant ``c`` fits them exactly), ``rmse = sqrt(mean(resid^2))``.

    Args:
      rows: the grid points, dicts with ``"depth"``, ``x_key`` and ``"gap"``.
      x_key: the abscissa's key: ``"lr_steps"`` (``lr * steps``) or ``"lr_steps_scaled"``.

    Returns:
      dict: ``{"a", "b", "c", "r2", "n", "rmse"}`` (floats; ``n`` the number of rows), or
      ``{"n", "error": "fewer than 4 points"}`` below 4 rows.

    Examples:
      Points exactly on ``gap = 0.5 x + 0.2 / L + 0.1`` give back the coefficients and ``R^2 = 1``:

      >>> from ntk_bridge.experiments import closeness
      >>> rows = [{"depth": L, "lr_steps": x, "gap": 0.5 * x + 0.2 / L + 0.1} for L in (1, 2, 4) for x in (0.1, 0.5)]
      >>> fit = closeness.lr_steps_fit(rows)
      >>> {k: round(v, 10) for k, v in fit.items()}
      {'a': 0.5, 'b': 0.2, 'c': 0.1, 'r2': 1.0, 'n': 6, 'rmse': 0.0}
      >>> closeness.lr_steps_fit(rows[:3])
      {'n': 3, 'error': 'fewer than 4 points'}
    """
    if len(rows) < 4:
        return {"n": len(rows), "error": "fewer than 4 points"}
    x = np.array([[r[x_key], 1.0 / r["depth"], 1.0] for r in rows])
    y = np.array([r["gap"] for r in rows])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    spread = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / spread if spread > 0 else 1.0  # equal gaps: the constant c fits exactly
    return {"a": float(coef[0]), "b": float(coef[1]), "c": float(coef[2]), "r2": r2, "n": len(rows),
            "rmse": float(np.sqrt(np.mean(resid ** 2)))}


def depth_result(config, headline: dict) -> "ClosenessResult":
    """The per-depth part of a closeness summary: gaps, fits ``gap ~ c L^-r``, MSEs, effective ranks over the
    seeds of ``headline`` (depth -> results of ``evaluate``); ``config`` supplies ``depths``, ``splits``,
    ``lr``, ``steps``, ``n_boot`` and ``fit_min_depth`` (no ``lr_steps`` grid or finite points).

    Per (split, algo, gap): a ``Stat`` per depth over the seeds whose GBML predictor was computable
    (``None`` where none was), and ``PowerFit`` of ``gap ~ c L^-r`` (``metrics.fit_power_law``, bootstrap
    over seeds) over the depths ``>= fit_min_depth`` where every seed was computable, with
    ``monotone`` whether the means fall at every step (``error`` below two such depths).

    Args:
      config: a ``Config`` (or any object with those attributes).
      headline: depth -> list of ``evaluate`` results (one per seed), for every depth of ``config.depths``.

    Returns:
      ClosenessResult: ``lr_steps`` empty (``{}``) and ``finite`` ``()``; ``run`` adds them.

    Raises:
      KeyError: a depth of ``config.depths`` missing from ``headline``, or a split of ``config.splits``
        missing from its results.
      ValueError: from ``metrics.fit_power_law``: a non-positive gap at a fitted depth.

    Examples:
      >>> from ntk_bridge import store
      >>> from ntk_bridge.experiments import closeness
      >>> from ntk_bridge.experiments.common import TaskConfig
      >>> tasks = TaskConfig(n_train=3, n_test=2, n_support=2, n_query=3)
      >>> config = closeness.Config(tasks=tasks, depths=(1, 2), seeds=2, lr_steps=(), widths=(), n_boot=20)
      >>> p = {"tasks": store.to_jsonable(tasks), "lr": 0.02, "steps": 5, "splits": ["same", "disjoint"],
      ...      "backend": "native"}
      >>> headline = {L: [closeness.evaluate(dict(p, depth=L, seed=s)) for s in range(2)] for L in (1, 2)}
      >>> result = closeness.depth_result(config, headline)
      >>> result.depths, len(result.gaps["same", "anil", "rel_gap"]), result.fits["same", "anil", "rel_gap"].x
      ((1, 2), 2, (1, 2))
      >>> result.gaps["same", "anil", "rel_gap"][0].n, result.lr_steps, result.finite
      (2, {}, ())
    """
    gaps, fits = {}, {}
    for split in config.splits:
        for algo in ALGOS:
            for gap in GAPS:
                gaps[split, algo, gap] = tuple(
                    Stat.read(stat([res[split][algo][gap] for res in headline[L] if _ok(res, split, algo)]))
                    if any(_ok(res, split, algo) for res in headline[L]) else None for L in config.depths)
                fit_depths = [L for L in config.depths if L >= config.fit_min_depth
                              and all(_ok(res, split, algo) for res in headline[L])]
                y = [[res[split][algo][gap] for res in headline[L]] for L in fit_depths]
                means = np.mean(y, axis=1)
                fits[split, algo, gap] = (PowerFit.read(dict(
                    metrics.fit_power_law(fit_depths, np.array(y).T, n_boot=config.n_boot), depths=fit_depths,
                    # a power law describes the points only if they fall throughout
                    monotone_decreasing=bool(np.all(np.diff(means) < 0))))
                    if len(fit_depths) >= 2 else PowerFit(error="fewer than 2 depths"))
    mse = {key: tuple(Stat.read(stat(v)) if (v := [res["mse"][key] for res in headline[L]]) else None
                      for L in config.depths) for key in ("mtl", "no_transfer", "zero")}
    for split in config.splits:
        for algo in ALGOS:
            mse[f"{algo}-{split}"] = tuple(
                Stat.read(stat(v)) if (v := [res[split][algo]["mse"] for res in headline[L] if _ok(res, split, algo)])
                else None for L in config.depths)
    return ClosenessResult(tuple(config.depths), config.lr, config.steps, tuple(config.splits),
                           tuple(Stat.read(stat([res["transfer"] for res in headline[L]])) for L in config.depths),
                           gaps, fits, {}, (), mse,
                           tuple(Stat.read(stat([res["effective_rank"] for res in headline[L]])) for L in config.depths))


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) every sweep of ``config`` and store the summary record; return it.

    Computes (``evaluate``) and stores under ``root/closeness`` the points of the headline sweep
    (``depths`` at ``(lr, steps)``) and of the ``lr_steps`` grid, and trains the finite-width overlay
    (``nb.finite.fit_predict``, MTL and ANIL per split); stored points are reused.  The summary is
    ``depth_result`` plus, per algorithm, the ``lr_steps`` grid (split ``"same"``, points where every
    seed was computable) with its ``lr_steps_fit`` fits, and the ``FinitePoint`` s.

    Args:
      config: the sweep (``Config``).
      root: results folder the records are stored under (default ``results``).

    Returns:
      dict: the stored summary record (``kind == "summary"``); ``read`` gives its typed view.

    Raises:
      ValueError: from ``metrics.fit_power_law``: a non-positive gap at a fitted depth.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge.experiments import closeness
      >>> from ntk_bridge.experiments.common import TaskConfig
      >>> config = closeness.Config(tasks=TaskConfig(n_train=3, n_test=2, n_support=2, n_query=3), depths=(1, 2),
      ...                           seeds=2, lr_steps=(), widths=(), n_boot=20)
      >>> with tempfile.TemporaryDirectory() as root:
      ...     rec = closeness.run(config, root=root)
      >>> s = closeness.read(rec)
      >>> s.depths, len(s.gap("same", "maml")), len(rec["result"]["points"]), s.finite
      ((1, 2), 2, 4, ())
    """
    start = time.perf_counter()
    grid = {(L, config.lr, config.steps) for L in config.depths}
    grid |= {(L, lr, s) for L in config.lr_steps_depths for lr, s in config.lr_steps}
    points = [point(config, depth=L, lr=lr, steps=s, seed=seed)
              for L, lr, s in sorted(grid) for seed in range(config.seeds)]
    records = sweep.run(root, NAME, points, evaluate, seed_of=lambda p: p["seed"], desc="closeness (inf. width)")
    from ..finite import SCHEDULE  # the outer schedule is part of a trained point's identity (issue #14)

    finite_points = [point(config, depth=L, width=w, seed=seed, outer_steps=config.finite_outer_steps,
                           tol=config.finite_tol, schedule=SCHEDULE)
                     for L in config.finite_depths for w in config.widths for seed in range(config.finite_seeds)]
    finite_records = sweep.run(root, NAME, finite_points, _compute_finite, seed_of=lambda p: p["seed"],
                               desc="closeness (finite width)") if config.widths else []

    def at(L, lr, s):
        return [r["result"] for r in records
                if (r["config"]["depth"], r["config"]["lr"], r["config"]["steps"]) == (L, lr, s)]

    headline = {L: at(L, config.lr, config.steps) for L in config.depths}
    result = depth_result(config, headline)
    lr_steps = {}
    for algo in ALGOS:
        rows = []
        for L in config.lr_steps_depths:
            for lr, s in config.lr_steps:
                res = at(L, lr, s)
                if res and all(_ok(r, "same", algo) for r in res) and "same" in config.splits:
                    # The inner kernel's diagonal is Sigma(x,x) (ANIL) or Theta(x,x) = (L+1) Sigma(x,x)
                    # (MAML): lr*steps in units of the head kernel's scale.
                    scaled = lr * s * (L + 1 if algo == "maml" else 1)
                    rows.append({"depth": L, "lr": lr, "steps": s, "lr_steps": lr * s, "lr_steps_scaled": scaled,
                                 "gap": float(np.mean([r["same"][algo]["rel_gap"] for r in res])),
                                 "normalized_gap": float(np.mean([r["same"][algo]["normalized_gap"] for r in res]))})
        lr_steps[algo] = LrSteps(tuple(LrStepsPoint(**r) for r in rows), LinearFit.read(lr_steps_fit(rows)),
                                 LinearFit.read(lr_steps_fit(rows, "lr_steps_scaled")))
    finite = tuple(FinitePoint(r["config"]["depth"], r["config"]["width"], r["config"]["seed"], split,
                               v["rel_gap"], v["rel_gap_infinite"],
                               {("mtl-shared" if k == "mtl" else k): e for k, e in v["err_to_infinite"].items()},
                               all(v.get("converged", {}).values()))
                   for r in finite_records for split in config.splits if (v := r["result"].get(split)) is not None)
    result = dataclasses.replace(result, lr_steps=lr_steps, finite=finite)
    return save_summary(root, NAME, config, records + finite_records, schema.to_json(result), start)


# --------------------------------------------------------------------------- the summary's schema
@dataclasses.dataclass(frozen=True)
class LrStepsPoint:
    """One ``(depth, lr, steps)`` point of the ``lr_steps`` grid: gaps on split ``"same"``, mean over seeds.

    Attributes:
      depth: number of hidden layers ``L``.
      lr: inner learning rate.
      steps: inner steps.
      lr_steps: ``lr * steps``.
      lr_steps_scaled: ``lr * steps * (L + 1)`` for MAML (its inner kernel is ``Theta``), ``lr * steps`` for ANIL.
      gap: ``rel_gap`` GBML vs MTL, mean over seeds.
      normalized_gap: ``normalized_gap`` GBML vs MTL, mean over seeds.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import closeness
      >>> s = closeness.read(selection.summary("results/reference", "closeness"))
      >>> pt = s.lr_steps["maml"].points[0]
      >>> pt.depth, pt.lr, pt.steps, round(pt.lr_steps_scaled, 10) == round(pt.lr_steps * (pt.depth + 1), 10)
      (2, 0.02, 1, True)
    """

    depth: int
    lr: float
    steps: int
    lr_steps: float          # lr * steps
    lr_steps_scaled: float   # lr * steps * (L + 1) for MAML (its inner kernel is Theta), lr * steps for ANIL
    gap: float               # rel_gap
    normalized_gap: float


@dataclasses.dataclass(frozen=True)
class LrSteps:
    """The ``lr_steps`` grid of one algorithm and the fits ``gap = a x + b / L + c`` (x unscaled / scaled).

    ``depths`` lists the grid's depths, sorted.

    Attributes:
      points: the grid points (``LrStepsPoint``) where every seed was computable; ``()`` without a grid.
      fit: ``LinearFit`` with ``x = lr * steps`` (``error`` below 4 points).
      fit_scaled: ``LinearFit`` with ``x = lr_steps_scaled``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import closeness
      >>> grid = closeness.read(selection.summary("results/reference", "closeness")).lr_steps["anil"]
      >>> grid.depths, len(grid.points), grid.fit.n == len(grid.points), grid.fit_scaled.ok
      ((2, 4, 8, 16, 32), 30, True, True)
    """

    points: tuple[LrStepsPoint, ...]
    fit: LinearFit | None
    fit_scaled: LinearFit | None

    @property
    def depths(self) -> tuple:
        return tuple(sorted({p.depth for p in self.points}))


@dataclasses.dataclass(frozen=True)
class FinitePoint:
    """Trained centered nets at one ``(depth, width, seed, split)``: ANIL vs MTL, and each net vs its closed form.

    Attributes:
      depth: number of hidden layers ``L``.
      width: hidden width of the trained nets.
      seed: initialization and task-sampling seed.
      split: the ANIL split (``"same"`` or ``"disjoint"``).
      rel_gap: ``||ANIL - MTL|| / ||MTL||`` of the trained nets' test predictions.
      rel_gap_infinite: the same gap of the closed forms.
      err_to_infinite: method name (``"mtl-shared"``, ``"anil"``) -> ``||f_n - f_inf|| / ||f_inf||``.
      converged: whether every net's training converged (to ``finite_tol``).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import closeness
      >>> pt = closeness.read(selection.summary("results/reference", "closeness")).finite[0]
      >>> pt.depth, pt.width, pt.seed, pt.split, sorted(pt.err_to_infinite)
      (1, 128, 0, 'same', ['anil', 'mtl-shared'])
    """

    depth: int
    width: int
    seed: int
    split: str
    rel_gap: float                       # trained ANIL vs trained MTL
    rel_gap_infinite: float              # closed-form ANIL vs closed-form MTL
    err_to_infinite: dict[str, float]    # method name ("mtl-shared", "anil") -> ||f_n - f_inf|| / ||f_inf||
    converged: bool                      # every net's training converged


@dataclasses.dataclass(frozen=True)
class ClosenessResult:
    """What a closeness summary stores (``schema.to_json``).  Per-depth tuples follow ``depths``.

    Attributes:
      depths: the headline depths ``L``.
      lr: the headline inner learning rate.
      steps: the headline inner steps.
      splits: the splits run.
      transfer: per depth, ``Stat`` over seeds of ``||c - b|| / ||b||`` (MTL ``b`` vs no transfer ``c``).
      gaps: ``(split, algo, gap)`` -> per depth ``Stat`` over computable seeds, ``None`` where none was.
      fits: ``(split, algo, gap)`` -> ``PowerFit`` of ``gap ~ c L^-r``.
      lr_steps: algorithm -> its ``LrSteps`` grid and fits (present, with no points, without a grid).
      finite: the ``FinitePoint`` s of the finite-width overlay (``()``: none).
      mse: per depth test-MSE ``Stat`` of ``"mtl"``, ``"no_transfer"``, ``"zero"`` (the zero predictor) and
        ``"<algo>-<split>"``; ``None`` where nothing was computable.
      effective_rank: per depth, ``Stat`` of the effective rank of the normalized NTK on the test tasks'
        points (``metrics.effective_rank``).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import closeness
      >>> result = closeness.read(selection.summary("results/reference", "closeness")).result
      >>> result.depths, result.splits, len(result.gaps), len(result.mse["zero"]) == len(result.depths)
      ((1, 2, 4, 8, 16, 32, 64), ('same', 'disjoint'), 8, True)
    """

    depths: tuple[int, ...]
    lr: float
    steps: int
    splits: tuple[str, ...]
    transfer: tuple[Stat | None, ...]                        # ||c - b|| / ||b||, MTL vs no transfer
    gaps: dict[tuple[str, str, str], tuple[Stat | None, ...]]  # (split, algo, gap) -> per depth
    fits: dict[tuple[str, str, str], PowerFit]              # (split, algo, gap) -> gap ~ c L^-r
    lr_steps: dict[str, LrSteps]                            # algo -> its lr*steps grid
    finite: tuple[FinitePoint, ...]
    # non-vacuity, per depth: test MSE of "mtl", "no_transfer", "zero" and "<algo>-<split>"; the effective
    # rank of the normalized NTK on the test tasks' points (metrics.effective_rank)
    mse: dict[str, tuple[Stat | None, ...]]
    effective_rank: tuple[Stat | None, ...]


@dataclasses.dataclass(frozen=True)
class ClosenessSummary(Summary):
    """A closeness summary record, typed: its ``ClosenessResult`` and accessors.

    Properties mirror the result's fields (``depths``, ``lr``, ``steps``, ``splits``, ``transfer``,
    ``fits``, ``lr_steps``, ``finite``, ``effective_rank``; ``fit_level``: the fits' interval level);
    ``gap(split, algo, gap)``, ``fit(split, algo, gap)`` and ``mse(key)`` raise ``ValueError`` for an
    unknown key.

    Attributes:
      record: the stored summary record (dict; ``config`` reads its config).
      result: the typed result (``ClosenessResult``).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import closeness
      >>> s = closeness.read(selection.summary("results/reference", "closeness"))
      >>> len(s.gap("same", "anil")) == len(s.depths), s.fit("same", "anil").x == s.depths, s.fit_level
      (True, True, 0.9)
      >>> s.gap("same", "fomaml")
      Traceback (most recent call last):
      ...
      ValueError: closeness gaps are (split in (...), algo in ('anil', 'maml'), ...), got ('same', 'fomaml', 'rel_gap')
    """

    result: ClosenessResult | None = None

    @property
    def depths(self) -> tuple:
        return self.result.depths

    @property
    def lr(self) -> float:
        return self.result.lr

    @property
    def steps(self) -> int:
        return self.result.steps

    @property
    def splits(self) -> tuple:
        return self.result.splits

    @property
    def transfer(self) -> tuple:
        return self.result.transfer

    @property
    def fits(self) -> dict:
        return self.result.fits

    @property
    def lr_steps(self) -> dict:
        return self.result.lr_steps

    @property
    def finite(self) -> tuple:
        return self.result.finite

    def gap(self, split: str, algo: str, gap: str = "rel_gap") -> tuple:
        """Mean/std over seeds per depth of ``gap`` (``"rel_gap"`` | ``"normalized_gap"``) between ``algo``
        (``"anil"`` | ``"maml"``) and MTL on ``split``; an entry is ``None`` where no seed was computable,
        every entry where the split was not run."""
        _check_key(split, algo, gap)
        return self.result.gaps.get((split, algo, gap), (None,) * len(self.depths))

    def fit(self, split: str, algo: str, gap: str = "rel_gap") -> PowerFit | None:
        """The fit ``gap ~ c L^-r`` over depths (``None`` where the split was not run)."""
        _check_key(split, algo, gap)
        return self.fits.get((split, algo, gap))

    def mse(self, key: str) -> tuple:
        """Test MSE per depth (mean/std over seeds) of ``key``: ``"mtl"``, ``"no_transfer"``, ``"zero"`` (the
        zero predictor) or ``"<algo>-<split>"``; ``None`` entries where nothing was computable."""
        if key not in self.result.mse:
            raise ValueError(f"closeness MSEs are {tuple(self.result.mse)}, got {key!r}")
        return self.result.mse[key]

    @property
    def effective_rank(self) -> tuple:
        return self.result.effective_rank

    @property
    def fit_level(self) -> float | None:
        return next((f.level for f in self.fits.values() if f.ok), None)


def _check_key(split, algo, gap):
    if split not in SPLITS or algo not in ALGOS or gap not in GAPS:
        raise ValueError(f"closeness gaps are (split in {SPLITS}, algo in {ALGOS}, gap in {GAPS}), "
                         f"got {(split, algo, gap)!r}")


def read(summary: dict) -> ClosenessSummary:
    """The typed view of a closeness summary record (``selection.summary(root, "closeness")``).

    Args:
      summary: a stored closeness summary record (from ``run``, or ``selection.summary``).

    Returns:
      ClosenessSummary: the record and its ``ClosenessResult``.

    Raises:
      ValueError: from ``schema.from_json``: ``summary["result"]`` does not have the schema's shape.
      KeyError: ``summary`` has no ``"result"``.

    Examples:
      The digits variant: closed forms only (no ``lr_steps`` grid points, no trained nets):

      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import closeness
      >>> s = closeness.read(selection.summary("results/reference", "closeness", digits=True))
      >>> type(s).__name__, s.depths, s.lr_steps["anil"].points, s.finite
      ('ClosenessSummary', (1, 2, 4, 8, 16, 32), (), ())
    """
    return ClosenessSummary(summary, schema.from_json(ClosenessResult, summary["result"]))
