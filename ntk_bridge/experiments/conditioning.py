"""Conditioning: transfer between tasks of task-conditioned nets against task similarity (issue #16).

Per point (architecture, similarity, task_scale, weighting, ridge, seed): ``n_tasks``
``shared-feature`` tasks of similarity ``s`` with unequal data (task ``i`` trains on its first
``support_sizes[i]`` support points), trained jointly to convergence with the conditioned
infinite-width NTK (``ntk_bridge.conditioning.mtl``), and the same tasks trained by one
independent net each (``architecture="independent"``, same ridge and weighting).  The record
keeps each task's query MSE for both; the *ratio* is ``mean_i MSE_arch / mean_i MSE_indep``
(above 1: sharing hurts, negative transfer).

Three curve groups, each a sweep over similarity and seeds:

* ``"main"``: every architecture at ``task_scale``, ``weighting="uniform"``, ``ridge``
  (small: near interpolation, where the weighting cannot matter);
* ``"task_scale"``: concat at each of ``task_scales`` (how much of the input is the task
  code, i.e. how little is shared), otherwise as ``"main"``;
* ``"weighting"``: every architecture with loss weights uniform over tasks and proportional
  to data, at ``weighting_ridge`` (> 0: without ridge the two weightings give the same limit).

A fourth, **finite-width** arm (``finite_widths``, empty: none): centered finite nets of each
architecture and one independent net per task, trained jointly on the same tasks by
``ntk_bridge.finite.conditioned.fit_predict`` (kernel-regime GD to convergence, ridge 0) at
each width, similarity in ``finite_similarities`` and seed ``< finite_seeds``, uniform weights,
``task_scale``.  Its record keeps the per-task MSEs, the relative error to the closed form of
the main curves (same ridge) and the training monitor; the summary's ``"finite"`` list gives per
(architecture, width) and similarity the MSE ratio of the trained nets against trained
independent nets (paired by seed) beside the closed form's, the error to the closed form, and
how many runs left the kernel regime or did not converge.

The *crossing* of a curve is where the mean ratio over seeds crosses 1, by linear
interpolation between grid similarities; with several sign changes the last one (above it
every measured similarity transfers positively), and their number is kept.  Its interval
is a percentile bootstrap over seeds; ``status`` says ``"crossing"``, or ``"hurts"`` /
``"helps"`` (the mean ratio above / at most 1 at every measured similarity: no crossing in
the measured range).  Figures and the appendix read the summary through ``read``.
"""
from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

import numpy as np

from .. import conditioning, store, sweep, validate
from ..spec import MLPSpec
from ..tasks import shared_feature
from . import schema
from .common import check_int, point, save_summary, stat
from .stats import Stat, Summary

NAME = "conditioning"
# Bump when this module would store other results for the same config (store.register).  2: the
# trained nets follow the one kernel-regime schedule of finite.fit (finite.schedule: its stall rule).
ALGORITHM = 2
store.register(NAME, ALGORITHM)
FIGURES = ("conditioning",)   # what reports it (ntk_bridge.figures, ntk_bridge.appendix.sections)
SECTIONS = ("conditioning",)
QUICK_S = 8   # seconds of its quick config (2-core machine, 2026-12-04): reproduce starts the longest first
GROUPS = ("main", "task_scale", "weighting")
SHARING = tuple(a for a in conditioning.ARCHITECTURES if a not in ("independent", "multi-head-independent"))


@dataclasses.dataclass(frozen=True)
class Config:
    """Tasks: ``shared_feature(len(support_sizes), max(support_sizes), n_query, dim=dim)`` per (similarity, seed).

    The sweep runs every curve of ``curves(config)`` over ``similarities`` x ``seeds`` (closed forms),
    plus the finite-width arm.  The default is the reference sweep (``results/reference``);
    ``quick()`` the one of ``reproduce --quick``.

    Attributes:
      AXES: fields left out of each point's config (``common.point``): sweep axes and summary-only
        settings, so changing them reuses the stored points (class constant, not a field).
      architectures: the sharing architectures, a non-empty tuple of ``SHARING`` (``"concat"``,
        ``"additive"``, ``"multiplicative"``, ``"multi-head-shared"``).
      similarities: task similarities in ``[0, 1]``, strictly increasing.
      seeds: task samplings per (curve, similarity) (``shared_feature(..., seed=s)``).
      task_scale: scale ``c >= 0`` of the task code (``conditioning`` module) of the main and weighting curves.
      task_scales: the values of ``c`` of the ``"task_scale"`` curves (concat only).
      weightings: loss weightings of the ``"weighting"`` curves, each in ``conditioning.WEIGHTS``
        (``"uniform"``: each task the same total weight; ``"data"``: each point the same).
      support_sizes: support points of each task (task ``i`` trains on its first ``support_sizes[i]``);
        its length is the number of tasks, ``>= 2``.
      n_query: query points per task.
      dim: input dimension.
      depth: hidden layers ``L`` of the conditioned MLP.
      layer: hidden layer where the task enters (additive, multiplicative), in ``[1, depth]``.
      ridge: kernel ridge ``>= 0`` of the main and task-scale curves (small: near interpolation).
      weighting_ridge: kernel ridge ``> 0`` of the weighting curves.
      n_boot: bootstrap resamples (over seeds) of the crossing's interval.
      level: the interval's level, in ``(0, 1)``.
      finite_widths: hidden widths of the finite-width arm (``()``: none).
      finite_similarities: similarities of the finite-width arm, in ``[0, 1]``.
      finite_seeds: seeds (initialization and tasks) of the finite-width arm.

    Raises:
      ValueError: a field out of range (unknown architecture or weighting, similarities not strictly
        increasing in ``[0, 1]``, fewer than 2 tasks, ``layer`` outside ``[1, depth]``, a negative ridge,
        ...); the message names the field.

    Examples:
      >>> from ntk_bridge.experiments import conditioning
      >>> conditioning.Config.quick().similarities
      (0.0, 0.25, 0.5, 0.75, 1.0)
      >>> conditioning.Config(layer=3)
      Traceback (most recent call last):
      ...
      ValueError: layer must be an integer in [1, 2], got 3
    """

    AXES: ClassVar[tuple] = ("architectures", "similarities", "seeds", "task_scales", "weightings", "n_boot",
                             "finite_widths", "finite_similarities", "finite_seeds")
    architectures: tuple = ("concat", "additive", "multiplicative", "multi-head-shared")
    similarities: tuple = tuple(float(s) for s in np.linspace(0.0, 1.0, 9))
    seeds: int = 5
    task_scale: float = 1.0
    task_scales: tuple = (0.3, 1.0, 3.0)       # concat only ("task_scale" curves)
    weightings: tuple = ("uniform", "data")    # at weighting_ridge ("weighting" curves)
    support_sizes: tuple = (2, 4, 6, 8, 10)
    n_query: int = 20
    dim: int = 16
    depth: int = 2
    layer: int = 1
    ridge: float = 1e-6
    weighting_ridge: float = 0.1
    n_boot: int = 1000
    level: float = 0.95
    finite_widths: tuple = (256, 1024)        # the finite-width arm ((): none)
    finite_similarities: tuple = (0.0, 0.5, 1.0)
    finite_seeds: int = 3

    def __post_init__(self):
        if not isinstance(self.architectures, tuple) or not self.architectures:
            raise ValueError(f"architectures must be a non-empty tuple, got {self.architectures!r}")
        for a in self.architectures:
            validate.choice("each of architectures", a, SHARING)
        object.__setattr__(self, "similarities", _reals("similarities", self.similarities, 0.0, 1.0))
        if list(self.similarities) != sorted(set(self.similarities)):
            raise ValueError(f"similarities must be strictly increasing, got {self.similarities!r}")
        object.__setattr__(self, "seeds", check_int("seeds", self.seeds))
        object.__setattr__(self, "task_scale", validate.nonnegative("task_scale", self.task_scale))
        object.__setattr__(self, "task_scales", _reals("task_scales", self.task_scales, 0.0, None))
        if not isinstance(self.weightings, tuple) or not self.weightings:
            raise ValueError(f"weightings must be a non-empty tuple, got {self.weightings!r}")
        for w in self.weightings:
            validate.choice("each of weightings", w, conditioning.WEIGHTS)
        object.__setattr__(self, "support_sizes", validate.integers("support_sizes", self.support_sizes))
        if len(self.support_sizes) < 2:
            raise ValueError(f"support_sizes needs >= 2 tasks, got {self.support_sizes!r}")
        object.__setattr__(self, "n_query", check_int("n_query", self.n_query))
        object.__setattr__(self, "dim", check_int("dim", self.dim))
        object.__setattr__(self, "depth", check_int("depth", self.depth))
        object.__setattr__(self, "layer", validate.integer("layer", self.layer, 1, self.depth))
        object.__setattr__(self, "ridge", validate.nonnegative("ridge", self.ridge))
        object.__setattr__(self, "weighting_ridge", validate.positive("weighting_ridge", self.weighting_ridge))
        object.__setattr__(self, "n_boot", check_int("n_boot", self.n_boot))
        object.__setattr__(self, "level", validate.real("level", self.level, 0.0, 1.0, low_open=True, high_open=True))
        if not isinstance(self.finite_widths, tuple):
            raise ValueError(f"finite_widths must be a tuple of widths (() for none), got {self.finite_widths!r}")
        object.__setattr__(self, "finite_widths", validate.integers("finite_widths", self.finite_widths)
                           if self.finite_widths else ())
        object.__setattr__(self, "finite_similarities",
                           _reals("finite_similarities", self.finite_similarities, 0.0, 1.0))
        object.__setattr__(self, "finite_seeds", check_int("finite_seeds", self.finite_seeds))

    @classmethod
    def quick(cls) -> "Config":
        return cls(architectures=("concat", "multiplicative", "multi-head-shared"),
                   similarities=(0.0, 0.25, 0.5, 0.75, 1.0), seeds=2, n_boot=200, finite_widths=(256,),
                   finite_similarities=(0.0, 1.0), finite_seeds=1)


def _reals(name, values, low, high) -> tuple:
    if not isinstance(values, tuple) or not values:
        raise ValueError(f"{name} must be a non-empty tuple of numbers, got {values!r}")
    return tuple(validate.real(f"each of {name}", v, low, high) for v in values)


def curves(config: Config) -> list[dict]:
    """The curves of the sweep: ``{group, architecture, task_scale, weighting, ridge}`` each.

    In order: ``"main"`` (each architecture at ``task_scale``, uniform weights, ``ridge``),
    ``"task_scale"`` (concat at each of ``task_scales``), ``"weighting"`` (each architecture with each
    of ``weightings``, at ``weighting_ridge``).

    Args:
      config: the sweep (``Config``).

    Returns:
      list[dict]: ``len(architectures) * (1 + len(weightings)) + len(task_scales)`` curves.

    Examples:
      >>> from ntk_bridge.experiments import conditioning
      >>> cs = conditioning.curves(conditioning.Config.quick())
      >>> len(cs), [c["group"] for c in cs].count("weighting")
      (12, 6)
      >>> cs[0]
      {'group': 'main', 'architecture': 'concat', 'task_scale': 1.0, 'weighting': 'uniform', 'ridge': 1e-06}
    """
    out = [dict(group="main", architecture=a, task_scale=config.task_scale, weighting="uniform", ridge=config.ridge)
           for a in config.architectures]
    out += [dict(group="task_scale", architecture="concat", task_scale=c, weighting="uniform", ridge=config.ridge)
            for c in config.task_scales]
    out += [dict(group="weighting", architecture=a, task_scale=config.task_scale, weighting=w,
                 ridge=config.weighting_ridge) for a in config.architectures for w in config.weightings]
    return out


_CURVE_KEYS = ("architecture", "task_scale", "weighting", "ridge")


def _compute(p: dict) -> dict:
    if p.get("kind") == "finite":
        return _compute_finite(p)
    sizes = tuple(p["support_sizes"])
    tasks = shared_feature(len(sizes), max(sizes), p["n_query"], dim=p["dim"], similarity=p["similarity"],
                           seed=p["seed"])
    spec = MLPSpec(depth=p["depth"])
    kw = dict(ridge=p["ridge"], weights=p["weighting"], support_sizes=sizes, layer=p["layer"])
    pred = conditioning.mtl(spec, tasks, architecture=p["architecture"], task_scale=p["task_scale"], **kw)
    ind = conditioning.mtl(spec, tasks, architecture="independent", **kw)
    mse = np.mean((pred - tasks.yq) ** 2, axis=(1, 2))
    mse_ind = np.mean((ind - tasks.yq) ** 2, axis=(1, 2))
    return {"mse": [float(v) for v in mse], "mse_independent": [float(v) for v in mse_ind],
            "ratio": float(np.mean(mse) / np.mean(mse_ind))}


def _compute_finite(p: dict) -> dict:
    """One trained finite net (or one independent net per task): per-task query MSE, error to its closed form."""
    from ..finite import conditioned

    sizes = tuple(p["support_sizes"])
    tasks = shared_feature(len(sizes), max(sizes), p["n_query"], dim=p["dim"], similarity=p["similarity"],
                           seed=p["seed"])
    spec = MLPSpec(depth=p["depth"])
    kw = dict(architecture=p["architecture"], task_scale=p["task_scale"], layer=p["layer"], support_sizes=sizes,
              weights=p["weighting"])
    pred, info = conditioned.fit_predict(spec.replace(width=p["width"]), tasks, seed=p["seed"], return_info=True,
                                         **kw)
    ref = conditioning.mtl(spec, tasks, ridge=p["ridge"], **kw)
    return {"mse": [float(v) for v in np.mean((pred - tasks.yq) ** 2, axis=(1, 2))],
            "mse_closed_form": [float(v) for v in np.mean((ref - tasks.yq) ** 2, axis=(1, 2))],
            "rel_err": float(np.linalg.norm(pred - ref) / np.linalg.norm(ref)),
            **{k: info[k] for k in ("converged", "left_kernel_regime", "steps", "rises", "max_step_ratio",
                                    "lr_halvings", "undone_rises")}}


def crossing(similarities, ratios) -> dict:
    """Where ``ratios`` (mean over seeds, one per similarity) crosses 1, by linear interpolation.

    Returns ``{"status", "similarity", "n_crossings"}``: the last sign change of ``ratio - 1``
    (``"crossing"``), else ``"hurts"`` (every ratio > 1) or ``"helps"`` (every ratio <= 1)
    with ``similarity`` ``None``.

    Between grid points ``s_i`` and ``s_{i+1}`` where ``d = ratio - 1`` changes sign (a ratio of exactly 1
    counts as "helps"), the crossing is ``s_i + (s_{i+1} - s_i) * d_i / (d_i - d_{i+1})``.

    Args:
      similarities: the grid, increasing.
      ratios: mean MSE ratio (architecture / independent) at each similarity.

    Returns:
      dict: ``"status"`` (``"crossing"``, ``"hurts"`` or ``"helps"``), ``"similarity"`` (float, or ``None``
      without a crossing) and ``"n_crossings"`` (the number of sign changes).

    Examples:
      >>> from ntk_bridge.experiments import conditioning
      >>> out = conditioning.crossing([0.0, 0.5, 1.0], [1.2, 1.1, 0.9])
      >>> out["status"], round(out["similarity"], 10), out["n_crossings"]
      ('crossing', 0.75, 1)
      >>> conditioning.crossing([0.0, 0.5, 1.0], [1.2, 1.1, 1.05])
      {'status': 'hurts', 'similarity': None, 'n_crossings': 0}
    """
    s = np.asarray(similarities, dtype=np.float64)
    d = np.asarray(ratios, dtype=np.float64) - 1.0
    above = d > 0
    idx = [i for i in range(len(s) - 1) if above[i] != above[i + 1]]
    if not idx:
        return {"status": "hurts" if above.all() else "helps", "similarity": None, "n_crossings": 0}
    i = idx[-1]
    x = s[i] + (s[i + 1] - s[i]) * d[i] / (d[i] - d[i + 1])
    return {"status": "crossing", "similarity": float(x), "n_crossings": len(idx)}


def _bootstrap(similarities, per_seed: np.ndarray, n_boot: int, level: float, seed: int) -> dict:
    """Percentile interval of the crossing over seeds resampled with replacement (``per_seed``: seeds x sims)."""
    rng = np.random.default_rng([seed, 16])
    n = per_seed.shape[0]
    xs, none = [], 0
    for _ in range(n_boot):
        c = crossing(similarities, per_seed[rng.integers(0, n, n)].mean(axis=0))
        if c["status"] == "crossing":
            xs.append(c["similarity"])
        else:
            none += 1
    lo = hi = None
    if xs:
        lo, hi = (float(v) for v in np.quantile(xs, [(1 - level) / 2, (1 + level) / 2]))
    return {"lo": lo, "hi": hi, "level": level, "n_boot": n_boot, "boot_none_frac": none / n_boot}


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) the sweep curve x similarity x seed and store its summary; return the summary record.

    Each closed-form point trains the tasks jointly with the conditioned NTK and one independent net per
    task (``conditioning.mtl``) and stores per-task query MSEs and ``ratio = mean_i MSE_arch / mean_i
    MSE_indep``; each finite point trains one net (``finite.conditioned.fit_predict``).  Points are stored
    under ``root/conditioning`` (stored ones reused).  The summary holds per curve a ``SimRow`` per
    similarity and its ``Crossing`` (``crossing`` of the mean ratio, percentile bootstrap over seeds), and
    the ``FiniteCurve`` s.

    Args:
      config: the sweep (``Config``).
      root: results folder the records are stored under (default ``results``).

    Returns:
      dict: the stored summary record (``kind == "summary"``); ``read`` gives its typed view.

    Raises:
      errors.NotComputable: from ``conditioning.mtl``: a singular, indefinite or ill-conditioned kernel
        system (its message suggests a ``ridge``).

    Examples:
      >>> import tempfile
      >>> from ntk_bridge.experiments import conditioning
      >>> config = conditioning.Config(architectures=("concat",), similarities=(0.0, 1.0), seeds=2, task_scales=(1.0,),
      ...                              weightings=("uniform",), support_sizes=(2, 4), n_query=3, dim=4, n_boot=20,
      ...                              finite_widths=())
      >>> with tempfile.TemporaryDirectory() as root:
      ...     rec = conditioning.run(config, root=root)
      >>> s = conditioning.read(rec)
      >>> [c.label for c in s.curves], s.curves[0].similarities, s.finite
      (['concat', 'concat, task_scale 1', 'concat, uniform weights'], (0.0, 1.0), ())
      >>> s.curves[0].crossing.status in ("crossing", "hurts", "helps"), sorted(s.curves[0].rows[0].task_ratio)
      (True, [2, 4])
    """
    start = time.perf_counter()
    base = dict(support_sizes=config.support_sizes)
    cs = curves(config)
    points = [point(config, **base, **{k: c[k] for k in _CURVE_KEYS}, similarity=s, seed=seed)
              for c in cs for s in config.similarities for seed in range(config.seeds)]
    finite = _finite_points(config, base)
    records = sweep.run(root, NAME, points + finite, _compute, seed_of=lambda p: p["seed"])
    finite_records, records = records[len(points):], records[:len(points)]
    table = {}
    for r in records:
        cfg = r["config"]
        table[tuple(cfg[k] for k in _CURVE_KEYS) + (cfg["similarity"], cfg["seed"])] = r["result"]
    sizes = config.support_sizes
    out = []
    for j, c in enumerate(cs):
        key = tuple(c[k] for k in _CURVE_KEYS)
        res = [[table[key + (s, seed)] for seed in range(config.seeds)] for s in config.similarities]
        per_seed = np.array([[r["ratio"] for r in row] for row in res]).T   # (seeds, sims)
        rows = tuple(SimRow(s, Stat.read(stat([r["ratio"] for r in row])),
                            Stat.read(stat([float(np.mean(r["mse"])) for r in row])),
                            Stat.read(stat([float(np.mean(r["mse_independent"])) for r in row])),
                            {n: Stat.read(stat([r["mse"][i] / r["mse_independent"][i] for r in row]))
                             for i, n in enumerate(sizes)})
                     for s, row in zip(config.similarities, res))
        cross = dict(crossing(config.similarities, per_seed.mean(axis=0)),
                     **_bootstrap(config.similarities, per_seed, config.n_boot, config.level, j))
        out.append(Curve(**c, rows=rows, crossing=Crossing(**{f.name: cross[f.name]
                                                                for f in dataclasses.fields(Crossing)})))
    result = ConditioningResult(tuple(out), _finite_summary(config, finite_records))
    return save_summary(root, NAME, config, records + finite_records, schema.to_json(result), start)


def _finite_points(config: Config, base: dict) -> list[dict]:
    from ..finite.schedule import SCHEDULE

    return [point(config, **base, kind="finite", schedule=SCHEDULE, architecture=a, task_scale=config.task_scale,
                  weighting="uniform", ridge=config.ridge, width=w, similarity=s, seed=seed)
            for a in config.architectures + ("independent",) for w in config.finite_widths
            for s in config.finite_similarities for seed in range(config.finite_seeds)]


def _finite_summary(config: Config, records: list[dict]) -> tuple:
    """Per (architecture, width): rows over ``finite_similarities`` of trained-net ratios against independent nets."""
    table = {(r["config"]["architecture"], r["config"]["width"], r["config"]["similarity"], r["config"]["seed"]):
             r["result"] for r in records}
    out = []
    seeds = range(config.finite_seeds)
    for a in config.architectures:
        for w in config.finite_widths:
            rows = []
            for s in config.finite_similarities:
                res = [table[(a, w, s, seed)] for seed in seeds]
                ind = [table[("independent", w, s, seed)] for seed in seeds]
                rows.append(FiniteRow(
                    s, Stat.read(stat([np.mean(r["mse"]) / np.mean(i["mse"]) for r, i in zip(res, ind)])),
                    Stat.read(stat([np.mean(r["mse_closed_form"]) / np.mean(i["mse_closed_form"])
                                    for r, i in zip(res, ind)])),
                    Stat.read(stat([r["rel_err"] for r in res])), Stat.read(stat([i["rel_err"] for i in ind])),
                    sum(bool(r["left_kernel_regime"]) for r in res + ind), sum(not r["converged"] for r in res + ind)))
            out.append(FiniteCurve(a, w, tuple(rows)))
    return tuple(out)


# --------------------------------------------------------------------------- the summary's schema
@dataclasses.dataclass(frozen=True)
class Crossing:
    """Where the mean MSE ratio crosses 1 (``status == "crossing"``), with its bootstrap interval over seeds.

    ``status``: ``"crossing"``, ``"hurts"`` (ratio > 1 throughout: negative transfer over the
    whole measured range) or ``"helps"`` (ratio <= 1 throughout); ``boot_none_frac``: the share
    of bootstrap resamples without a crossing (the interval is over the others).  ``found`` is
    ``status == "crossing"``; ``describe()`` the text the reports print.

    Attributes:
      status: ``"crossing"``, ``"hurts"`` or ``"helps"``.
      similarity: where the mean ratio crosses 1 (the last crossing); NaN when there is none.
      lo: lower end of the bootstrap interval; NaN when no resample crosses.
      hi: upper end of the interval; NaN when no resample crosses.
      level: the interval's level (``Config.level``).
      n_crossings: sign changes of the mean ``ratio - 1`` over the grid.
      boot_none_frac: share of bootstrap resamples without a crossing, in ``[0, 1]``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import conditioning
      >>> s = conditioning.read(selection.summary("results/reference", "conditioning"))
      >>> c = s.curves[0].crossing
      >>> c.status, c.found, c.lo <= c.similarity <= c.hi, c.level
      ('crossing', True, True, 0.95)
    """

    status: str
    similarity: float           # NaN when there is no crossing
    lo: float                   # NaN when no resample crosses
    hi: float
    level: float
    n_crossings: int
    boot_none_frac: float

    @property
    def found(self) -> bool:
        return self.status == "crossing"

    def describe(self) -> str:
        if self.found:
            return f"{self.similarity:.3g}"
        return "none in the measured range (" + ("sharing hurts throughout" if self.status == "hurts"
                                                  else "sharing helps throughout") + ")"


@dataclasses.dataclass(frozen=True)
class SimRow:
    """One similarity of a closed-form curve: MSE ratio architecture / independent nets, over seeds.

    Attributes:
      similarity: task similarity in ``[0, 1]``.
      ratio: ``mean_i MSE_arch / mean_i MSE_indep`` (above 1: negative transfer), ``Stat`` over seeds.
      mse: mean over tasks of the architecture's query MSE, ``Stat`` over seeds.
      mse_independent: the same for one independent net per task.
      task_ratio: support size -> ``Stat`` over seeds of that task's MSE ratio (architecture / independent).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import conditioning
      >>> row = conditioning.read(selection.summary("results/reference", "conditioning")).curves[0].rows[0]
      >>> row.similarity, row.ratio.n, sorted(row.task_ratio)
      (0.0, 5, [2, 4, 6, 8, 10])
    """

    similarity: float
    ratio: Stat                 # mean_i MSE_arch / mean_i MSE_indep, over seeds
    mse: Stat                   # mean over tasks of the architecture's query MSE
    mse_independent: Stat       # the same for one independent net per task
    task_ratio: dict[int, Stat]  # support size -> Stat of that task's MSE ratio


@dataclasses.dataclass(frozen=True)
class Curve:
    """One closed-form curve (an entry of ``curves``): its ``SimRow`` per similarity and its crossing.

    ``similarities`` lists the rows' similarities; ``label`` names the curve in reports.

    Attributes:
      group: one of ``GROUPS`` (``"main"``, ``"task_scale"``, ``"weighting"``).
      architecture: the sharing architecture.
      task_scale: the task code's scale ``c``.
      weighting: ``"uniform"`` or ``"data"``.
      ridge: the kernel ridge.
      rows: one ``SimRow`` per similarity, in ``Config.similarities`` order.
      crossing: where the mean ratio crosses 1 (``Crossing``).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import conditioning
      >>> s = conditioning.read(selection.summary("results/reference", "conditioning"))
      >>> [c.label for c in s.curves if c.group == "task_scale"]
      ['concat, task_scale 0.3', 'concat, task_scale 1', 'concat, task_scale 3']
      >>> c = s.curves[0]
      >>> c.group, c.architecture, c.weighting, len(c.rows) == len(c.similarities)
      ('main', 'concat', 'uniform', True)
    """

    group: str                  # one of GROUPS
    architecture: str
    task_scale: float
    weighting: str
    ridge: float
    rows: tuple[SimRow, ...]
    crossing: Crossing

    @property
    def similarities(self) -> tuple:
        return tuple(r.similarity for r in self.rows)

    @property
    def label(self) -> str:
        if self.group == "task_scale":
            return f"concat, task_scale {self.task_scale:g}"
        if self.group == "weighting":
            return f"{self.architecture}, {self.weighting} weights"
        return self.architecture


@dataclasses.dataclass(frozen=True)
class FiniteRow:
    """One similarity of the finite-width arm: trained nets vs trained independent nets, over seeds.

    Attributes:
      similarity: task similarity in ``[0, 1]``.
      ratio: trained nets' ``mean_i MSE_arch / mean_i MSE_indep`` (paired by seed), ``Stat`` over seeds.
      ratio_closed_form: the same ratio of the closed forms, same seeds.
      rel_err: ``||trained - closed form|| / ||closed form||`` of the architecture's net, ``Stat`` over seeds.
      rel_err_independent: the same for the independent nets.
      left_kernel_regime: runs (architecture and independent) the loss monitor flagged as leaving the
        kernel regime.
      not_converged: runs (architecture and independent) that did not converge.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import conditioning
      >>> row = conditioning.read(selection.summary("results/reference", "conditioning")).finite[0].rows[0]
      >>> row.similarity, row.ratio.n, row.ratio_closed_form.n, row.not_converged
      (0.0, 3, 3, 0)
    """

    similarity: float
    ratio: Stat                 # trained nets: mean_i MSE_arch / mean_i MSE_indep (paired by seed)
    ratio_closed_form: Stat     # the same ratio of the closed forms, same seeds
    rel_err: Stat               # ||trained - closed form|| / ||closed form|| of the architecture's net
    rel_err_independent: Stat   # the same for the independent nets
    left_kernel_regime: int     # runs (architecture and independent) flagged by the loss monitor
    not_converged: int


@dataclasses.dataclass(frozen=True)
class FiniteCurve:
    """The finite-width arm at one (architecture, width): a ``FiniteRow`` per finite similarity.

    Attributes:
      architecture: the sharing architecture of the trained nets.
      width: their hidden width.
      rows: one ``FiniteRow`` per similarity of ``Config.finite_similarities`` (``similarities`` lists them).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import conditioning
      >>> f = conditioning.read(selection.summary("results/reference", "conditioning")).finite[0]
      >>> f.architecture, f.width, f.similarities
      ('concat', 256, (0.0, 0.5, 1.0))
    """

    architecture: str
    width: int
    rows: tuple[FiniteRow, ...]

    @property
    def similarities(self) -> tuple:
        return tuple(r.similarity for r in self.rows)


@dataclasses.dataclass(frozen=True)
class ConditioningResult:
    """What a conditioning summary stores (``schema.to_json``).

    Attributes:
      curves: one ``Curve`` per entry of ``curves(config)``, in that order.
      finite: one ``FiniteCurve`` per (architecture, width) of the finite-width arm; ``()`` without one.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import conditioning
      >>> result = conditioning.read(selection.summary("results/reference", "conditioning")).result
      >>> len(result.curves), len(result.finite)       # 4 + 3 + 4 x 2 curves; 4 architectures x 2 widths
      (15, 8)
    """

    curves: tuple[Curve, ...]
    finite: tuple[FiniteCurve, ...]   # per (architecture, width); () without a finite arm


@dataclasses.dataclass(frozen=True)
class ConditioningSummary(Summary):
    """A conditioning summary record, typed: its ``ConditioningResult`` and accessors (``curves``,
    ``finite``, ``group(name)``: the curves of one of ``GROUPS``).

    Attributes:
      record: the stored summary record (dict; ``config`` reads its config).
      result: the typed result (``ConditioningResult``).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import conditioning
      >>> s = conditioning.read(selection.summary("results/reference", "conditioning"))
      >>> [c.architecture for c in s.group("main")]
      ['concat', 'additive', 'multiplicative', 'multi-head-shared']
    """

    result: ConditioningResult | None = None

    @property
    def curves(self) -> tuple:
        return self.result.curves

    @property
    def finite(self) -> tuple:
        return self.result.finite

    def group(self, name: str) -> tuple:
        return tuple(c for c in self.curves if c.group == name)


def read(summary: dict) -> ConditioningSummary:
    """The typed view of a conditioning summary record.

    Args:
      summary: a stored conditioning summary record (from ``run``, or ``selection.summary(root,
        "conditioning")``).

    Returns:
      ConditioningSummary: the record and its ``ConditioningResult``.

    Raises:
      ValueError: from ``schema.from_json``: ``summary["result"]`` does not have the schema's shape.
      KeyError: ``summary`` has no ``"result"``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import conditioning
      >>> s = conditioning.read(selection.summary("results/reference", "conditioning"))
      >>> type(s).__name__, s.config["finite_widths"], {c.crossing.status for c in s.curves}
      ('ConditioningSummary', [256, 1024], {'crossing'})
    """
    return ConditioningSummary(summary, schema.from_json(ConditioningResult, summary["result"]))
