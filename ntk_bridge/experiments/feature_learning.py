"""Beyond the kernel regime (theory.md §12): trained nets in the NTK and the maximal-update parameterization.

For each task setting (``settings``: shared-feature regression, digits with labels permuted per episode,
digits with fixed labels), parameterization (``MLPSpec.parameterization``: ``"ntk"``, ``"mup"``), target
scale, method (``methods``, plus the no-transfer baseline), width and seed, one centered net of depth
``depth`` is trained (``nb.finite.fit_predict``, the kernel-regime schedule: step ``1 / lambda_max`` of the
net's own (meta-)NTK) and adapted on each test support.  Its record keeps the test predictions, the
relative movement of the last hidden features and of the empirical NTK (``info["feature_movement"]``,
``info["kernel_movement"]``), the test error and, for classification, the authors' probe on the trained
body.

**Lazy to rich.**  The knob is the targets' scale ``s`` (``fit_predict``'s ``target_scale``: train on
``s Y``, predict ``/ s``; Chizat, Oyallon & Bach's ``alpha = 1 / s``): the further the outputs must move,
the further the features move.  The learning rate is not: full-batch GD to convergence at a step below
the edge ends near the same net whatever the step (measured on shared-feature MTL, width 256: feature
movement 0.281 / 0.281 / 0.310 at ``lr_scale`` 0.25 / 1 / 1.9 under "ntk", 2.93 at all three under
"mup").  The inner loop is the same for both parameterizations: ``steps`` steps of reach ``tau /
lambda_max`` of the NTK on one training task (``common.scaled_adaptation``; both parameterizations have
this kernel at initialization).

The summary: per setting x parameterization x scale x method, the feature movement vs width with a
fitted ``movement ~ c n^-r`` (bootstrap over seeds; "ntk" predicts ``r = 1/2``, "mup" ``r = 0``); the
relative gap between each GBML net and the MTL net of the same seed (one initialization) vs width; the
distance between the functions of consecutive widths (a width limit exists if it shrinks); test accuracy
(inner loop and probe) beside no transfer.  Runs that did not converge are kept out (and, under "ntk",
runs that left the kernel regime; under "mup" leaving it is the point, so only convergence counts).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from .. import methods as methods_
from .. import metrics, probe, store, sweep, validate
from ..errors import NotComputable
from ..kernels import BACKENDS
from ..spec import PARAMETERIZATIONS, MLPSpec
from . import finite_sweep, schema
from .accuracy import SETTINGS, task_config
from .common import check_choice, check_int, check_ints, kernel_table, save_summary, scaled_adaptation, stat
from .stats import PowerFit, Stat, Summary

NAME = "feature-learning"
ALGORITHM = 1  # bump when this module would store other results for the same config (store.register)
store.register(NAME, ALGORITHM)
FIGURES = ("feature_learning",)
SECTIONS = ("feature_learning",)
QUICK_S = 13   # seconds of its quick config (2-core machine, 2026-12-05): reproduce starts the longest first
BASELINE = "no-transfer"
CLASSIFICATION = tuple(SETTINGS)   # the digits settings: accuracy and the probe; the others: MSE


def key(setting: str, parameterization: str, scale: float, method: str) -> str:
    """The key of one curve over widths in the summary's dicts: ``"setting|parameterization|scale|method"``.

    Args:
      setting: the task setting (``"shared-feature"`` or a digits setting of ``accuracy.SETTINGS``).
      parameterization: ``"ntk"`` or ``"mup"`` (``MLPSpec.parameterization``).
      scale: the target scale, written with ``:g`` (``1.0 -> "1"``).
      method: the method label (``"mtl-shared"``, ``"anil"``, ...).

    Returns:
      The ``str`` key of ``FeatureLearningResult.movement_fits``.

    Examples:
      >>> from ntk_bridge.experiments import feature_learning
      >>> feature_learning.key("digits", "mup", 0.1, "anil"), feature_learning.key("shared-feature", "ntk", 1.0, "maml")
      ('digits|mup|0.1|anil', 'shared-feature|ntk|1|maml')
    """
    return f"{setting}|{parameterization}|{scale:g}|{method}"


@dataclasses.dataclass(frozen=True)
class Config:
    """The feature-learning sweep: trained nets per setting, parameterization, target scale, method, width.

    Nets of ``depth`` layers and ``widths`` x ``seeds`` for every ``settings`` x ``parameterizations`` x
    ``scales`` x (``methods`` + no transfer), ``n_tasks`` training and test tasks per setting (task seed 0; the
    seed varies the initialization); ``max_widths``: ``(method name, n_max)`` pairs, a method trained only at
    ``width <= n_max``: second-order MAML on 5-way digits takes 90 s a net at width 1024 (8 tasks, 2 cores).

    MTL trains shared heads; GBML splits each training task's points into support (inner loop) and query
    (outer loss), the test tasks adapt on their support (the heads: MTL's initial head, GBML's trained one).
    ``float64_methods`` (method names) train in float64, the others in float32: second-order MAML's
    meta-gradient in float32 stalls muP nets on digits at 1e-4 to 3e-3 of the initial loss (measured: width 128,
    8 step halvings, loss oscillating by 6% a step; in float64 the same net converges in 175 steps).

    Attributes:
      settings: task settings, ``"shared-feature"`` and/or digits settings of ``CLASSIFICATION``.
      n_tasks: training and test tasks (each) per setting.
      parameterizations: of the nets, ``"ntk"`` and/or ``"mup"`` (``spec.PARAMETERIZATIONS``).
      scales: target scales ``s`` (train on ``s Y``, predict ``/ s``), each ``> 0``.
      methods: trained method labels; must hold ``"mtl-shared"`` (the gaps are to it), never the no-transfer
        baseline (always trained).
      widths: hidden widths, at least two (the fit ``movement ~ c n^-r``).
      seeds: initialization seeds per configuration: ``0 .. seeds - 1``.
      max_widths: ``((method name, n_max), ...)``: that method is trained only at widths ``<= n_max``.
      float64_methods: method names trained in float64 (the others in float32).
      depth: hidden-layer count of every net.
      tau: the inner loop's total reach in units of ``1 / lambda_max`` (``common.scaled_adaptation``), in
        ``(0, 2 steps]``.
      steps: inner-loop steps.
      outer_steps: most outer (training) steps per net.
      tol: a net converged when its loss fell below ``tol`` x its initial loss, in ``(0, 1)``.
      probe_C: inverse regularization of the authors' probe on the trained body (digits settings), ``> 0``.
      n_boot: bootstrap resamplings (over seeds) of the movement fits' intervals.
      include_flagged: let unconverged (and, under "ntk", regime-leaving) runs into the fits, gaps, limits
        and scores.
      backend: infinite-width kernel backend of the step-size kernel (``kernels.BACKENDS``).

    Raises:
      ValueError: when a field is invalid: an unknown setting or parameterization, a non-positive scale,
        ``methods`` without ``"mtl-shared"`` or with the no-transfer baseline, fewer than two widths, a
        ``float64_methods`` or ``max_widths`` name not trained, a non-positive count (the message names the field).

    Examples:
      >>> from ntk_bridge.experiments import feature_learning
      >>> cfg = feature_learning.Config.quick()
      >>> cfg.settings, cfg.widths, cfg.all_methods()
      (('shared-feature',), (32, 128), ('mtl-shared', 'anil', 'no-transfer'))
      >>> feature_learning.Config(methods=("anil",))
      Traceback (most recent call last):
      ValueError: methods must be a tuple of method labels holding 'mtl-shared' (the gaps are to it), got ('anil',)
    """

    settings: tuple = ("shared-feature", "digits", "digits-fixed")
    n_tasks: int = 6
    parameterizations: tuple = ("ntk", "mup")
    scales: tuple = (0.1, 1.0)
    methods: tuple = ("mtl-shared", "anil", "maml")
    widths: tuple = (64, 128, 256, 512, 1024)
    seeds: int = 2
    max_widths: tuple = (("maml", 512),)
    float64_methods: tuple = ("maml",)
    depth: int = 2
    tau: float = 0.5
    steps: int = 5
    outer_steps: int = 2000
    tol: float = 1e-4
    probe_C: float = probe.C_AUTHORS
    n_boot: int = 1000
    include_flagged: bool = False
    backend: str = "native"

    def __post_init__(self):
        known = ("shared-feature",) + CLASSIFICATION
        if not isinstance(self.settings, tuple) or not self.settings or any(s not in known for s in self.settings):
            raise ValueError(f"settings must be a non-empty tuple of {known}, got {self.settings!r}")
        if (not isinstance(self.parameterizations, tuple) or not self.parameterizations
                or any(p not in PARAMETERIZATIONS for p in self.parameterizations)):
            raise ValueError(f"parameterizations must be a non-empty tuple of {PARAMETERIZATIONS}, "
                             f"got {self.parameterizations!r}")
        if not isinstance(self.scales, tuple) or not self.scales:
            raise ValueError(f"scales must be a non-empty tuple of positive target scales, got {self.scales!r}")
        for s in self.scales:
            validate.positive("scales", s)
        if not isinstance(self.methods, tuple) or not self.methods or "mtl-shared" not in self.methods:
            raise ValueError(f"methods must be a tuple of method labels holding 'mtl-shared' (the gaps are to it), "
                             f"got {self.methods!r}")
        for m in self.methods:
            if methods_.parse(m).kind == "none":
                raise ValueError(f"methods: {m!r} is the no-transfer baseline, which every config trains anyway")
        check_ints("widths", self.widths)
        if len(self.widths) < 2:
            raise ValueError(f"widths must hold >= 2 widths (a fit movement ~ c n^-r), got {self.widths}")
        names = tuple(dict.fromkeys(methods_.parse(m).name for m in self.methods))
        finite_sweep.check_caps(self.max_widths, names)
        if not isinstance(self.float64_methods, tuple) or any(m not in names for m in self.float64_methods):
            raise ValueError(f"float64_methods must be a tuple of method names of {names}, got {self.float64_methods!r}")
        for name in ("n_tasks", "seeds", "depth", "steps", "outer_steps", "n_boot"):
            check_int(name, getattr(self, name))
        validate.real("tau", self.tau, 0.0, 2.0 * self.steps, low_open=True)
        validate.real("tol", self.tol, 0.0, 1.0, low_open=True, high_open=True)
        validate.positive("probe_C", self.probe_C)
        validate.flag("include_flagged", self.include_flagged)
        check_choice("backend", self.backend, BACKENDS)

    @classmethod
    def quick(cls) -> "Config":
        """About 15 s on 2 cores: shared-feature tasks, MTL and ANIL nets of width 32 and 128, one seed, one
        scale."""
        return cls(settings=("shared-feature",), n_tasks=4, scales=(1.0,), methods=("mtl-shared", "anil"),
                   widths=(32, 128), seeds=1, max_widths=(), float64_methods=(), outer_steps=600, tol=1e-3,
                   n_boot=200)

    def all_methods(self) -> tuple:
        """``methods`` then the no-transfer baseline."""
        return self.methods + (BASELINE,)


def tasks(setting: str, n_tasks: int):
    """The training and test tasks of ``setting`` (task seed 0).

    Args:
      setting: ``"shared-feature"`` or a digits setting of ``accuracy.SETTINGS`` (any family of
        ``accuracy.task_config``).
      n_tasks: training and test tasks (each).

    Returns:
      ``(train, test)``, two ``TaskSet``: inputs ``xs (n_tasks, support, dim)``, ``xq (n_tasks, query, dim)``
      and labels ``ys``/``yq`` with ``out_dim`` columns (float64), support and query sizes of the setting.

    Raises:
      ValueError: propagated from ``accuracy.task_config`` for a setting it does not know.

    Examples:
      >>> from ntk_bridge.experiments import feature_learning
      >>> train, test = feature_learning.tasks("shared-feature", 2)
      >>> train.xs.shape, train.xq.shape, test.xs.shape, train.ys.shape
      ((2, 5, 16), (2, 10, 16), (2, 5, 16), (2, 5, 1))
      >>> train, test = feature_learning.tasks("digits", 2)   # 5-way 1-shot, 3 queries per class
      >>> train.xs.shape, train.xq.shape, train.ys.shape
      ((2, 5, 64), (2, 15, 64), (2, 5, 5))
    """
    return task_config(setting, n_tasks, n_tasks).draw(0)


def _train(p: dict) -> dict:
    """One trained net: predictions, movement, error, probe and flags (``NotComputable`` recorded)."""
    from .. import finite

    train, test = tasks(p["setting"], p["n_tasks"])
    spec = MLPSpec(depth=p["depth"], width=p["width"], parameterization=p["parameterization"], out_dim=train.out_dim)
    ntk = MLPSpec(depth=p["depth"], out_dim=train.out_dim)   # the kernel of both at initialization
    adapt = scaled_adaptation(kernel_table(ntk, train, test, backend=p["backend"]), train, p["tau"], p["steps"])
    try:
        pred, info = finite.fit_predict(spec, train, test, method=p["method"], adapt=adapt, seed=p["seed"],
                                        outer_steps=p["outer_steps"], tol=p["tol"], target_scale=p["scale"],
                                        dtype=p.get("dtype", "float32"), return_info=True)
    except NotComputable as exc:
        return {"not_computable": str(exc), "converged": False, "left_kernel_regime": False}
    out = {**{k: info[k] for k in finite_sweep.FLAG_KEYS}, "train_s": info["wall_s"], "lr": adapt.lr,
           "feature_movement": info["feature_movement"], "kernel_movement": info["kernel_movement"],
           "pred": pred.tolist()}
    if p["setting"] in CLASSIFICATION:
        out["accuracy"] = metrics.accuracy(pred, test.yq)
        dead = _dead_points(spec, info["body"], test)
        if dead:   # the probe normalizes each point's features: undefined for a point whose features all vanish
            out["probe_error"] = f"{dead} test points have all-zero trained features (the probe is undefined there)"
        else:
            out["probe"] = probe.finite(spec, info["body"], test, p["probe_C"])
    else:
        out["mse"] = metrics.mse(pred, test.yq)
    return out


def _dead_points(spec, body, test) -> int:
    """How many of ``test``'s points have all-zero features on ``body`` (a trained ReLU net can kill a point)."""
    x = np.concatenate([test.xs, test.xq], axis=1).reshape(-1, test.dim).astype(np.float32)
    phi = np.asarray(spec.features(body, x))
    return int(np.sum(~np.any(phi != 0, axis=-1)))


def exclusion(result: dict, parameterization: str, include_flagged: bool) -> str | None:
    """Why a trained net stays out of the summary, or ``None`` when it counts.

    Why a run stays out (``finite_sweep.exclusion``); under a parameterization other than "ntk" leaving the
    kernel regime is not a flag (only convergence and computability are).

    Args:
      result: a trained net's point result (``"converged"``, ``"left_kernel_regime"``, ``"rises"``,
        ``"max_step_ratio"``, ...; ``"not_computable"`` when training failed).
      parameterization: the net's parameterization, ``"ntk"`` or ``"mup"``.
      include_flagged: let unconverged and regime-leaving runs in (never ``NotComputable`` ones).

    Returns:
      The reason (``str``) the run stays out, or ``None`` when it counts.

    Examples:
      >>> from ntk_bridge.experiments import feature_learning
      >>> r = {"converged": True, "left_kernel_regime": True, "rises": 2, "max_step_ratio": 1.5}
      >>> feature_learning.exclusion(r, "mup", False) is None, feature_learning.exclusion(r, "ntk", True) is None
      (True, True)
      >>> feature_learning.exclusion(r, "ntk", False)
      'left the kernel regime: the loss rose 2 times, by up to 1.5x in one step (rule: > ...x)'
    """
    if parameterization != "ntk" and result.get("left_kernel_regime"):
        result = dict(result, left_kernel_regime=False)
    return finite_sweep.exclusion(result, include_flagged)


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) every net and store the summary.

    Each point trains one centered net (``finite.fit_predict``, inner loop of reach ``tau / lambda_max``) and
    stores its test predictions, feature and kernel movement, flags and test error (accuracy and probe on
    digits, MSE otherwise); points already stored under ``root`` are read back.  The summary holds every
    net (``Net``), per configuration and method the fit ``feature_movement ~ c n^-r``, the GBML-MTL gaps
    (``GapRow``), the distances between consecutive widths (``LimitRow``) and the scores (``ScoreRow``).

    Args:
      config: the sweep (``Config``).
      root: the results folder the point and summary records are stored under.

    Returns:
      The summary record (a ``dict``, ``kind == "summary"``): ``"result"`` is ``schema.to_json`` of a
      ``FeatureLearningResult`` plus ``"points"``; ``read`` types it.

    Examples:
      MTL and no transfer at widths 8 and 16 (depth 1, two tasks), in a temporary folder:

      >>> import tempfile
      >>> from ntk_bridge.experiments import feature_learning
      >>> cfg = feature_learning.Config(settings=("shared-feature",), n_tasks=2, parameterizations=("ntk",),
      ...                               scales=(1.0,), methods=("mtl-shared",), widths=(8, 16), seeds=1,
      ...                               max_widths=(), float64_methods=(), depth=1, outer_steps=20, tol=1e-2,
      ...                               n_boot=10)
      >>> with tempfile.TemporaryDirectory() as root:
      ...     s = feature_learning.read(feature_learning.run(cfg, root))
      >>> [(n.method, n.width) for n in s.result.nets]
      [('mtl-shared', 8), ('mtl-shared', 16), ('no-transfer', 8), ('no-transfer', 16)]
      >>> sorted(s.result.movement_fits), len(s.result.limits), len(s.result.scores), s.result.gaps
      (['shared-feature|ntk|1|mtl-shared'], 2, 4, ())
    """
    from ..finite import SCHEDULE

    start = time.perf_counter()
    widths = {m: finite_sweep.widths_for(config.widths, config.max_widths, m) if m != BASELINE else config.widths
              for m in config.all_methods()}
    runs = [(f, par, s, m, n, seed) for f in config.settings for par in config.parameterizations
            for s in config.scales for m in config.all_methods() for n in widths[m] for seed in range(config.seeds)]
    pts = [store.to_jsonable({"setting": f, "n_tasks": config.n_tasks, "parameterization": par, "scale": s,
                              "method": m, "width": n, "seed": seed, "depth": config.depth, "tau": config.tau,
                              "steps": config.steps, "outer_steps": config.outer_steps, "tol": config.tol,
                              "schedule": SCHEDULE, "backend": config.backend,
                              **({"probe_C": config.probe_C} if f in CLASSIFICATION else {}),
                              **({"dtype": "float64"} if m != BASELINE and methods_.parse(m).name
                                 in config.float64_methods else {})})
           for f, par, s, m, n, seed in runs]
    recs = sweep.run(root, NAME, pts, _train, seed_of=lambda p: p["seed"], desc="feature-learning: trained nets")
    res = {r: rec["result"] for r, rec in zip(runs, recs)}
    nets, movement, gaps, limits, acc = [], {}, [], [], []
    for f in config.settings:
        for par in config.parameterizations:
            for s in config.scales:
                kept = {}
                for m in config.all_methods():
                    for n in widths[m]:
                        for seed in range(config.seeds):
                            r = res[f, par, s, m, n, seed]
                            why = exclusion(r, par, config.include_flagged)
                            nets.append(Net(f, par, s, m, n, seed, r.get("feature_movement"),
                                            r.get("kernel_movement"), bool(r["converged"]),
                                            bool(r["left_kernel_regime"]), why))
                            if why is None:
                                kept[m, n, seed] = r
                for m in config.all_methods():
                    if m != BASELINE:
                        movement[key(f, par, s, m)] = _fit(widths[m], config.seeds, kept, m, config.n_boot)
                    limits += _limits(f, par, s, m, widths[m], config.seeds, kept)
                    for n in widths[m]:
                        acc.append(_score_row(f, par, s, m, n, config.seeds, kept))
                        if m not in ("mtl-shared", BASELINE):
                            gaps.append(_gap_row(f, par, s, m, n, config.seeds, kept))
    result = FeatureLearningResult(tuple(nets), movement, tuple(gaps), tuple(limits), tuple(acc))
    return save_summary(root, NAME, config, recs, schema.to_json(result), start)


def _fit(widths, seeds: int, kept: dict, m: str, n_boot: int) -> PowerFit:
    """``feature_movement ~ c n^-r`` over ``widths`` (bootstrap over seeds; runs kept out are left out)."""
    vals = np.ones((seeds, len(widths)))
    keep = np.zeros_like(vals, dtype=bool)
    for j, n in enumerate(widths):
        for seed in range(seeds):
            r = kept.get((m, n, seed))
            if r is not None and r["feature_movement"] > 0:
                vals[seed, j], keep[seed, j] = r["feature_movement"], True
    fit = metrics.fit_power_law_kept(widths, vals, keep, n_boot=n_boot) if len(widths) >= 2 else None
    if fit is None:
        return PowerFit(error="fewer than 2 widths with a kept net")
    means = [float(np.exp(np.log(vals[keep[:, j], j]).mean())) for j in range(len(widths)) if keep[:, j].any()]
    return PowerFit.read(dict(fit, depths=[n for j, n in enumerate(widths) if keep[:, j].any()],
                              monotone_decreasing=bool(np.all(np.diff(means) < 0))))


def _gap_row(f, par, s, m, n, seeds: int, kept: dict) -> "GapRow":
    """``||f_GBML - f_MTL|| / ||f_MTL||`` of the nets of one seed (one initialization), over the seeds."""
    vals = [metrics.rel_gap(kept[m, n, seed]["pred"], kept["mtl-shared", n, seed]["pred"])
            for seed in range(seeds) if (m, n, seed) in kept and ("mtl-shared", n, seed) in kept]
    return GapRow(f, par, s, m, n, Stat.read(stat(vals)) if vals else None)


def _limits(f, par, s, m, widths, seeds: int, kept: dict) -> list:
    """``||f_n - f_2n'|| / ||f_2n'||`` between consecutive widths of one seed, over the seeds."""
    rows = []
    for a, b in zip(widths[:-1], widths[1:]):
        vals = [metrics.rel_gap(kept[m, a, seed]["pred"], kept[m, b, seed]["pred"])
                for seed in range(seeds) if (m, a, seed) in kept and (m, b, seed) in kept]
        rows.append(LimitRow(f, par, s, m, a, b, Stat.read(stat(vals)) if vals else None))
    return rows


def _score_row(f, par, s, m, n, seeds: int, kept: dict) -> "ScoreRow":
    rs = [kept[m, n, seed] for seed in range(seeds) if (m, n, seed) in kept]

    def over(name):
        vals = [r[name] for r in rs if name in r]
        return Stat.read(stat(vals)) if vals else None

    return ScoreRow(f, par, s, m, n, over("accuracy"), over("probe"), over("mse"), over("feature_movement"),
                    over("kernel_movement"), seeds - len(rs))


# --------------------------------------------------------------------------- the summary's schema
@dataclasses.dataclass(frozen=True)
class Net:
    """One trained net: its movements, flags, and why it was kept out (``None``: kept).

    Attributes:
      setting: the task setting.
      parameterization: ``"ntk"`` or ``"mup"``.
      scale: the target scale ``s``.
      method: the method label (or ``BASELINE``, no transfer).
      width: hidden width ``n``.
      seed: initialization seed.
      feature_movement: relative movement of the last hidden features (``None``: not computable).
      kernel_movement: relative movement of the empirical NTK (``None``: not computable).
      converged: whether the loss fell below ``tol`` x the initial loss.
      left_kernel_regime: whether the loss rose by more than ``finite.RISE_TOL`` in one step.
      excluded: why the net was kept out (``exclusion``), ``None`` when kept.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import feature_learning
      >>> s = feature_learning.read(selection.summary("results/reference", "feature-learning"))
      >>> nets = s.rows("nets", setting="shared-feature", parameterization="ntk", scale=0.1, width=64)
      >>> [(n.method, n.seed) for n in nets]
      [('mtl-shared', 0), ('mtl-shared', 1), ('anil', 0), ('anil', 1), ('maml', 0), ('maml', 1), ('no-transfer', 0),
       ('no-transfer', 1)]
      >>> nets[0].feature_movement, nets[0].converged, nets[0].excluded
      (0.05..., True, None)
    """

    setting: str
    parameterization: str
    scale: float
    method: str
    width: int
    seed: int
    feature_movement: float | None
    kernel_movement: float | None
    converged: bool
    left_kernel_regime: bool
    excluded: str | None


@dataclasses.dataclass(frozen=True)
class GapRow:
    """A GBML net against the MTL net of the same initialization, over the seeds.

    Attributes:
      setting: the task setting.
      parameterization: ``"ntk"`` or ``"mup"``.
      scale: the target scale ``s``.
      method: the GBML method label.
      width: hidden width ``n``.
      gap: ``||f_GBML - f_MTL|| / ||f_MTL||`` of the nets of one seed, a ``Stat`` over the seeds where both were
        kept (``None``: no such seed).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import feature_learning
      >>> s = feature_learning.read(selection.summary("results/reference", "feature-learning"))
      >>> rows = s.rows("gaps", setting="digits", parameterization="mup", scale=1.0, method="maml")
      >>> [(r.width, None if r.gap is None else r.gap.n) for r in rows]
      [(64, None), (128, 1), (256, None), (512, 2)]
    """

    setting: str
    parameterization: str
    scale: float
    method: str
    width: int
    gap: Stat | None


@dataclasses.dataclass(frozen=True)
class LimitRow:
    """The functions of widths ``a`` and ``b`` of one configuration, ``||f_a - f_b|| / ||f_b||`` over the seeds.

    Attributes:
      setting: the task setting.
      parameterization: ``"ntk"`` or ``"mup"``.
      scale: the target scale ``s``.
      method: the method label (or ``BASELINE``).
      a: the smaller width.
      b: the next width of the sweep.
      distance: ``||f_a - f_b|| / ||f_b||`` of the nets of one seed, a ``Stat`` over the seeds where both were
        kept (``None``: no such seed).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import feature_learning
      >>> s = feature_learning.read(selection.summary("results/reference", "feature-learning"))
      >>> rows = s.rows("limits", setting="digits", parameterization="mup", scale=1.0, method="no-transfer")
      >>> [(r.a, r.b) for r in rows], rows[-1].distance.n
      ([(64, 128), (128, 256), (256, 512), (512, 1024)], 2)
    """

    setting: str
    parameterization: str
    scale: float
    method: str
    a: int
    b: int
    distance: Stat | None


@dataclasses.dataclass(frozen=True)
class ScoreRow:
    """Test error (accuracy and probe, or MSE) and movements of one method at one width, over kept seeds.

    Attributes:
      setting: the task setting.
      parameterization: ``"ntk"`` or ``"mup"``.
      scale: the target scale ``s``.
      method: the method label (or ``BASELINE``).
      width: hidden width ``n``.
      accuracy: test accuracy after the inner loop (digits settings; ``None`` otherwise or none kept).
      probe: the authors' probe's test accuracy on the trained body (digits settings).
      mse: test MSE (regression settings).
      feature_movement: relative movement of the last hidden features.
      kernel_movement: relative movement of the empirical NTK.
      excluded: seeds left out.

    Every score is a ``Stat`` over the kept seeds.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import feature_learning
      >>> s = feature_learning.read(selection.summary("results/reference", "feature-learning"))
      >>> (row,) = s.rows("scores", setting="digits", parameterization="ntk", scale=1.0, method="anil", width=256)
      >>> row.mse is None, row.accuracy.n, row.excluded
      (True, 2, 0)
      >>> row.probe.mean
      0.63...
    """

    setting: str
    parameterization: str
    scale: float
    method: str
    width: int
    accuracy: Stat | None
    probe: Stat | None
    mse: Stat | None
    feature_movement: Stat | None
    kernel_movement: Stat | None
    excluded: int


@dataclasses.dataclass(frozen=True)
class FeatureLearningResult:
    """What a feature-learning summary stores (``schema.to_json``).

    Attributes:
      nets: every trained net (``Net``).
      movement_fits: ``key(setting, parameterization, scale, method) -> PowerFit`` of ``movement ~ c n^-r``.
      gaps: GBML vs MTL of one initialization (``GapRow``), per configuration, method and width.
      limits: distances between consecutive widths (``LimitRow``).
      scores: test errors and movements (``ScoreRow``), per configuration, method and width.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import feature_learning
      >>> s = feature_learning.read(selection.summary("results/reference", "feature-learning"))
      >>> r = s.result
      >>> len(r.nets), len(r.movement_fits), len(r.gaps), len(r.limits), len(r.scores)
      (456, 36, 108, 180, 228)
    """

    nets: tuple[Net, ...]
    movement_fits: dict[str, PowerFit]      # key(setting, parameterization, scale, method) -> movement ~ c n^-r
    gaps: tuple[GapRow, ...]
    limits: tuple[LimitRow, ...]
    scores: tuple[ScoreRow, ...]


@dataclasses.dataclass(frozen=True)
class FeatureLearningSummary(Summary):
    """A feature-learning summary record, typed.

    Attributes:
      record: the stored summary record (a ``dict``; ``config`` is its ``"config"``).
      result: the typed ``FeatureLearningResult``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import feature_learning
      >>> s = feature_learning.read(selection.summary("results/reference", "feature-learning"))
      >>> ntk, mup = (s.fit("shared-feature", p, 1.0, "mtl-shared") for p in ("ntk", "mup"))
      >>> ntk.r, mup.r
      (0.45..., 0.02...)
      >>> len(s.rows("nets", method="no-transfer")), s.fit("digits", "ntk", 1.0, "bogus") is None
      (120, True)
    """

    result: FeatureLearningResult | None = None

    def fit(self, setting: str, parameterization: str, scale: float, method: str) -> PowerFit | None:
        """The fitted feature movement vs width of one configuration (``None``: not run)."""
        return self.result.movement_fits.get(key(setting, parameterization, scale, method))

    def rows(self, kind: str, **match) -> tuple:
        """The rows of ``kind`` (``"gaps" | "limits" | "scores" | "nets"``) whose fields equal ``match``."""
        check_choice("kind", kind, ("gaps", "limits", "scores", "nets"))
        return tuple(r for r in getattr(self.result, kind)
                     if all(getattr(r, k) == v for k, v in match.items()))


def read(summary: dict) -> FeatureLearningSummary:
    """The typed view of a feature-learning summary record.

    Args:
      summary: a feature-learning summary record, as ``run`` returns it or ``selection.summary`` reads it.

    Returns:
      A ``FeatureLearningSummary`` of the record and its ``FeatureLearningResult``.

    Raises:
      ValueError: propagated from ``schema.from_json`` when the record's result does not have this code's
        layout (written by another version).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import feature_learning
      >>> s = feature_learning.read(selection.summary("results/reference", "feature-learning"))
      >>> type(s).__name__, type(s.result.nets[0]).__name__, s.config["parameterizations"]
      ('FeatureLearningSummary', 'Net', ['ntk', 'mup'])
    """
    return FeatureLearningSummary(summary, schema.from_json(FeatureLearningResult, summary["result"]))
