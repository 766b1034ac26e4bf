"""The predictive distribution over initializations (theory.md §9): closed form against uncentered nets, and the
MTL-GBML gap as a random variable.

Three parts, one summary:

* **ensembles**: per method and width, ``n_nets`` uncentered nets (each from its own random initial
  function, as trained in practice; the kernel-regime schedule, runs flagged or unconverged kept out)
  at depth ``depth``; their sample mean and per-task covariance against ``nb.predict.distribution``'s
  ``mean`` and ``cov`` (relative Frobenius errors, beside the error the sampling alone would give),
  and per method the fitted ``err ~ c n^-r`` over the widths with a bootstrap interval (nets resampled
  with replacement at each width; the sampling floor is in the errors, so ``r`` is a lower estimate of
  the finite-width rate);
* **gaps**: ``E||Delta||^2`` of two methods from one initialization (``nb.predict.gap_distribution``),
  split into its mean part ``||mu_a - mu_b||^2`` and variance part, summed over the test tasks, at
  infinite width per depth; and from the ensembles (nets of the same seed: one initial function) per
  width at ``depth``;
* **bands**: on a one-dimensional sinusoid task, the mean and standard deviation of each band
  method's prediction on a grid of inputs, at each of ``band_depths`` (the figure's ± 2 sd bands).
"""
from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

import numpy as np

from .. import methods as methods_
from .. import store, sweep, validate
from ..errors import NotComputable
from ..finite.ensemble import Ensemble
from ..predict import Adaptation, analytic, distribution, gap_distribution
from ..spec import MLPSpec
from ..tasks import TaskSet, sinusoid
from . import finite_sweep, schema
from .common import TaskConfig, check_int, check_ints, point, save_summary
from .stats import PowerFit, Stat, Summary

NAME = "distribution"
ALGORITHM = 1  # bump when this module would store other results for the same config (store.register)
store.register(NAME, ALGORITHM)
FIGURES = ("distribution",)
SECTIONS = ("distribution",)
QUICK_S = 12   # seconds of its quick config (2-core machine, 2026-12-05): reproduce starts the longest first
GRID = 101     # inputs of the band figure's grid, x in [-5, 5]
# The band task family: sinusoids close to one another (amplitude 0.8-1.2, phase 0-0.5), so that the training
# tasks' labels agree where their inputs are close (the MAML benchmark's ranges, amplitude 0.1-5 and phase 0-pi,
# give neighbouring points conflicting labels, which every trained predictor interpolates: a jagged mean).
BAND_AMP, BAND_PHASE = (0.8, 1.2), (0.0, 0.5)


@dataclasses.dataclass(frozen=True)
class Config:
    """The distribution sweep: ensembles of uncentered nets, infinite-width gaps, sinusoid bands.

    Ensembles of ``n_nets`` uncentered nets of each of ``methods`` (``Method`` labels) at ``depth`` x ``widths``;
    infinite-width gaps of ``pairs`` at ``depths``; bands of ``band_methods`` at ``band_depths`` on a sinusoid
    task (``band_train`` training tasks of ``2 band_support`` points, ``band_support`` test support points; seed
    ``task_seed``; sinusoids of amplitude ``BAND_AMP`` and phase ``BAND_PHASE``); ``n_boot`` resamplings for the
    intervals of the ensemble errors' width fits.

    Attributes:
      AXES: the fields that are sweep axes or summary-only options (class constant, not a field): kept out
        of each point's configuration (``common.point``).
      tasks: the ensembles' and gaps' training and test tasks (``TaskConfig``; default 8 + 4 shared-feature
        tasks in 8 dimensions, 5 support and 5 query points each).
      task_seed: the task draw (``TaskConfig.draw``) and the band tasks' seeds ``2 task_seed``, ``2 task_seed + 1``.
      lr: inner-loop step size (``Adaptation.lr``), for the nets, the gaps and the bands.
      steps: inner-loop steps (``Adaptation.steps``).
      depth: hidden-layer count of the ensembles' nets.
      methods: the ensembles' methods, ``Method`` labels (``"anil-same"``).
      widths: the ensembles' hidden widths.
      n_nets: uncentered nets per (method, width), seeds ``0 .. n_nets - 1``, ``>= 2``.
      n_boot: resamplings of each width's nets for the width fits' intervals.
      outer_steps: most outer (training) steps per net.
      tol: a net converged when its loss fell below ``tol`` x its initial loss, in ``(0, 1)``.
      include_flagged: let unconverged and regime-leaving nets into the ensembles (never ``NotComputable`` ones).
      pairs: ``((method a, method b), ...)`` whose ``E||Delta||^2`` is reported.
      depths: depths of the infinite-width gaps (``depth`` is added).
      band_methods: the methods whose bands are drawn.
      band_depths: the depths of the bands.
      band_train: training sinusoid tasks of the bands.
      band_support: support (and training-query) points per band task.

    Raises:
      ValueError: when a field is invalid: an unknown method label, a pair that is not two labels, a
        non-positive count, ``n_nets < 2``, ``tol`` outside ``(0, 1)`` (the message names the field).

    Examples:
      >>> from ntk_bridge.experiments import distribution
      >>> cfg = distribution.Config.quick()
      >>> cfg.methods, cfg.widths, cfg.n_nets
      (('mtl-shared', 'anil-same'), (64, 256), 8)
      >>> train, test = cfg.band_tasks()
      >>> train.xs.shape, test.xq.shape, test.xq[0, 0].tolist()
      ((4, 5, 2), (1, 101, 2), [-1.0, 1.0])
      >>> distribution.Config(n_nets=1)
      Traceback (most recent call last):
      ValueError: n_nets must be an integer >= 2, got 1
    """

    AXES: ClassVar[tuple] = ("methods", "widths", "depths", "pairs", "band_methods", "band_depths", "include_flagged",
                             "n_boot")
    tasks: TaskConfig = TaskConfig(n_train=8, n_test=4, n_support=5, n_query=5, options=(("dim", 8),))
    task_seed: int = 0
    lr: float = 0.02
    steps: int = 5
    depth: int = 2
    methods: tuple = ("mtl-shared", "anil-same", "maml-same")
    widths: tuple = (64, 256, 1024)
    n_nets: int = 64
    n_boot: int = 1000
    outer_steps: int = 3000
    tol: float = 1e-6
    include_flagged: bool = False
    pairs: tuple = (("mtl-shared", "anil-same"), ("mtl-shared", "maml-same"))
    depths: tuple = (1, 2, 4, 8, 16, 32)
    band_methods: tuple = ("mtl-shared", "anil-same")
    band_depths: tuple = (1, 16)
    band_train: int = 8
    band_support: int = 5

    def __post_init__(self):
        for name in ("methods", "band_methods"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or not values:
                raise ValueError(f"{name} must be a non-empty tuple of method labels, got {values!r}")
            for v in values:
                methods_.parse(v)     # ValueError naming the method
        if not isinstance(self.pairs, tuple) or any(not isinstance(p, tuple) or len(p) != 2 for p in self.pairs):
            raise ValueError(f"pairs must be a tuple of (method, method) pairs, got {self.pairs!r}")
        for a, b in self.pairs:
            methods_.parse(a), methods_.parse(b)
        check_int("task_seed", self.task_seed, 0)
        check_int("depth", self.depth)
        check_ints("widths", self.widths)
        check_ints("depths", self.depths)
        check_ints("band_depths", self.band_depths)
        check_int("n_nets", self.n_nets, 2)
        check_int("n_boot", self.n_boot)
        check_int("outer_steps", self.outer_steps)
        check_int("band_train", self.band_train)
        check_int("band_support", self.band_support)
        Adaptation(self.lr, self.steps)
        validate.real("tol", self.tol, 0.0, 1.0, low_open=True, high_open=True)
        validate.flag("include_flagged", self.include_flagged)

    @classmethod
    def quick(cls) -> "Config":
        return cls(tasks=TaskConfig(n_train=4, n_test=2, n_support=3, n_query=3, options=(("dim", 8),)),
                   methods=("mtl-shared", "anil-same"), widths=(64, 256), n_nets=8, outer_steps=400, tol=1e-4, n_boot=200,
                   pairs=(("mtl-shared", "anil-same"),), depths=(1, 4, 16), band_depths=(1, 8), band_train=4)

    def band_tasks(self) -> tuple[TaskSet, TaskSet]:
        """Training sinusoid tasks, and one test task whose query is the grid ``x in [-5, 5]`` (labels zero)."""
        kw = dict(amp_range=BAND_AMP, phase_range=BAND_PHASE)
        train = sinusoid(self.band_train, self.band_support, self.band_support, seed=2 * self.task_seed, **kw)
        test = sinusoid(1, self.band_support, 1, seed=2 * self.task_seed + 1, **kw)
        grid = np.linspace(-5.0, 5.0, GRID)
        xq = np.stack([grid / 5.0, np.ones_like(grid)], axis=-1)[None]
        return train, TaskSet(test.xs, test.ys, xq, np.zeros((1, GRID, 1)))


def _compute(p: dict) -> dict:
    """One uncentered net: its test predictions and the run's flags (``NotComputable`` recorded)."""
    from .. import finite

    train, test = TaskConfig(**p["tasks"]).draw(p["task_seed"])
    spec = MLPSpec(depth=p["depth"], width=p["width"], out_dim=train.out_dim)
    try:
        pred, info = finite.fit_predict(spec, train, test, method=p["method"], adapt=Adaptation(p["lr"], p["steps"]),
                                        seed=p["seed"], centered=False, outer_steps=p["outer_steps"], tol=p["tol"],
                                        return_info=True)
    except NotComputable as exc:
        return {"not_computable": str(exc), "converged": False, "left_kernel_regime": False, "pred": None}
    return {**{k: info[k] for k in finite_sweep.FLAG_KEYS}, "train_s": info["wall_s"], "pred": pred}


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) the ensembles, compute the infinite-width parts, store the summary.

    Each point trains one uncentered net (``finite.fit_predict(..., centered=False)``) and stores its test
    predictions and flags; points already stored under ``root`` are read back.  The summary sets each
    (method, width) ensemble of kept nets against ``nb.predict.distribution`` (``EnsembleRow``), fits
    their errors over the widths (``WidthFits``), computes ``nb.predict.gap_distribution`` of each pair
    per depth (``GapRow``), the squared gap ``||pred_a - pred_b||^2`` of same-seed nets per width (pairs
    whose both methods were trained) and the sinusoid bands (``Band``).

    Args:
      config: the sweep (``Config``).
      root: the results folder the point and summary records are stored under.

    Returns:
      The summary record (a ``dict``, ``kind == "summary"``): ``"result"`` is ``schema.to_json`` of a
      ``DistributionResult`` plus ``"points"``; ``read`` types it.

    Raises:
      NotComputable: propagated from ``nb.predict.distribution`` or ``gap_distribution`` when a closed form
        is not computable (e.g. an inner loop past its stability edge).

    Examples:
      Two tiny nets (depth 1, width 8) in a temporary folder; the gaps and bands are closed forms:

      >>> import tempfile
      >>> from ntk_bridge.experiments import distribution
      >>> from ntk_bridge.experiments.common import TaskConfig
      >>> cfg = distribution.Config(
      ...     tasks=TaskConfig(n_train=2, n_test=1, n_support=2, n_query=2, options=(("dim", 4),)), depth=1,
      ...     methods=("mtl-shared",), widths=(8,), n_nets=2, outer_steps=20, tol=1e-2, n_boot=10,
      ...     pairs=(("mtl-shared", "anil-same"),), depths=(1,), band_methods=("mtl-shared",), band_depths=(1,),
      ...     band_train=2, band_support=2)
      >>> with tempfile.TemporaryDirectory() as root:
      ...     s = distribution.read(distribution.run(cfg, root))
      >>> row = s.ensemble("mtl-shared", 8)
      >>> row.n + row.excluded, sorted(s.result.gaps), len(s.band("mtl-shared", 1).mean)
      (2, [('mtl-shared', 'anil-same', 1)], 101)
    """
    from .. import finite

    start = time.perf_counter()
    runs = [(m, n, s) for m in config.methods for n in config.widths for s in range(config.n_nets)]
    points = [point(config, method=m, depth=config.depth, width=n, seed=s, schedule=finite.SCHEDULE)
              for m, n, s in runs]
    records = sweep.run(root, NAME, points, _compute, seed_of=lambda p: p["seed"], desc=NAME)
    res = {k: r["result"] for k, r in zip(runs, records)}
    train, test = config.tasks.draw(config.task_seed)
    adapt = Adaptation(config.lr, config.steps)
    spec = MLPSpec(depth=config.depth, out_dim=train.out_dim)
    dists = {m: distribution(spec, train, test, m, adapt=adapt) for m in config.methods}
    ensembles, kept, fits = {}, {}, {}
    for m in config.methods:
        by_width = {}
        for n in config.widths:
            why = {s: finite_sweep.exclusion(res[m, n, s], config.include_flagged) for s in range(config.n_nets)}
            kept[m, n] = [s for s in range(config.n_nets) if why[s] is None]
            ens = Ensemble(np.stack([np.asarray(res[m, n, s]["pred"]) for s in kept[m, n]]), tuple(kept[m, n]),
                           tuple((s, w) for s, w in why.items() if w is not None)) if len(kept[m, n]) >= 2 else None
            ensembles[m, n] = _ens_row(ens, dists[m], config.n_nets)
            if ens is not None:
                by_width[n] = ens.preds
        fits[m] = _width_fits(by_width, dists[m], config.n_boot)
    gaps = {}
    for a, b in config.pairs:
        for L in sorted(set(config.depths) | {config.depth}):   # the ensembles' depth too, to set beside them
            g = gap_distribution(MLPSpec(depth=L, out_dim=train.out_dim), train, test, a, b, adapt=adapt)
            gaps[a, b, L] = GapRow(float(g.mean_part.sum()), float(g.var_part.sum()))
    finite_gaps = {}
    for a, b in config.pairs:
        if a not in config.methods or b not in config.methods:
            continue
        for n in config.widths:
            both = [s for s in kept[a, n] if s in kept[b, n]]
            sq = [float(np.sum((np.asarray(res[a, n, s]["pred"]) - np.asarray(res[b, n, s]["pred"])) ** 2))
                  for s in both]
            finite_gaps[a, b, n] = Stat.read(finite_sweep.kept_stat(sq))
    btrain, btest = config.band_tasks()
    bands = {}
    for m in config.band_methods:
        for L in config.band_depths:
            d = distribution(MLPSpec(depth=L), btrain, btest, m, adapt=adapt)
            bands[m, L] = Band(tuple(d.mean[0, :, 0].tolist()), tuple(np.sqrt(np.diagonal(d.cov[0])).tolist()))
    result = DistributionResult(ensembles, gaps, finite_gaps, bands,
                                BandTask(tuple(np.linspace(-5.0, 5.0, GRID).tolist()),
                                         tuple((btest.xs[0, :, 0] * 5.0).tolist()), tuple(btest.ys[0, :, 0].tolist())),
                                fits)
    return save_summary(root, NAME, config, records, schema.to_json(result), start)


def _errors(preds: np.ndarray, d) -> tuple[float, float]:
    """Relative Frobenius errors of the sample mean and per-task covariance of ``preds (n, Nt, q, k)``."""
    ens = Ensemble(preds, (), ())
    return (float(np.linalg.norm(ens.mean - d.mean) / np.linalg.norm(d.mean)),
            float(np.linalg.norm(ens.cov - d.cov) / np.linalg.norm(d.cov)))


def _width_fits(by_width: dict, d, n_boot: int, seed: int = 0) -> "WidthFits":
    """``err ~ c n^-r`` for the mean and the covariance errors over the widths holding an ensemble; the interval
    (90%) from ``n_boot`` resamplings of each width's nets with replacement.  ``PowerFit(error=...)`` below two
    widths or for a zero error."""
    widths = sorted(by_width)
    if len(widths) < 2:
        miss = PowerFit(error=f"ensembles at {len(widths)} width(s); a slope needs 2")
        return WidthFits(miss, miss)
    rng = np.random.default_rng(seed)
    point = np.array([_errors(by_width[n], d) for n in widths])                    # (widths, 2)
    boots = np.array([[_errors(by_width[n][rng.integers(0, len(by_width[n]), len(by_width[n]))], d)
                       for n in widths] for _ in range(n_boot)])                     # (n_boot, widths, 2)
    lx = np.log(np.asarray(widths, dtype=np.float64))
    out = []
    for j in range(2):
        if np.any(point[:, j] <= 0) or np.any(boots[..., j] <= 0):
            out.append(PowerFit(error="an error of zero: no log-log fit"))
            continue
        slope, icpt = np.polyfit(lx, np.log(point[:, j]), 1)
        rs = -np.polyfit(lx, np.log(boots[..., j]).T, 1)[0]
        lo, hi = np.quantile(rs, [0.05, 0.95])
        out.append(PowerFit(float(-slope), float(np.exp(icpt)), float(lo), float(hi), 0.9, tuple(widths),
                            bool(np.all(np.diff(point[:, j]) < 0)), note="bootstrap over nets, per width"))
    return WidthFits(*out)


def _ens_row(ens: Ensemble | None, d, n_nets: int) -> "EnsembleRow":
    """An ensemble against the closed-form distribution: relative errors of its mean and covariance, beside the
    errors its sampling alone would give (``n`` nets from the closed form's Gaussian)."""
    if ens is None:
        return EnsembleRow(0, n_nets, None, None, None, None)
    n, k = ens.preds.shape[0], ens.preds.shape[-1]
    mean_err, cov_err = _errors(ens.preds, d)
    c = d.cov
    mean_sampling = float(np.sqrt(k * np.einsum("tqq->", c) / n) / np.linalg.norm(d.mean))
    var_entries = (np.einsum("tqq,tpp->tqp", c, c) + c ** 2) / ((n - 1) * k)
    cov_sampling = float(np.sqrt(var_entries.sum()) / np.linalg.norm(c))
    return EnsembleRow(n, n_nets - n, mean_err, cov_err, mean_sampling, cov_sampling)


# --------------------------------------------------------------------------- the summary's schema
@dataclasses.dataclass(frozen=True)
class EnsembleRow:
    """One ensemble of trained nets against the closed-form predictive distribution.

    ``n`` kept nets (``excluded`` left out) against the closed-form distribution: relative errors of the
    sample mean and covariance, and the values sampling alone would give (root mean square over draws).

    The errors are ``||mean_ens - mean|| / ||mean||`` and ``||cov_ens - cov|| / ||cov||`` (Frobenius; ``cov``
    the per-task ``(Nt, q, q)`` covariance pooled over output columns); every error is ``None`` when fewer
    than two nets were kept (then ``n = 0``).

    Attributes:
      n: kept nets (``0``: fewer than two kept, no ensemble).
      excluded: nets left out (``n + excluded = n_nets``).
      mean_err: relative error of the ensemble's sample mean.
      cov_err: relative error of its sample covariance.
      mean_sampling: the mean error ``n`` draws from the closed form's Gaussian alone would give.
      cov_sampling: the covariance error those draws alone would give.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import distribution
      >>> s = distribution.read(selection.summary("results/reference", "distribution"))
      >>> row = s.ensemble("anil-same", 1024)
      >>> row.n, row.excluded, row.mean_err > row.mean_sampling
      (64, 0, True)
    """

    n: int
    excluded: int
    mean_err: float | None
    cov_err: float | None
    mean_sampling: float | None
    cov_sampling: float | None


@dataclasses.dataclass(frozen=True)
class WidthFits:
    """Per method: the ensembles' mean and covariance errors fitted as ``c n^-r`` over the widths.

    Attributes:
      mean: ``EnsembleRow.mean_err ~ c n^-r`` (``PowerFit``; interval from resampling each width's nets;
        ``error`` set below two widths with an ensemble).
      cov: the same fit of ``EnsembleRow.cov_err``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import distribution
      >>> s = distribution.read(selection.summary("results/reference", "distribution"))
      >>> f = s.width_fit("anil-same")
      >>> f.mean.x, f.mean.r, f.cov.note
      ((64, 256, 1024), 0.40..., 'bootstrap over nets, per width')
    """

    mean: PowerFit
    cov: PowerFit


@dataclasses.dataclass(frozen=True)
class GapRow:
    """``E||Delta||^2`` summed over the test tasks: its mean and variance parts (infinite width).

    Attributes:
      mean_part: ``||mu_a - mu_b||^2`` of the two closed-form means, summed over the test tasks.
      var_part: the variance part ``k tr((M_a - M_b) K_P (M_a - M_b)^T)``, summed over the test tasks.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import distribution
      >>> s = distribution.read(selection.summary("results/reference", "distribution"))
      >>> g = s.gap("mtl-shared", "anil-same", 1)
      >>> g.total == g.mean_part + g.var_part, g.mean_part > 0, g.var_part > 0
      (True, True, True)
    """

    mean_part: float
    var_part: float

    @property
    def total(self) -> float:
        return self.mean_part + self.var_part


@dataclasses.dataclass(frozen=True)
class Band:
    """Mean and standard deviation of one method's prediction on the band grid.

    Attributes:
      mean: the closed form's mean prediction at each of the ``GRID`` grid inputs.
      sd: its standard deviation over initializations there (the figure's band is ``mean -+ 2 sd``).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import distribution
      >>> s = distribution.read(selection.summary("results/reference", "distribution"))
      >>> b = s.band("anil-same", 16)
      >>> len(b.mean), len(b.sd), min(b.sd) >= 0
      (101, 101, True)
    """

    mean: tuple[float, ...]
    sd: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class BandTask:
    """The band figure's test task: the grid's inputs, and the support's inputs and labels (x in [-5, 5]).

    Attributes:
      x: the ``GRID`` grid inputs, evenly from -5 to 5.
      support_x: the test task's support inputs.
      support_y: their labels.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import distribution
      >>> s = distribution.read(selection.summary("results/reference", "distribution"))
      >>> t = s.result.band_task
      >>> len(t.x), t.x[0], t.x[-1], len(t.support_x) == len(t.support_y) == s.config["band_support"]
      (101, -5.0, 5.0, True)
    """

    x: tuple[float, ...]
    support_x: tuple[float, ...]
    support_y: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class DistributionResult:
    """What a distribution summary stores (``schema.to_json``); methods are ``Method`` labels.

    Attributes:
      ensembles: ``(method, width) -> EnsembleRow``.
      gaps: ``(a, b, depth) -> GapRow`` at infinite width.
      finite_gaps: ``(a, b, width) ->`` ``Stat`` over same-seed kept nets of ``||pred_a - pred_b||^2`` (summed
        over every test prediction; ``None``: no seed with both kept).
      bands: ``(method, depth) -> Band``.
      band_task: the bands' test task (``BandTask``).
      width_fits: ``method -> WidthFits``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import distribution
      >>> s = distribution.read(selection.summary("results/reference", "distribution"))
      >>> r = s.result
      >>> len(r.ensembles), sorted(r.bands), sorted(r.width_fits)
      (9, [('anil-same', 1), ('anil-same', 16), ('mtl-shared', 1), ('mtl-shared', 16)],
       ['anil-same', 'maml-same', 'mtl-shared'])
      >>> sorted(r.finite_gaps)[0]
      ('mtl-shared', 'anil-same', 64)
    """

    ensembles: dict[tuple[str, int], EnsembleRow]        # (method, width)
    gaps: dict[tuple[str, str, int], GapRow]             # (a, b, depth), infinite width
    finite_gaps: dict[tuple[str, str, int], Stat | None]  # (a, b, width): ||pred_a - pred_b||^2 over seeds
    bands: dict[tuple[str, int], Band]                   # (method, depth)
    band_task: BandTask
    width_fits: dict[str, WidthFits] = dataclasses.field(default_factory=dict)   # method -> errors vs width


@dataclasses.dataclass(frozen=True)
class DistributionSummary(Summary):
    """A distribution summary record, typed: its ``DistributionResult`` and accessors.

    Attributes:
      record: the stored summary record (a ``dict``; ``config`` is its ``"config"``).
      result: the typed ``DistributionResult``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import distribution
      >>> s = distribution.read(selection.summary("results/reference", "distribution"))
      >>> s.ensemble("mtl-shared", 64).n, s.ensemble("anil-same", 64).n, s.finite_gap("mtl-shared", "anil-same", 64).n
      (64, 59, 59)
      >>> s.gap("mtl-shared", "maml-same", 32) is None, s.band("maml-same", 1) is None
      (False, True)
    """

    result: DistributionResult | None = None

    def ensemble(self, method: str, width: int) -> EnsembleRow | None:
        return self.result.ensembles.get((method, width))

    def width_fit(self, method: str) -> WidthFits | None:
        """The method's ensemble errors vs width, ``err ~ c n^-r`` (mean and covariance)."""
        return self.result.width_fits.get(method)

    def gap(self, a: str, b: str, depth: int) -> GapRow | None:
        """Infinite-width ``E||Delta||^2`` parts of the pair at ``depth``."""
        return self.result.gaps.get((a, b, depth))

    def finite_gap(self, a: str, b: str, width: int) -> Stat | None:
        return self.result.finite_gaps.get((a, b, width))

    def band(self, method: str, depth: int) -> Band | None:
        return self.result.bands.get((method, depth))


def read(summary: dict) -> DistributionSummary:
    """The typed view of a distribution summary record.

    Args:
      summary: a distribution summary record, as ``run`` returns it or ``selection.summary`` reads it.

    Returns:
      A ``DistributionSummary`` of the record and its ``DistributionResult``.

    Raises:
      ValueError: propagated from ``schema.from_json`` when the record's result does not have this code's
        layout (written by another version).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import distribution
      >>> s = distribution.read(selection.summary("results/reference", "distribution"))
      >>> type(s).__name__, type(s.gap("mtl-shared", "anil-same", 1)).__name__, s.config["n_nets"]
      ('DistributionSummary', 'GapRow', 64)
    """
    return DistributionSummary(summary, schema.from_json(DistributionResult, summary["result"]))
