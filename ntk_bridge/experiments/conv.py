"""Convolutional nets on digit images (theory.md §11): C3 and C5 with the CNTK, and trained conv nets vs channels.

Three parts, one summary, every task a few-shot episode of scikit-learn's 8x8 digits read as images:

* **closeness** (C3-conv): per architecture in ``archs`` (``ARCHS``: ``"conv-gap"``, ``"conv-flatten"``,
  the CNTK of ``ConvSpec(depth, pool=...)``; ``"mlp"``, the MLP's NTK on the same images flattened, beside
  them), depth and seed, the gaps of the GBML closed forms (ANIL, MAML; ``splits``) to MTL's
  (``closeness.evaluate``), with the fit ``gap ~ c L^-r`` (``closeness.depth_result``).  The inner loop takes
  ``steps`` steps of total reach ``tau / lambda_max`` (``common.scaled_adaptation``): a CNTK with global
  pooling is about 100x smaller than the MLP's NTK on the same images, so a fixed step size would mean no
  adaptation for one and a large one for the other;
* **accuracy** (C5-conv): per architecture, digits setting (``accuracy.SETTINGS``), depth and seed, the test
  accuracy of every method's closed form and of the authors' logistic probe on the initial features
  (``accuracy.evaluate``; at infinite width every method keeps the initial body);
* **channels**: centered conv nets of ``finite_depth`` layers (``finite_pool``) trained with the
  kernel-regime schedule for each of ``finite_methods`` x ``channels`` x seed on one small episode set,
  adapted on each test support; their error ``||trained - closed|| / ||closed||`` to the CNTK closed form,
  fitted as ``err ~ c C^-r`` over the channel counts (bootstrap over seeds; runs that did not converge or
  left the kernel regime are flagged and kept out unless ``include_flagged``).
"""
from __future__ import annotations

import dataclasses
import math
import time
import types

import numpy as np

from .. import methods as methods_
from .. import metrics, probe, store, sweep, validate
from ..errors import NotComputable
from ..kernels import BACKENDS
from ..predict import SPLITS, closed_form
from ..spec import ConvSpec
from . import accuracy, closeness, finite_sweep, schema
from .accuracy import AccuracyResult
from .closeness import ClosenessResult, ClosenessSummary
from .common import TaskConfig, check_choice, check_int, check_ints, kernel_table, save_summary, scaled_adaptation
from .stats import PowerFit, Summary

NAME = "conv"
ALGORITHM = 1  # bump when this module would store other results for the same config (store.register)
store.register(NAME, ALGORITHM)
FIGURES = ("conv",)
SECTIONS = ("conv",)
QUICK_S = 15   # seconds of its quick config (2-core machine, 2026-12-05): reproduce starts the longest first
IMAGES = (("as_images", True),)
POOLS = ("gap", "flatten")
# Architecture labels -> the fields of a point that select its spec (common.spec_for).
ARCHS = {"conv-gap": {"arch": "conv", "pool": "gap"}, "conv-flatten": {"arch": "conv", "pool": "flatten"},
         "mlp": {"arch": "mlp"}}


def arch_of(point: dict) -> str:
    """The ``ARCHS`` label of a point's config.

    Args:
      point: a point's configuration (a ``dict`` with ``"arch"``, and ``"pool"`` for ``"conv"``).

    Returns:
      ``"mlp"``, or ``"conv-<pool>"`` (``"conv-gap"``, ``"conv-flatten"``).

    Raises:
      KeyError: propagated when ``point`` has no ``"arch"`` (or a conv point no ``"pool"``).

    Examples:
      >>> from ntk_bridge.experiments import conv
      >>> conv.arch_of({"arch": "conv", "pool": "gap", "depth": 2}), conv.arch_of({"arch": "mlp"})
      ('conv-gap', 'mlp')
      >>> all(conv.arch_of(fields) == label for label, fields in conv.ARCHS.items())
      True
    """
    return "mlp" if point["arch"] == "mlp" else f"conv-{point['pool']}"


@dataclasses.dataclass(frozen=True)
class Config:
    """The conv sweep: CNTK closeness and accuracy per architecture, and trained conv nets vs channels.

    Closeness on ``tasks`` at ``depths`` x ``seeds``; accuracy on ``settings`` (``n_acc`` training and test
    tasks each) at ``acc_depths`` x ``acc_seeds``; both for each of ``archs`` (``ARCHS``), inner loop
    ``steps`` steps of reach ``tau``.  Trained conv nets (``finite_depth`` layers, ``finite_pool``) of
    ``channels`` x ``finite_seeds`` for ``finite_methods`` on ``finite_tasks`` (task seed 0; the seed varies
    the initialization); ``max_channels``: ``(method name, C_max)`` pairs, a method trained only at
    ``channels <= C_max``: second-order MAML through the per-task inner loop costs about 10x ANIL at 64
    channels; ANIL at 128 channels in float32 does not converge (its loss creeps up: round-off in the
    meta-gradient; in float64 it converges, at 170 s a net on 2 cores).

    The trained nets flatten (``finite_pool``, as MAML's 4-layer CNNs do): with global pooling the CNTK of a
    few digit images is ill conditioned (condition number about 1,600 on the 18 training images, against 24
    flattened), so gradient descent at step ``1/lambda_max`` stops far from its limit within a CPU budget,
    and the distance to the closed form would measure the optimization, not the width.

    Attributes:
      tasks: the closeness episodes: digits drawn as images (``TaskConfig``; default 10 + 10 2-way tasks,
        5 support and 5 query images per class).
      archs: architecture labels (``ARCHS``) of the closeness and accuracy parts.
      depths: closeness depths, at least two (the fit ``gap ~ c L^-r``).
      seeds: closeness task draws per (architecture, depth): seeds ``0 .. seeds - 1``.
      splits: the GBML splits of the closeness part (``predict.SPLITS``).
      tau: the inner loop's total reach in units of ``1 / lambda_max`` (``common.scaled_adaptation``), in
        ``(0, 2 steps]``.
      steps: inner-loop steps.
      settings: the accuracy part's digits settings (``accuracy.SETTINGS``; empty: no accuracy part).
      n_acc: training and test tasks (each) of an accuracy setting.
      acc_depths: depths of the accuracy part.
      acc_seeds: task draws per accuracy (architecture, setting, depth).
      probe_C: inverse regularization of the authors' logistic probe (``probe.C_AUTHORS``), ``> 0``.
      finite_tasks: the trained nets' episodes, digits as images (task seed 0).
      finite_pool: the trained nets' pooling, ``"gap"`` or ``"flatten"``.
      finite_depth: the trained nets' convolutional layers.
      channels: the trained nets' channel counts (empty: no trained nets).
      finite_methods: the trained nets' methods, ``Method`` labels (``"anil-same"``).
      max_channels: ``((method name, C_max), ...)``: that method is trained only at ``channels <= C_max``.
      finite_seeds: initialization seeds per (method, channels).
      outer_steps: most outer (training) steps per net.
      tol: a net converged when its loss fell below ``tol`` x its initial loss, in ``(0, 1)``.
      n_boot: bootstrap resamplings of the fits' intervals.
      include_flagged: let unconverged and regime-leaving nets into the channel fits (never ``NotComputable``
        ones).
      backend: infinite-width kernel backend (``kernels.BACKENDS``).

    Raises:
      ValueError: when a field is invalid: tasks that are not digits images, an unknown architecture, split,
        setting, method or pool, fewer than two depths, ``tau`` outside ``(0, 2 steps]``, a non-positive count,
        a cap of ``max_channels`` naming a method not trained (the message names the field).

    Examples:
      >>> from ntk_bridge.experiments import conv
      >>> from ntk_bridge.experiments.common import TaskConfig
      >>> cfg = conv.Config.quick()
      >>> cfg.depths, cfg.settings, cfg.channels, cfg.finite_methods
      ((1, 2, 4), ('digits-2way',), (8, 16), ('anil-same',))
      >>> conv.Config(tasks=TaskConfig("digits", 4, 4, 2, 3))
      Traceback (most recent call last):
      ValueError: tasks must be digits tasks drawn as images (TaskConfig('digits', ..., options=(..., ...
    """

    tasks: TaskConfig = TaskConfig("digits", 10, 10, 5, 5, options=(("n_way", 2),) + IMAGES)
    archs: tuple = ("conv-gap", "conv-flatten", "mlp")
    depths: tuple = (1, 2, 4, 8, 16)
    seeds: int = 3
    splits: tuple = ("same", "disjoint")
    tau: float = 0.5
    steps: int = 5
    settings: tuple = ("digits", "digits-2way", "digits-fixed")
    n_acc: int = 10
    acc_depths: tuple = (2, 8)
    acc_seeds: int = 2
    probe_C: float = probe.C_AUTHORS
    finite_tasks: TaskConfig = TaskConfig("digits", 3, 2, 1, 2, options=(("n_way", 2),) + IMAGES)
    finite_pool: str = "flatten"
    finite_depth: int = 2
    channels: tuple = (16, 32, 64, 128, 256)
    finite_methods: tuple = ("mtl-shared", "anil-same", "maml-same")
    max_channels: tuple = (("anil", 64), ("maml", 64))
    finite_seeds: int = 3
    outer_steps: int = 2000
    tol: float = 1e-4
    n_boot: int = 1000
    include_flagged: bool = False
    backend: str = "native"

    def __post_init__(self):
        for name in ("tasks", "finite_tasks"):
            t = getattr(self, name)
            if not isinstance(t, TaskConfig) or t.family != "digits" or not dict(t.options).get("as_images"):
                raise ValueError(f"{name} must be digits tasks drawn as images (TaskConfig('digits', ..., "
                                 f"options=(..., ('as_images', True)))), got {t!r}")
        check_choice("finite_pool", self.finite_pool, POOLS)
        if not isinstance(self.archs, tuple) or not self.archs or any(a not in ARCHS for a in self.archs):
            raise ValueError(f"archs must be a non-empty tuple of {tuple(ARCHS)}, got {self.archs!r}")
        check_ints("depths", self.depths)
        if len(self.depths) < 2:
            raise ValueError(f"depths must hold >= 2 depths (a fit gap ~ c L^-r), got {self.depths}")
        if not isinstance(self.splits, tuple) or not self.splits or any(s not in SPLITS for s in self.splits):
            raise ValueError(f"splits must be a non-empty tuple of {SPLITS}, got {self.splits!r}")
        validate.real("tau", self.tau, 0.0, 2.0 * check_int("steps", self.steps), low_open=True)
        if not isinstance(self.settings, tuple) or any(f not in accuracy.SETTINGS for f in self.settings):
            raise ValueError(f"settings must be a tuple of {tuple(accuracy.SETTINGS)}, got {self.settings!r}")
        if self.settings:
            check_ints("acc_depths", self.acc_depths)
        for name in ("seeds", "n_acc", "acc_seeds", "finite_depth", "finite_seeds", "outer_steps", "n_boot"):
            check_int(name, getattr(self, name))
        validate.positive("probe_C", self.probe_C)
        if self.channels:
            check_ints("channels", self.channels)
        if not isinstance(self.finite_methods, tuple):
            raise ValueError(f"finite_methods must be a tuple of method labels, got {self.finite_methods!r}")
        for m in self.finite_methods:
            methods_.parse(m)   # ValueError naming the method
        finite_sweep.check_caps(self.max_channels, tuple(dict.fromkeys(methods_.parse(m).name
                                                                       for m in self.finite_methods)), "max_channels")
        validate.real("tol", self.tol, 0.0, 1.0, low_open=True, high_open=True)
        validate.flag("include_flagged", self.include_flagged)
        check_choice("backend", self.backend, BACKENDS)

    @classmethod
    def quick(cls) -> "Config":
        """About 15 s on 2 cores: 2-way 2-shot episodes, depths 1, 2, 4, one accuracy setting, ANIL nets of 8
        and 16 channels."""
        return cls(tasks=TaskConfig("digits", 4, 4, 2, 3, options=(("n_way", 2),) + IMAGES), depths=(1, 2, 4),
                   seeds=2, settings=("digits-2way",), n_acc=4, acc_depths=(2,), acc_seeds=1, channels=(8, 16),
                   finite_methods=("anil-same",), max_channels=(), finite_seeds=2, outer_steps=400, tol=1e-3,
                   n_boot=200)

    def depth_view(self):
        """What ``closeness.depth_result`` reads of a closeness config (``lr`` NaN: it is set per seed by ``tau``)."""
        return types.SimpleNamespace(depths=tuple(self.depths), splits=tuple(self.splits), lr=math.nan,
                                     steps=self.steps, n_boot=self.n_boot, fit_min_depth=1)


def _train(p: dict) -> dict:
    """One trained conv net: its error to the CNTK closed form and the run's flags (``NotComputable`` recorded)."""
    from .. import finite

    train, test = TaskConfig(**p["tasks"]).draw(0)
    spec = ConvSpec(depth=p["depth"], pool=p["pool"], out_dim=train.out_dim, image_shape=train.image_shape)
    kfn = kernel_table(spec, train, test, backend=p["backend"])
    adapt = scaled_adaptation(kfn, train, p["tau"], p["steps"])
    closed = closed_form(p["method"], kfn, train, test, adapt=adapt)
    try:
        pred, info = finite.fit_predict(spec.replace(channels=p["channels"]), train, test, method=p["method"],
                                        adapt=adapt, seed=p["seed"], outer_steps=p["outer_steps"], tol=p["tol"],
                                        return_info=True)
    except NotComputable as exc:
        return {"not_computable": str(exc), "converged": False, "left_kernel_regime": False}
    return {**{k: info[k] for k in finite_sweep.FLAG_KEYS}, "train_s": info["wall_s"],
            "err": metrics.rel_gap(pred, closed), "lr": adapt.lr}


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) the three parts and store the summary.

    Closeness points (``closeness.evaluate``) and accuracy points (``accuracy.evaluate``) are closed forms on
    the CNTK or the MLP's NTK; channel points train one conv net each and store ``||trained - closed|| /
    ||closed||`` with the run's flags.  Points already stored under ``root`` are read back.  The summary
    holds per architecture a ``ClosenessResult`` (``closeness.depth_result``) and an ``AccuracyResult``, every
    trained net (``ChannelPoint``) and per method the fit ``err ~ c C^-r`` over the channel counts.

    Args:
      config: the sweep (``Config``).
      root: the results folder the point and summary records are stored under.

    Returns:
      The summary record (a ``dict``, ``kind == "summary"``): ``"result"`` is ``schema.to_json`` of a
      ``ConvResult`` plus ``"points"``; ``read`` types it.

    Examples:
      The closeness part alone (CNTK with global pooling, depths 1 and 2, one tiny task draw; no accuracy
      part, no trained nets) in a temporary folder:

      >>> import tempfile
      >>> from ntk_bridge.experiments import conv
      >>> from ntk_bridge.experiments.common import TaskConfig
      >>> cfg = conv.Config(tasks=TaskConfig("digits", 2, 2, 1, 1, options=(("n_way", 2),) + conv.IMAGES),
      ...                   archs=("conv-gap",), depths=(1, 2), seeds=1, splits=("same",), settings=(), channels=(),
      ...                   finite_methods=(), max_channels=(), n_boot=10)
      >>> with tempfile.TemporaryDirectory() as root:
      ...     rec = conv.run(cfg, root)
      >>> s = conv.read(rec)
      >>> len(rec["result"]["points"]), s.archs, s.closeness("conv-gap").depths, s.result.channels
      (2, ('conv-gap',), (1, 2), ())
      >>> [g.n for g in s.closeness("conv-gap").gap("same", "anil")]
      [1, 1]
    """
    from ..finite import SCHEDULE

    start = time.perf_counter()

    def pt(**fields) -> dict:   # a point holds what its part reads, nothing of the other parts
        return store.to_jsonable({"tau": config.tau, "steps": config.steps, "backend": config.backend, **fields})

    close_pts = [pt(part="closeness", tasks=config.tasks, splits=config.splits, **ARCHS[a], depth=L, seed=s)
                 for a in config.archs for L in config.depths for s in range(config.seeds)]
    close_recs = sweep.run(root, NAME, close_pts, closeness.evaluate, seed_of=lambda p: p["seed"],
                           desc="conv: closeness")
    acc_pts = [pt(part="accuracy", **ARCHS[a], family=f, n_train=config.n_acc, n_test=config.n_acc, depth=L, seed=s,
                  probe_C=config.probe_C)
               for a in config.archs for f in config.settings for L in config.acc_depths
               for s in range(config.acc_seeds)]
    acc_recs = sweep.run(root, NAME, acc_pts, accuracy.evaluate, seed_of=lambda p: p["seed"], desc="conv: accuracy")
    chans = {m: finite_sweep.widths_for(config.channels, config.max_channels, m) for m in config.finite_methods}
    runs = [(m, c, s) for m in config.finite_methods for c in chans[m] for s in range(config.finite_seeds)]
    fin_pts = [pt(part="channels", tasks=config.finite_tasks, pool=config.finite_pool, depth=config.finite_depth,
                  method=m, channels=c, seed=s, outer_steps=config.outer_steps, tol=config.tol, schedule=SCHEDULE)
               for m, c, s in runs]
    fin_recs = sweep.run(root, NAME, fin_pts, _train, seed_of=lambda p: p["seed"], desc="conv: trained nets")

    view = config.depth_view()
    close, acc = {}, {}
    for a in config.archs:
        mine = [r for r in close_recs if arch_of(r["config"]) == a]
        headline = {L: [r["result"] for r in mine if r["config"]["depth"] == L] for L in config.depths}
        close[a] = closeness.depth_result(view, headline)
        recs = [r for r in acc_recs if arch_of(r["config"]) == a]
        acc[a] = AccuracyResult(tuple(row for f in config.settings
                                      for row in accuracy.infinite_rows(f, config.acc_depths, (config.tau,), recs)))
    res = {k: r["result"] for k, r in zip(runs, fin_recs)}
    points, fits = [], {}
    for m in config.finite_methods:
        errs = np.ones((config.finite_seeds, len(chans[m])))
        keep = np.zeros_like(errs, dtype=bool)
        for j, c in enumerate(chans[m]):
            for s in range(config.finite_seeds):
                r = res[m, c, s]
                why = finite_sweep.exclusion(r, config.include_flagged)
                points.append(ChannelPoint(m, c, s, r.get("err"), bool(r["converged"]),
                                           bool(r["left_kernel_regime"]), why))
                if why is None:
                    errs[s, j], keep[s, j] = r["err"], True
        fit = metrics.fit_power_law_kept(chans[m], errs, keep, n_boot=config.n_boot) if len(chans[m]) >= 2 else None
        means = [float(np.exp(np.log(errs[keep[:, j], j]).mean())) for j in range(len(chans[m])) if keep[:, j].any()]
        fits[m] = (PowerFit.read(dict(fit, depths=[c for j, c in enumerate(chans[m]) if keep[:, j].any()],
                                      monotone_decreasing=bool(np.all(np.diff(means) < 0))))
                   if fit is not None else PowerFit(error="fewer than 2 channel counts with a kept net"))
    result = ConvResult(close, acc, tuple(points), fits)
    return save_summary(root, NAME, config, close_recs + acc_recs + fin_recs, schema.to_json(result), start)


# --------------------------------------------------------------------------- the summary's schema
@dataclasses.dataclass(frozen=True)
class ChannelPoint:
    """One trained conv net: its error to the closed form, flags, and why it was kept out (``None``: kept).

    Attributes:
      method: the ``Method`` label trained (as in ``Config.finite_methods``).
      channels: its channel count ``C``.
      seed: its initialization seed.
      err: ``||trained - closed|| / ||closed||`` on the test queries (``None``: not computable).
      converged: whether its loss fell below ``tol`` x the initial loss.
      left_kernel_regime: whether its loss rose by more than ``finite.RISE_TOL`` in one step.
      excluded: why it was kept out of the fit (``finite_sweep.exclusion``), ``None`` when kept.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import conv
      >>> s = conv.read(selection.summary("results/reference", "conv", digits=True))
      >>> p = s.trained("anil-same")[0]
      >>> p.method, p.channels, p.seed, p.converged, p.excluded
      ('anil-same', 16, 0, True, None)
      >>> p.err
      0.87...
    """

    method: str
    channels: int
    seed: int
    err: float | None
    converged: bool
    left_kernel_regime: bool
    excluded: str | None


@dataclasses.dataclass(frozen=True)
class ConvResult:
    """What a conv summary stores (``schema.to_json``).

    Attributes:
      closeness: architecture label (``ARCHS``) -> gaps and fits per depth (C3-conv, ``ClosenessResult``).
      accuracy: architecture label -> closed-form and probe accuracy rows (C5-conv, ``AccuracyResult``).
      channels: every trained conv net (``ChannelPoint``), method then channels then seed.
      channel_fits: method label -> ``err ~ c C^-r`` over the channel counts (``PowerFit``; ``error`` set below
        two channel counts with a kept net).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import conv
      >>> s = conv.read(selection.summary("results/reference", "conv", digits=True))
      >>> r = s.result
      >>> sorted(r.closeness), sorted(r.accuracy), len(r.channels)
      (['conv-flatten', 'conv-gap', 'mlp'], ['conv-flatten', 'conv-gap', 'mlp'], 33)
      >>> r.channel_fits["anil-same"].x
      (16, 32, 64)
    """

    closeness: dict[str, ClosenessResult]     # arch label (ARCHS) -> gaps and fits per depth (C3-conv)
    accuracy: dict[str, AccuracyResult]       # arch label -> closed-form and probe accuracy rows (C5-conv)
    channels: tuple[ChannelPoint, ...]        # trained conv nets
    channel_fits: dict[str, PowerFit]         # method -> err ~ c C^-r over the channel counts


@dataclasses.dataclass(frozen=True)
class ConvSummary(Summary):
    """A conv summary record, typed; its closeness and accuracy parts as those experiments' typed views.

    Attributes:
      record: the stored summary record (a ``dict``; ``config`` is its ``"config"``).
      result: the typed ``ConvResult``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import conv
      >>> s = conv.read(selection.summary("results/reference", "conv", digits=True))
      >>> s.archs
      ('conv-gap', 'conv-flatten', 'mlp')
      >>> type(s.closeness("conv-flatten")).__name__, type(s.accuracy("mlp")).__name__
      ('ClosenessSummary', 'AccuracySummary')
      >>> s.closeness("conv-gap").fit("same", "anil").r, len(s.trained("maml-same"))
      (0.88..., 9)
      >>> s.closeness("conv")
      Traceback (most recent call last):
      ValueError: arch must be one of ('conv-gap', 'conv-flatten', 'mlp'), got 'conv'
    """

    result: ConvResult | None = None

    @property
    def archs(self) -> tuple:
        """The architecture labels run, in the config's order."""
        return tuple(a for a in self.config["archs"] if a in self.result.closeness)

    def closeness(self, arch: str = "conv-gap") -> ClosenessSummary | None:
        """The closeness part of ``arch`` (``ARCHS``) as a closeness summary (``None``: not run)."""
        check_choice("arch", arch, tuple(ARCHS))
        part = self.result.closeness.get(arch)
        return None if part is None else ClosenessSummary(self.record, part)

    def accuracy(self, arch: str = "conv-gap") -> accuracy.AccuracySummary | None:
        """The accuracy part of ``arch`` as an accuracy summary (``None``: not run)."""
        check_choice("arch", arch, tuple(ARCHS))
        part = self.result.accuracy.get(arch)
        return None if part is None else accuracy.AccuracySummary(self.record, part)

    def trained(self, method: str) -> tuple:
        """The trained nets of ``method``, in channel then seed order."""
        return tuple(p for p in self.result.channels if p.method == method)

    def channel_fit(self, method: str) -> PowerFit | None:
        return self.result.channel_fits.get(method)


def read(summary: dict) -> ConvSummary:
    """The typed view of a conv summary record.

    Args:
      summary: a conv summary record, as ``run`` returns it or ``selection.summary`` reads it.

    Returns:
      A ``ConvSummary`` of the record and its ``ConvResult``.

    Raises:
      ValueError: propagated from ``schema.from_json`` when the record's result does not have this code's
        layout (written by another version).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import conv
      >>> s = conv.read(selection.summary("results/reference", "conv", digits=True))
      >>> type(s).__name__, type(s.result).__name__, s.config["finite_pool"]
      ('ConvSummary', 'ConvResult', 'flatten')
    """
    return ConvSummary(summary, schema.from_json(ConvResult, summary["result"]))
