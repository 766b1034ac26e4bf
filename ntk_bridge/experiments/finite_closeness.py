"""Finite closeness (claim C3 at finite width, theory.md §8): where the closed forms stop describing trained nets.

For each depth ``L``, width ``n``, method, split and initialization seed, one centered net is
trained (``nb.finite.decompose``: the default kernel-regime schedule, ``finite.SCHEDULE``) on one
fixed draw of tasks and read under **both test-time protocols** (one training: the trained head,
and the seed's fresh head, the same for every method; theory.md §6).  Its test predictions are
compared with the infinite-width closed form of each protocol and with the net's own
linearization at init (the closed form fed its empirical kernels):

    err = rel(trained, closed),  fluctuation = rel(linearized, closed),  drift = rel(trained, linearized)

Under the fresh head (whose closed form is no transfer) the linearization is the *untrained*
net's test-time loop, and ``seen = ||trained - untrained|| / ||closed||`` (what of the body's
training the fresh head sees; zero at infinite width) replaces ``drift``.  The summary reports,
per (method, split, protocol, L, n), the mean/std over seeds of these; ensembles of ``M`` centered
nets (disjoint groups of the seeds' nets, predictions averaged) against the closed form; the gap
between trained GBML and MTL nets of one initialization beside the infinite-width gap, and under
the fresh head (whose closed forms' gap is 0) its fit ``gap ~ c_L n^-b`` (one width exponent, one
constant per depth: the width exponent of the theorem's ``eps``); the fit ``err ~ c (L/n)^a``
(``metrics.fit_power_law`` on ``x = L/n`` fits ``c x^-r``: ``a = -r``) with a bootstrap
interval for ``a``, and from it the width needed for ``err <= eps`` at each depth,
``n = L (c / eps)^(1/a)``; and for each width the depth at which the trained ANIL-MTL gap is
smallest.

Runs flagged unconverged or ``left_kernel_regime`` (their loss rose by more than
``finite.RISE_TOL`` in one step) and ``NotComputable`` runs stay out of every statistic, fit and
gap unless ``include_flagged=True`` (never the ``NotComputable`` ones); ``summary["excluded"]``
lists them with the reason.
"""
from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

import numpy as np

from .. import methods as methods_
from .. import metrics, store, sweep, validate
from ..errors import NotComputable
from ..predict import SPLITS, Adaptation, closed_form
from ..spec import MLPSpec
from . import finite_sweep, schema
from .finite_sweep import Excluded
from .common import TaskConfig, check_int, check_ints, kernel_table, point, save_summary
from .stats import PowerFit, Stat, Summary

NAME = "finite-closeness"
ALGORITHM = 2  # bump when this module would store other results for the same config (store.register)
store.register(NAME, ALGORITHM)
FIGURES = ("finite_closeness",)   # what reports it (ntk_bridge.figures, ntk_bridge.appendix.sections)
SECTIONS = ("finite_closeness",)
QUICK_S = 30   # seconds of its quick config (2-core machine, 2026-12-04): reproduce starts the longest first
ALL_METHODS = ("mtl-shared", "anil", "maml", "fomaml")   # and GBML ones with their split ("anil-disjoint")


@dataclasses.dataclass(frozen=True)
class Grid:
    """Where one method label is trained: depths x widths x ``seeds`` initializations.

    Attributes:
      depths: the depths ``L`` trained.
      widths: the widths ``n`` trained.
      seeds: initialization seeds per ``(L, n)``: ``0 .. seeds - 1``.

    Examples:
      >>> from ntk_bridge.experiments import finite_closeness
      >>> cfg = finite_closeness.Config()
      >>> cfg.grid("maml-same")            # its own entry of grids
      Grid(depths=(1, 2, 4, 8), widths=(64, 256, 512), seeds=2)
      >>> cfg.grid("anil-same+fresh") == finite_closeness.Grid(cfg.depths, cfg.widths, cfg.seeds)
      True
    """

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    seeds: int


@dataclasses.dataclass(frozen=True)
class Config:
    """The finite-closeness sweep: the (L, n) surface of trained nets per method label.

    The default is the reference sweep of ``results/reference`` (several hours on 2 CPU cores): MTL
    and ANIL (split "same") on depths x widths x ``seeds``, with ensembles of 4 at depths 8 and 16;
    MAML and FOMAML (split "same") on L 1-8 x n 64-512 x 2 seeds; ANIL with the
    split "disjoint" on L 1, 4, 16 x n 256, 1024 x 2 seeds; every net read under both protocols.
    The full surface of theory.md §8, for a GPU::

        ntk-bridge finite-closeness --methods mtl-shared anil maml fomaml --splits same disjoint \\
            --depths 1 2 4 8 16 32 --widths 256 1024 4096 16384 --ensembles 1 4 16

    ``methods``: names of ``ALL_METHODS`` (a GBML name is trained under each of ``splits``) or GBML
    labels with their split (``"anil-disjoint"``: that split only).  ``protocols``: the test-time heads
    summarized (every net is read under both).  ``seeds``: initialization seeds per statistic; the nets
    of seeds ``0..max(seeds, max(ensembles)) - 1`` are trained (at ``ensemble_depths`` only, when given,
    for the ensembles beyond ``seeds``), and an ensemble of ``M`` averages disjoint groups of ``M`` of
    them.  ``grids``: ``((label, depths, widths, seeds), ...)`` trains the method of ``label`` (a
    ``Method.label``, e.g. ``"maml-same"``) on its own grid (no ensembles beyond its seeds; second-order
    MAML costs several times ANIL's); its cells elsewhere are ``None`` (not run).  ``targets``: the errors
    ``eps`` whose required width is reported; ``tol``: a run converged when its loss fell below ``tol`` x
    its initial loss.  A grid of a label not trained here is ignored.

    Attributes:
      AXES: the fields that are sweep axes or summary-only options (class constant, not a field): kept out
        of each point's configuration (``common.point``).
      tasks: the training and test tasks (``TaskConfig``; default 8 + 4 shared-feature tasks in 8
        dimensions, 5 support and 5 query points each).
      task_seed: the one task draw every net trains on, ``>= 0``.
      depths: the surface's depths ``L``.
      widths: the surface's widths ``n``.
      methods: names of ``ALL_METHODS`` or GBML labels with their split (``"anil-disjoint"``).
      splits: the splits a GBML name is trained under (``predict.SPLITS``).
      protocols: the test-time heads summarized, ``"trained"`` and/or ``"fresh"`` (``methods.TEST_HEADS``).
      seeds: initialization seeds per statistic.
      ensembles: ensemble sizes ``M`` (``1``: single nets).
      ensemble_depths: the depths at which nets beyond ``seeds`` are trained for the ensembles (empty: every
        depth).
      lr: inner-loop step size (``Adaptation.lr``).
      steps: inner-loop steps (``Adaptation.steps``).
      outer_steps: most outer (training) steps per net.
      tol: a net converged when its loss fell below ``tol`` x its initial loss, in ``(0, 1)``.
      n_boot: bootstrap resamplings of the fits' intervals.
      targets: the errors ``eps`` in ``(0, 1)`` whose required width is reported.
      include_flagged: let unconverged and regime-leaving runs into the statistics and fits.
      grids: ``((label, depths, widths, seeds), ...)``: a label trained on its own grid.

    Raises:
      ValueError: when a field is invalid: an unknown method, split or protocol, a grid whose label is not a
        trained-head ``Method.label``, a target outside ``(0, 1)``, a non-positive count (the message names the
        field).

    Examples:
      >>> from ntk_bridge.experiments import finite_closeness
      >>> cfg = finite_closeness.Config.quick()
      >>> cfg.depths, cfg.widths, cfg.methods
      ((1, 8), (64, 256), ('mtl-shared', 'anil'))
      >>> cfg.labels()
      [('mtl-shared', 'trained'), ('mtl-shared+fresh', 'fresh'), ('anil-same', 'trained'), ('anil-same+fresh', 'fresh')]
      >>> full = finite_closeness.Config()
      >>> full.nets("anil-same", 8), full.nets("anil-same", 1), full.nets("maml-same", 8)   # seeds 3, ensembles of 4
      (4, 3, 2)
      >>> finite_closeness.Config(methods=("reptile",))
      Traceback (most recent call last):
      ValueError: methods must be a non-empty tuple of ('mtl-shared', 'anil', 'maml', 'fomaml') or GBML labels ...
    """

    AXES: ClassVar[tuple] = ("depths", "widths", "methods", "splits", "protocols", "seeds", "ensembles", "n_boot",
                             "include_flagged", "targets", "grids", "ensemble_depths")
    tasks: TaskConfig = TaskConfig(n_train=8, n_test=4, n_support=5, n_query=5, options=(("dim", 8),))
    task_seed: int = 0
    depths: tuple = (1, 2, 4, 8, 16)
    widths: tuple = (64, 256, 512, 1024)
    methods: tuple = ("mtl-shared", "anil", "maml", "fomaml", "anil-disjoint")
    splits: tuple = ("same",)
    protocols: tuple = ("trained", "fresh")
    seeds: int = 3
    ensembles: tuple = (1, 4)
    ensemble_depths: tuple = (8, 16)
    lr: float = 0.02
    steps: int = 5
    outer_steps: int = 3000
    tol: float = 1e-6
    n_boot: int = 1000
    targets: tuple = (0.1, 0.05)
    include_flagged: bool = False
    grids: tuple = (("maml-same", (1, 2, 4, 8), (64, 256, 512), 2),
                    ("fomaml-same", (1, 2, 4, 8), (64, 256, 512), 2),
                    ("anil-disjoint", (1, 4, 16), (256, 1024), 2))

    def __post_init__(self):
        check_int("task_seed", self.task_seed, 0)
        check_ints("depths", self.depths)
        check_ints("widths", self.widths)
        check_ints("ensembles", self.ensembles)
        if not isinstance(self.ensemble_depths, tuple):
            raise ValueError(f"ensemble_depths must be a tuple of depths (empty: every depth), got "
                             f"{self.ensemble_depths!r}")
        if self.ensemble_depths:
            check_ints("ensemble_depths", self.ensemble_depths)
        if not isinstance(self.methods, tuple) or not self.methods or any(not _known(m) for m in self.methods):
            raise ValueError(f"methods must be a non-empty tuple of {ALL_METHODS} or GBML labels with their split "
                             f"('anil-disjoint'), got {self.methods!r}")
        for name, values, allowed in (("splits", self.splits, SPLITS), ("protocols", self.protocols, methods_.TEST_HEADS)):
            if not isinstance(values, tuple) or not values or any(v not in allowed for v in values):
                raise ValueError(f"{name} must be a non-empty tuple of {allowed}, got {values!r}")
        for name in ("seeds", "outer_steps", "n_boot"):
            check_int(name, getattr(self, name))
        Adaptation(self.lr, self.steps)
        validate.real("tol", self.tol, 0.0, 1.0, low_open=True, high_open=True)
        if not isinstance(self.targets, tuple) or not self.targets:
            raise ValueError(f"targets must be a non-empty tuple of errors in (0, 1), got {self.targets!r}")
        for t in self.targets:
            validate.real("targets", t, 0.0, 1.0, low_open=True, high_open=True)
        validate.flag("include_flagged", self.include_flagged)
        if not isinstance(self.grids, tuple) or any(not isinstance(g, tuple) or len(g) != 4 or not _label(g[0])
                                                    for g in self.grids):
            raise ValueError(f"grids must be a tuple of (label, depths, widths, seeds), each label a trained-head "
                             f"Method.label of {ALL_METHODS} ('mtl-shared', 'maml-same', ...), got {self.grids!r}")
        for lab, depths, widths, seeds in self.grids:
            check_ints(f"grids depths of {lab}", depths)
            check_ints(f"grids widths of {lab}", widths)
            check_int(f"grids seeds of {lab}", seeds)

    def _own_grid(self, label: str) -> Grid | None:
        """``label``'s entry of ``grids`` (either protocol), or ``None``."""
        base = methods_.parse(label, test_head="trained").label
        return next((Grid(tuple(d), tuple(w), n) for lab, d, w, n in self.grids if lab == base), None)

    def grid(self, label: str) -> Grid:
        """Where the method of ``label`` (a ``Method.label``, either protocol) is trained."""
        return self._own_grid(label) or Grid(tuple(self.depths), tuple(self.widths), self.seeds)

    def nets(self, label: str, depth: int) -> int:
        """Nets trained for ``label`` at ``depth``: its seeds, and enough for the ensembles (default grid)."""
        own = self._own_grid(label)
        if own is not None:
            return own.seeds
        g = self.grid(label)
        ens = [M for M in self.ensembles if not self.ensemble_depths or depth in self.ensemble_depths]
        return max([g.seeds, *ens])

    @classmethod
    def quick(cls) -> "Config":
        # cost is mostly compilation, one per (depth, width, method): 8 here (about 1.5 min on 2 cores)
        return cls(tasks=TaskConfig(n_train=4, n_test=2, n_support=3, n_query=3, options=(("dim", 8),)),
                   depths=(1, 8), widths=(64, 256), methods=("mtl-shared", "anil"), splits=("same",),
                   seeds=2, ensembles=(1, 2), ensemble_depths=(), outer_steps=400, tol=1e-4, n_boot=200, grids=())

    @classmethod
    def digits(cls, quick: bool = False) -> "Config":
        """Real images (``tasks.digits``, 2-way 3-shot, 3 queries per class; classes 0-4 / 5-9): the
        quick surface, or a CPU-sized one (depths 1, 2, 4, 8; widths 128, 512; MTL and ANIL, split 'same';
        2 seeds; the synthetic reference's schedule: up to 3000 outer steps to 1e-6 of the initial loss)."""
        tasks = TaskConfig("digits", 8, 4, 3, 3, options=(("n_way", 2),))
        if quick:
            return dataclasses.replace(cls.quick(), tasks=dataclasses.replace(tasks, n_train=4, n_test=2))
        return cls(tasks=tasks, depths=(1, 2, 4, 8), widths=(128, 512), methods=("mtl-shared", "anil"),
                   splits=("same",), seeds=2, ensembles=(1, 2), ensemble_depths=(), grids=())

    def labels(self) -> list:
        """``(method label, protocol)`` pairs summarized: MTL once (it ignores the split), GBML per split."""
        out = []
        for m in self.methods:
            splits = ("same",) if m == "mtl-shared" else (None,) if m not in ALL_METHODS else self.splits
            for split in splits:
                for prot in self.protocols:
                    out.append((methods_.parse(m, split=split, test_head=prot).label, prot))
        return list(dict.fromkeys(out))


def _label(name) -> bool:
    """A trained-head ``Method.label`` of a method of ``ALL_METHODS`` (``"mtl-shared"``, ``"maml-same"``)."""
    try:
        m = methods_.parse(name)
    except ValueError:
        return False
    return m.label == name and m.name in ALL_METHODS


def _known(name) -> bool:
    """A method of ``ALL_METHODS``, or a GBML label with its split (``"anil-disjoint"``)."""
    return name in ALL_METHODS or (_label(name) and methods_.parse(name).kind == "gbml")


_PART = {"err": None, "fluctuation": None, "drift": None, "seen": None, "pred": None, "pred_linearized": None,
         "pred_infinite": None}


def compute_point(p: dict) -> dict:
    """Train one net of the sweep and compare it, under both test-time protocols, with its closed forms.

    One net of the sweep (a point's configuration): train it once, read it under both test-time protocols
    and compare each with its closed form and the net's linearization; ``NotComputable`` is recorded.

    Returns the run's flags (converged, kernel regime, ...) and ``protocols``: ``{"trained" | "fresh":
    {err, fluctuation, drift, seen, pred, pred_linearized, pred_infinite}}`` (``pred_linearized``: the
    untrained net's under the fresh head; a protocol whose test-time loop was not computable has
    ``not_computable``).

    Under each protocol ``err = rel(trained, closed)``, ``fluctuation = rel(linearized, closed)`` and, under
    the trained head, ``drift = rel(trained, linearized)`` (``seen = ||trained - untrained|| / ||closed||``
    under the fresh head instead), ``rel(a, b) = ||a - b|| / ||b||``.  A ``NotComputable`` closed form or
    training is recorded: the flags of a run that did not train, every protocol's entries ``None``, and
    ``not_computable`` (the reason) beside the flags.

    Args:
      p: the point's configuration (``common.point`` of a ``Config``): ``tasks`` (a ``TaskConfig`` dict),
        ``task_seed``, ``depth``, ``width``, ``method`` (a trained-head ``Method.label``), ``seed``, ``lr``,
        ``steps``, ``outer_steps``, ``tol``.

    Returns:
      A ``dict``: the flags ``converged``, ``left_kernel_regime``, ``rises``, ``max_step_ratio``,
      ``max_loss_ratio``, ``steps``, ``final_loss``, ``initial_loss``, ``train_s``, and ``protocols``; the
      predictions are arrays ``(n_test, query, out_dim)``.

    Raises:
      ValueError: propagated from ``methods.parse`` for an unknown method label.

    Examples:
      One MTL net of width 8 (depth 1, two training tasks, 20 outer steps):

      >>> from ntk_bridge.experiments import finite_closeness
      >>> from ntk_bridge.experiments.common import TaskConfig, point
      >>> cfg = finite_closeness.Config(tasks=TaskConfig(n_train=2, n_test=1, n_support=3, n_query=3,
      ...                               options=(("dim", 8),)), depths=(1,), widths=(8,), methods=("mtl-shared",),
      ...                               seeds=1, ensembles=(1,), ensemble_depths=(), outer_steps=20, tol=1e-2,
      ...                               n_boot=10, grids=())
      >>> out = finite_closeness.compute_point(point(cfg, method="mtl-shared", depth=1, width=8, seed=0))
      >>> sorted(out["protocols"]), sorted(out["protocols"]["trained"])
      (['fresh', 'trained'], ['drift', 'err', 'fluctuation', 'pred', 'pred_infinite', 'pred_linearized', 'seen'])
      >>> trained, fresh = out["protocols"]["trained"], out["protocols"]["fresh"]
      >>> trained["pred"].shape, trained["pred_infinite"].shape, fresh["drift"], trained["seen"]
      ((1, 3, 1), (1, 3, 1), None, None)
    """
    from .. import finite

    train, test = TaskConfig(**p["tasks"]).draw(p["task_seed"])
    spec = MLPSpec(depth=p["depth"], width=p["width"], out_dim=train.out_dim)
    adapt = Adaptation(p["lr"], p["steps"])
    m = methods_.parse(p["method"])
    heads = methods_.TEST_HEADS
    empty = {"converged": False, "left_kernel_regime": False, "rises": 0, "max_step_ratio": None,
             "max_loss_ratio": None, "steps": 0, "final_loss": None, "initial_loss": None, "train_s": None}
    try:
        kfn = kernel_table(MLPSpec(depth=p["depth"], out_dim=train.out_dim), train, test)
        closed = {h: closed_form(methods_.parse(m, test_head=h), kfn, train, test, adapt=adapt) for h in heads}
        out = finite.decompose(spec, train, test, method=m, adapt=adapt, seed=p["seed"], closed=closed,
                               both_heads=True, outer_steps=p["outer_steps"], tol=p["tol"])
    except NotComputable as exc:
        return dict(empty, protocols={h: dict(_PART) for h in heads}, not_computable=str(exc))
    info = out["info"]
    protocols = {}
    for h in heads:
        part = out[h]
        if part is None:
            protocols[h] = dict(_PART, pred_infinite=closed[h], not_computable=info["prediction_errors"][h])
            continue
        protocols[h] = {"err": part["err"], "fluctuation": part["fluctuation"], "drift": part["drift"],
                        "seen": part["seen"], "pred": part["trained"], "pred_infinite": part["closed"],
                        "pred_linearized": part["linearized"] if h == "trained" else part["untrained"]}
    return {"converged": bool(info["converged"]), "left_kernel_regime": bool(info["left_kernel_regime"]),
            "rises": int(info["rises"]), "max_step_ratio": float(info["max_step_ratio"]),
            "max_loss_ratio": float(info["max_loss_ratio"]), "steps": int(info["steps"]),
            "final_loss": float(info["final_loss"]), "initial_loss": float(info["initial_loss"]),
            "train_s": float(info["wall_s"]), "protocols": protocols}


def _read_as(result: dict, protocol: str) -> dict:
    """A point's result seen as one protocol's run: the run's flags with that protocol's numbers."""
    flags = {k: v for k, v in result.items() if k != "protocols"}
    return {**flags, **result["protocols"][protocol]}


def required_width(fit: "DepthWidthLaw | None", depth: int, eps: float) -> float | None:
    """The width at which the law ``c (L/n)^a`` reaches ``eps`` at depth ``L``, or ``None``.

    Width ``n`` with ``c (L/n)^a = eps``; ``None`` if no fit or the bootstrap interval of ``a`` reaches 0
    or below (no established fall with ``n / L``: extrapolating such a law gives meaningless widths).

    ``n = L (c / eps)^(1/a)``.

    Args:
      fit: the fitted law ``err ~ c (L/n)^a`` (``DepthWidthLaw``), or ``None``.
      depth: the depth ``L``.
      eps: the target error, ``> 0``.

    Returns:
      The width (``float``, not rounded), or ``None`` (no fit, a failed fit, ``a <= 0`` or ``a_lo <= 0``).

    Examples:
      >>> from ntk_bridge.experiments import finite_closeness
      >>> law = finite_closeness.DepthWidthLaw(r=-0.5, c=0.1, r_lo=-0.6, r_hi=-0.4)    # a = 0.5, in [0.4, 0.6]
      >>> finite_closeness.required_width(law, 2, 0.05)       # 2 (0.1 / 0.05)^2
      8.0
      >>> unsure = finite_closeness.DepthWidthLaw(r=-0.5, c=0.1, r_lo=-0.6, r_hi=0.1)   # a in [-0.1, 0.6]
      >>> finite_closeness.required_width(unsure, 2, 0.05) is None
      True
      >>> from ntk_bridge import selection
      >>> s = finite_closeness.read(selection.summary("results/reference", "finite-closeness"))
      >>> finite_closeness.required_width(s.fit("anil-same"), 1, 0.1) == s.required_width("anil-same", 0.1)[0]
      True
    """
    if fit is None or not fit.ok or not (fit.a > 0 and fit.a_lo > 0):
        return None
    return float(depth * (fit.c / eps) ** (1.0 / fit.a))


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) the (L, n) surface; store the summary.

    Each point trains one net (``compute_point``); points already stored under ``root`` are read back.  Each
    ``(label, protocol)`` of ``Config.labels`` reads its trained-head runs under its protocol; the summary
    holds per (label, L, n) a ``Cell``, per label the law ``err ~ c (L/n)^a`` and the widths it requires for
    each target, the trained GBML-MTL gaps per depth (``GapRow``) and per width the depth of the smallest
    gap, the fresh-head gap laws (``WidthLaw``), the non-vacuity rows (``UsefulRow``) and every run left out.

    Args:
      config: the sweep (``Config``).
      root: the results folder the point and summary records are stored under.

    Returns:
      The summary record (a ``dict``, ``kind == "summary"``): ``"result"`` is ``schema.to_json`` of a
      ``FiniteClosenessResult`` plus ``"points"``; ``read`` types it.

    Raises:
      NotComputable: propagated from ``closed_form`` when no transfer's closed form of a non-vacuity row
        (``UsefulRow``) is not computable (e.g. its inner loop past the stability edge at a depth).

    Examples:
      The surface of one MTL net of width 8 at depth 1, in a temporary folder:

      >>> import tempfile
      >>> from ntk_bridge.experiments import finite_closeness
      >>> from ntk_bridge.experiments.common import TaskConfig
      >>> cfg = finite_closeness.Config(tasks=TaskConfig(n_train=2, n_test=1, n_support=3, n_query=3,
      ...                               options=(("dim", 8),)), depths=(1,), widths=(8,), methods=("mtl-shared",),
      ...                               seeds=1, ensembles=(1,), ensemble_depths=(), outer_steps=20, tol=1e-2,
      ...                               n_boot=10, grids=())
      >>> with tempfile.TemporaryDirectory() as root:
      ...     s = finite_closeness.read(finite_closeness.run(cfg, root))
      >>> s.labels, s.grid("mtl-shared")
      ((('mtl-shared', 'trained'), ('mtl-shared+fresh', 'fresh')), Grid(depths=(1,), widths=(8,), seeds=1))
      >>> s.fit("mtl-shared") is None, sorted(s.useful(1).closed)       # one L/n: no law
      (True, ['mtl-shared', 'mtl-shared+fresh'])
    """
    from .. import finite

    start = time.perf_counter()
    labels = config.labels()
    trained = list(dict.fromkeys(methods_.parse(lab, test_head="trained").label for lab, _ in labels))
    runs = [(lab, L, n, s) for lab in trained for L in config.grid(lab).depths for n in config.grid(lab).widths
            for s in range(config.nets(lab, L))]
    points = [point(config, method=lab, depth=L, width=n, seed=s, schedule=finite.SCHEDULE) for lab, L, n, s in runs]
    records = sweep.run(root, NAME, points, compute_point, seed_of=lambda p: p["seed"], desc=NAME)
    by_run = dict(zip(runs, records))
    res, keep, excluded = {}, {}, []
    for lab, prot in labels:   # each (label, protocol) reads the runs of its trained-protocol label
        base = methods_.parse(lab, test_head="trained").label
        for (b, L, n, s), rec in by_run.items():
            if b != base:
                continue
            k = (lab, L, n, s)
            res[k] = _read_as(rec["result"], prot)
            why = finite_sweep.exclusion(res[k], config.include_flagged)
            keep[k] = why is None
            if why is not None:
                excluded.append(Excluded(*k, point=rec["config_hash"], reason=why))   # k = (label, L, n, seed)
    cells, fits, required, gaps, best, gap_fits = {}, {}, {}, {}, {}, {}
    train, test = config.tasks.draw(config.task_seed)   # the one task draw every point trained on
    for lab, _ in labels:
        g = config.grid(lab)
        for L in config.depths:
            for n in config.widths:
                cells[lab, L, n] = (_cell(config, res, keep, lab, L, n, test) if L in g.depths and n in g.widths
                                    else None)
        fits[lab] = _fit(config, res, keep, lab)
        required[lab] = {eps: tuple(required_width(fits[lab], L, eps) for L in config.depths)
                         for eps in config.targets}
    # trained GBML vs trained MTL nets of one initialization (same seed, same protocol), beside the closed forms'
    for lab, prot in labels:
        m = methods_.parse(lab)
        if m.kind == "mtl" or "mtl-shared" not in config.methods:
            continue
        mtl = methods_.parse("mtl-shared", test_head=prot).label
        for L in config.depths:
            gaps[lab, L] = _gap(config, res, keep, lab, mtl, L)
        if prot == "fresh":
            gap_fits[lab] = _gap_fit(config, res, keep, lab, mtl)
        best[lab] = {}
        for j, n in enumerate(config.widths):
            means = [(g.finite[j].mean, L) for L in config.depths if (g := gaps[lab, L]).finite[j] is not None]
            best[lab][n] = min(means)[1] if means else None
    grids = {lab: config.grid(lab) for lab, _ in labels}
    result = FiniteClosenessResult(
        tuple(config.depths), tuple(config.widths), tuple(tuple(x) for x in labels), tuple(config.ensembles),
        tuple(config.targets), config.include_flagged, finite.SCHEDULE, tuple(excluded),
        sum(1 for r in records if r["result"].get("left_kernel_regime")),
        sum(1 for r in records if not r["result"]["converged"]),
        cells, fits, required, gaps, best, _useful(config, res, labels, train, test), grids, gap_fits)
    return save_summary(root, NAME, config, records, schema.to_json(result), start)


def _cell(config: Config, res: dict, keep: dict, lab: str, L: int, n: int, test) -> "Cell":
    """Stats over the kept seeds of one (method, L, n), and the ensembles' errors (groups of ``M`` nets)."""
    ks = [(lab, L, n, s) for s in range(config.grid(lab).seeds)]
    st = {q: Stat.read(finite_sweep.kept_stat([res[k][q] if keep[k] else None for k in ks]))
          for q in ("err", "fluctuation", "drift", "seen")}
    mse = Stat.read(finite_sweep.kept_stat([metrics.mse(res[k]["pred"], test.yq) if keep[k] else None for k in ks]))
    ens = {}
    for M in config.ensembles:
        errs = []
        for g in range(config.nets(lab, L) // M):
            gk = [(lab, L, n, s) for s in range(g * M, (g + 1) * M)]
            if all(keep[k] for k in gk):
                mean = np.mean([np.asarray(res[k]["pred"]) for k in gk], axis=0)
                errs.append(metrics.rel_gap(mean, np.asarray(res[gk[0]]["pred_infinite"])))
        ens[M] = Stat.read(finite_sweep.kept_stat(errs))
    return Cell(st["err"], st["fluctuation"], st["drift"], sum(not keep[k] for k in ks), ens, mse, st["seen"])


def _useful(config: Config, res: dict, labels, train, test) -> dict:
    """Non-vacuity per depth (``UsefulRow``): the closed forms' test MSE, no transfer's, the zero
    predictor's and the effective rank of the normalized NTK on the test tasks' points (one task draw)."""
    adapt = Adaptation(config.lr, config.steps)
    points = np.concatenate([test.xs, test.xq], axis=1).reshape(-1, test.dim)
    out = {}
    for L in config.depths:
        kfn = kernel_table(MLPSpec(depth=L, out_dim=train.out_dim), train, test)
        closed = {}
        for lab, _ in labels:
            pred = next((res[k]["pred_infinite"] for k in res if k[0] == lab and k[1] == L
                         and res[k]["pred_infinite"] is not None), None)
            closed[lab] = None if pred is None else metrics.mse(pred, test.yq)
        none = closed_form(methods_.Method.none(), kfn, train, test, adapt=adapt)
        out[L] = UsefulRow(closed, metrics.mse(none, test.yq), metrics.mse(np.zeros_like(none), test.yq),
                           metrics.effective_rank(kfn(points).theta))
    return out


def _fit(config: Config, res: dict, keep: dict, lab: str) -> "DepthWidthLaw | None":
    """``err ~ c (L/n)^a`` over every (L, n) run (``x = L/n``), seeds as bootstrap rows."""
    g = config.grid(lab)
    seeds = range(g.seeds)
    cells = [(L, n) for L in g.depths for n in g.widths]
    xs = [L / n for L, n in cells]
    errs = np.array([[res[lab, L, n, s]["err"] if keep[lab, L, n, s] else np.nan for L, n in cells]
                     for s in seeds], dtype=np.float64)
    mask = np.array([[keep[lab, L, n, s] for L, n in cells] for s in seeds])
    if len(set(xs)) < 2 or not mask.any():
        return None
    try:
        return DepthWidthLaw.read(metrics.fit_power_law_kept(xs, np.where(mask, errs, 1.0), mask, n_boot=config.n_boot))
    except ValueError as exc:  # an error of exactly 0 cannot be fitted in log-log
        return DepthWidthLaw(error=str(exc))


def _gap_fit(config: Config, res: dict, keep: dict, lab: str, mtl: str) -> "WidthLaw":
    """``gap ~ c_L n^-b`` of trained ``lab`` vs trained MTL nets (same seed) over the (L, n) both ran at, one
    constant per depth, seeds as bootstrap rows: under the fresh head, whose closed forms' gap is 0, the width
    exponent of the theorem's ``eps`` (``b = 1/2`` for ``width >= O(eps^-2)``)."""
    ga, gb = config.grid(lab), config.grid(mtl)
    cells = [(L, n) for L in ga.depths if L in gb.depths for n in ga.widths if n in gb.widths]
    seeds = range(min(ga.seeds, gb.seeds))
    mask = np.array([[keep[lab, L, n, s] and keep[mtl, L, n, s] for L, n in cells] for s in seeds])
    gaps = np.array([[metrics.rel_gap(res[lab, L, n, s]["pred"], res[mtl, L, n, s]["pred"]) if ok else 1.0
                      for (L, n), ok in zip(cells, row)] for s, row in zip(seeds, mask)], dtype=np.float64)
    try:
        return WidthLaw.read(metrics.fit_width_exponent([L for L, _ in cells], [n for _, n in cells], gaps, mask,
                                                        n_boot=config.n_boot))
    except ValueError as exc:  # no depth with two widths kept, or a gap of exactly 0
        return WidthLaw(error=str(exc))


def _gap(config: Config, res: dict, keep: dict, lab: str, mtl: str, L: int) -> "GapRow":
    """Trained ``lab`` vs trained MTL nets of each seed per width (both kept), and the closed forms' gap."""
    finite_gap, inf = [], None
    ga, gb = config.grid(lab), config.grid(mtl)
    for n in config.widths:
        if not (L in ga.depths and L in gb.depths and n in ga.widths and n in gb.widths):
            finite_gap.append(None)  # not run (grids)
            continue
        gaps = []
        for s in range(min(ga.seeds, gb.seeds)):
            a, b = (lab, L, n, s), (mtl, L, n, s)
            if keep[a] and keep[b]:
                gaps.append(metrics.rel_gap(res[a]["pred"], res[b]["pred"]))
            if inf is None and res[a]["pred_infinite"] is not None and res[b]["pred_infinite"] is not None:
                inf = metrics.rel_gap(res[a]["pred_infinite"], res[b]["pred_infinite"])
        finite_gap.append(Stat.read(finite_sweep.kept_stat(gaps)))
    return GapRow(tuple(finite_gap), inf)


# --------------------------------------------------------------------------- the summary's schema
@dataclasses.dataclass(frozen=True)
class Cell:
    """Statistics of one (method label, L, n) over the kept seeds, and its ensembles' errors.

    One (method, protocol, L, n): Stats over kept seeds (``None``: none kept / undefined), the runs
    left out, and the error of ensembles of ``M`` nets (``M -> Stat | None``).

    Attributes:
      err: ``rel(trained, closed)`` over the kept seeds.
      fluctuation: ``rel(linearized, closed)`` over the kept seeds.
      drift: ``rel(trained, linearized)`` (``None`` under the fresh head).
      excluded: runs of the label's seeds left out.
      ensemble: ``M -> rel(mean of M nets, closed)``, a ``Stat`` over disjoint groups of ``M`` kept nets
        (``None``: no group with every net kept).
      mse: test MSE of the trained nets (kept seeds) on the test tasks' queries.
      seen: fresh head: ``||trained - untrained|| / ||closed||`` (``None`` under the trained head).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import finite_closeness
      >>> s = finite_closeness.read(selection.summary("results/reference", "finite-closeness"))
      >>> c = s.cell("anil-same", 8, 1024)
      >>> c.err.n, c.excluded, sorted(c.ensemble), c.ensemble[4].n, c.seen
      (3, 0, [1, 4], 1, None)
      >>> c.err.mean
      0.138...
    """

    err: Stat | None
    fluctuation: Stat | None
    drift: Stat | None
    excluded: int
    ensemble: dict[int, Stat | None]
    mse: Stat | None = None    # test MSE of the trained nets (kept seeds) on the test tasks' queries
    seen: Stat | None = None   # fresh head: ||trained - untrained|| / ||closed|| (None under the trained head)


@dataclasses.dataclass(frozen=True)
class UsefulRow:
    """Non-vacuity at one depth: are the predictors that are close still useful?

    Test MSE on the test tasks' queries of each method's closed form (label -> MSE; the fresh-head
    protocol's is no transfer's), of no transfer and of the zero predictor; the effective rank of the
    normalized NTK on the test points.

    Attributes:
      closed: label -> test MSE of its closed form (``None``: not computable).
      no_transfer: test MSE of no transfer's closed form.
      zero: test MSE of the zero predictor.
      effective_rank: effective rank of the normalized NTK on the test tasks' points.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import finite_closeness
      >>> s = finite_closeness.read(selection.summary("results/reference", "finite-closeness"))
      >>> u = s.useful(1)
      >>> u.closed["anil-same+fresh"] == u.no_transfer, u.closed["mtl-shared"] < u.no_transfer < u.zero
      (True, True)
      >>> u.effective_rank
      16.8...
    """

    closed: dict[str, float | None]
    no_transfer: float
    zero: float
    effective_rank: float


class DepthWidthLaw(PowerFit):
    """The depth-width law ``err ~ c (L/n)^a`` of one method label (a ``PowerFit`` read as ``a = -r``).

    ``err ~ c (L/n)^a``: the ``PowerFit`` ``err ~ c x^-r`` on ``x = L/n`` read as
    ``a = -r`` with the bootstrap interval ``[a_lo, a_hi] = [-r_hi, -r_lo]``.

    Attributes:
      r: the ``PowerFit`` exponent on ``x = L/n`` (``a = -r``).
      c: the constant ``c``.
      r_lo: lower end of the bootstrap interval of ``r`` (``a_hi = -r_lo``).
      r_hi: upper end of that interval (``a_lo = -r_hi``).
      level: the interval's coverage.
      x: the fitted abscissae, when stored (empty here).
      monotone: whether the means fall at every step (``None``: not stored).
      error: why no fit was made (then the numbers are NaN), ``None`` when fitted.
      note: how the interval was obtained, when not the default bootstrap over seeds.

    Examples:
      >>> from ntk_bridge.experiments import finite_closeness
      >>> law = finite_closeness.DepthWidthLaw(r=-0.5, c=0.1, r_lo=-0.6, r_hi=-0.4)
      >>> law.a, law.a_lo, law.a_hi, law.ok
      (0.5, 0.4, 0.6, True)
      >>> float(law.err(2, 8))        # 0.1 (2 / 8)^0.5
      0.05
    """

    @property
    def a(self) -> float:
        return -self.r

    @property
    def a_lo(self) -> float:
        return -self.r_hi

    @property
    def a_hi(self) -> float:
        return -self.r_lo

    def err(self, depth, width):
        """The fitted error at ``(L, n)`` (arrays broadcast)."""
        return self.c * (np.asarray(depth, dtype=float) / np.asarray(width, dtype=float)) ** self.a


@dataclasses.dataclass(frozen=True)
class WidthLaw:
    """The width law ``gap ~ c_L n^-b`` of a trained GBML-MTL gap: one exponent, one constant per depth.

    ``gap ~ c_L n^-b``: one width exponent ``b`` with its bootstrap interval ``[b_lo, b_hi]`` at ``level``, one
    constant per depth (``constants``); ``error`` says why no fit was made.

    Attributes:
      b: the width exponent (theory: ``b = 1/2``).
      b_lo: lower end of its bootstrap interval.
      b_hi: upper end of that interval.
      level: the interval's coverage.
      constants: depth -> ``c_L``.
      error: why no fit was made (then the numbers are NaN), ``None`` when fitted.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import finite_closeness
      >>> s = finite_closeness.read(selection.summary("results/reference", "finite-closeness"))
      >>> law = s.gap_fit("anil-same+fresh")
      >>> law.ok, law.level, sorted(law.constants), law.b_lo < law.b < law.b_hi
      (True, 0.9, [1, 2, 4, 8, 16], True)
      >>> law.b
      0.14...
    """

    b: float = float("nan")
    b_lo: float = float("nan")
    b_hi: float = float("nan")
    level: float | None = None
    constants: dict[int, float] = dataclasses.field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def read(cls, d: dict) -> "WidthLaw":
        """From ``fit_width_exponent``'s dict."""
        return cls(d["b"], d["b_lo"], d["b_hi"], d["level"], {int(k): v for k, v in d["groups"].items()})


@dataclasses.dataclass(frozen=True)
class GapRow:
    """Trained GBML vs trained MTL nets at one depth, per width, beside the closed forms' gap.

    Trained GBML vs trained MTL nets at one depth: a Stat per width of the sweep (``None``: not run, or
    no seed with both kept), and the closed forms' gap (``None``: not computable).

    Attributes:
      finite: per width of the summary, ``||f_GBML - f_MTL|| / ||f_MTL||`` of the trained nets of one seed, a
        ``Stat`` over the seeds with both kept (``None``: not run, or no such seed).
      infinite: the same relative gap of the two closed forms (``None``: not computable).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import finite_closeness
      >>> s = finite_closeness.read(selection.summary("results/reference", "finite-closeness"))
      >>> row = s.result.gaps["anil-same", 1]
      >>> len(row.finite) == len(s.widths), row.finite[0], row.infinite == s.gap("anil-same", 1)
      (True, None, True)
      >>> row.infinite
      0.715...
    """

    finite: tuple[Stat | None, ...]
    infinite: float | None


@dataclasses.dataclass(frozen=True)
class FiniteClosenessResult:
    """What a finite-closeness summary stores (``schema.to_json``).  Labels are ``Method.label``s.

    Attributes:
      depths: the surface's depths.
      widths: the surface's widths.
      labels: ``(label, protocol)`` pairs summarized.
      ensembles: the ensemble sizes ``M``.
      targets: the errors ``eps`` of ``required_width``.
      include_flagged: whether unconverged and regime-leaving runs were let in.
      schedule: the outer schedule the nets trained with (``finite.SCHEDULE``).
      excluded: every run left out (``finite_sweep.Excluded``), per (label, protocol) reading it.
      flagged_runs: trained runs that left the kernel regime.
      unconverged_runs: trained runs that did not converge.
      cells: ``(label, L, n) -> Cell``, ``None`` where not run (grids).
      fits: label -> ``DepthWidthLaw`` (``None``: not fitted).
      required_width: label -> eps -> the width per depth (``None``: no established law).
      gaps: ``(GBML label, L) -> GapRow`` against MTL of the same protocol.
      best_depth: GBML label -> width -> depth of the smallest mean gap (``None``: no gap at that width).
      useful: depth -> ``UsefulRow``.
      grids: label -> ``Grid`` where it was trained.
      gap_fits: fresh-head GBML label -> ``WidthLaw``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import finite_closeness
      >>> s = finite_closeness.read(selection.summary("results/reference", "finite-closeness"))
      >>> r = s.result
      >>> r.depths, r.widths, r.ensembles, r.targets
      ((1, 2, 4, 8, 16), (64, 256, 512, 1024), (1, 4), (0.1, 0.05))
      >>> len(r.labels), len(r.cells), len(r.excluded), r.flagged_runs, r.unconverged_runs
      (10, 200, 42, 0, 21)
    """

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    labels: tuple[tuple[str, str], ...]          # (label, protocol)
    ensembles: tuple[int, ...]
    targets: tuple[float, ...]
    include_flagged: bool
    schedule: str
    excluded: tuple[Excluded, ...]
    flagged_runs: int
    unconverged_runs: int
    cells: dict[tuple[str, int, int], Cell | None]     # (label, L, n) -> None where not run (grids)
    fits: dict[str, DepthWidthLaw | None]
    required_width: dict[str, dict[float, tuple[float | None, ...]]]   # label -> eps -> per depth
    gaps: dict[tuple[str, int], GapRow]               # (GBML label, L), against MTL of the same protocol
    best_depth: dict[str, dict[int, int | None]]      # GBML label -> width -> depth of the smallest mean gap
    useful: dict[int, UsefulRow]                      # depth -> non-vacuity row
    grids: dict[str, Grid] = dataclasses.field(default_factory=dict)   # label -> where it was trained
    gap_fits: dict[str, WidthLaw] = dataclasses.field(default_factory=dict)  # fresh-head GBML label -> gap law


@dataclasses.dataclass(frozen=True)
class FiniteClosenessSummary(Summary):
    """A finite-closeness summary record, typed: its ``FiniteClosenessResult`` and accessors.

    Attributes:
      record: the stored summary record (a ``dict``; ``config`` is its ``"config"``).
      result: the typed ``FiniteClosenessResult``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import finite_closeness
      >>> s = finite_closeness.read(selection.summary("results/reference", "finite-closeness"))
      >>> s.best_depth("anil-same")
      {64: 4, 256: 8, 512: 16, 1024: 16}
      >>> s.ran("maml-same", 1024), s.ran("maml-same", 512, depth=8), s.cell("maml-same", 16, 64) is None
      (False, True, True)
      >>> s.gap("anil-same", 8, 1024).n, (8, 1024) in s.within("anil-same", 0.3)
      (3, True)
    """

    result: FiniteClosenessResult | None = None

    @property
    def depths(self) -> tuple:
        return self.result.depths

    @property
    def widths(self) -> tuple:
        return self.result.widths

    @property
    def labels(self) -> tuple:
        """``(label, protocol)`` pairs."""
        return self.result.labels

    @property
    def ensembles(self) -> tuple:
        return self.result.ensembles

    @property
    def targets(self) -> tuple:
        return self.result.targets

    @property
    def excluded(self) -> tuple:
        """Every run left out (``Excluded``)."""
        return self.result.excluded

    @property
    def schedule(self) -> str:
        return self.result.schedule

    def cell(self, label: str, depth: int, width: int) -> Cell | None:
        return self.result.cells.get((label, depth, width))

    def fit(self, label: str) -> DepthWidthLaw | None:
        """``err ~ c (L/n)^a`` of ``label`` (``None``: not fitted, e.g. no run kept)."""
        return self.result.fits.get(label)

    def required_width(self, label: str, eps: float) -> tuple:
        """Width needed for ``err <= eps`` per depth (``None``: no fit, or the error does not fall)."""
        return self.result.required_width.get(label, {}).get(eps, (None,) * len(self.depths))

    def gap(self, label: str, depth: int, width: int | None = None):
        """Trained ``label`` vs trained MTL (same seed and protocol): Stat at ``width``, or the closed forms'
        gap (float) with ``width=None``."""
        row = self.result.gaps.get((label, depth))
        if row is None:
            return None
        return row.infinite if width is None else row.finite[self.widths.index(width)]

    def grid(self, label: str) -> Grid:
        """Where ``label`` was trained (``Config.grids``; the summary's depths x widths otherwise)."""
        return self.result.grids.get(label) or Grid(self.depths, self.widths, self.config.get("seeds", 0))

    def ran(self, label: str, width: int, depth: int | None = None) -> bool:
        """Whether ``label`` was trained at ``width`` (at some depth, or at ``depth``) (``Config.grids``)."""
        g = self.grid(label)
        return width in g.widths and (depth is None or depth in g.depths)

    def gap_fit(self, label: str) -> WidthLaw | None:
        """``gap ~ c_L n^-b`` of trained ``label`` vs trained MTL nets (fresh-head labels; ``None``: not fitted)."""
        return self.result.gap_fits.get(label)

    def best_depth(self, label: str) -> dict:
        """Per width, the depth at which the trained ``label``-MTL gap is smallest."""
        return dict(self.result.best_depth.get(label, {}))

    def useful(self, depth: int) -> "UsefulRow | None":
        """The non-vacuity row at ``depth`` (closed forms', no transfer's and the zero predictor's test MSE)."""
        return self.result.useful.get(depth)

    def within(self, label: str, threshold: float = 0.1) -> list:
        """``(L, n)`` pairs at which the trained ``label`` and MTL nets were within ``threshold`` (mean gap)."""
        return [(L, n) for L in self.depths for n in self.widths
                if (g := self.gap(label, L, n)) is not None and g.mean <= threshold]


def read(summary: dict) -> FiniteClosenessSummary:
    """The typed view of a finite-closeness summary record (``selection.summary(root, NAME)``).

    Args:
      summary: a finite-closeness summary record, as ``run`` returns it or ``selection.summary`` reads it.

    Returns:
      A ``FiniteClosenessSummary`` of the record and its ``FiniteClosenessResult``.

    Raises:
      ValueError: propagated from ``schema.from_json`` when the record's result does not have this code's
        layout (written by another version).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import finite_closeness
      >>> s = finite_closeness.read(selection.summary("results/reference", "finite-closeness"))
      >>> type(s).__name__, type(s.fit("anil-same")).__name__, s.schedule
      ('FiniteClosenessSummary', 'DepthWidthLaw', 'empirical-power-tracked/lr1.0/momentum0/v2')
    """
    return FiniteClosenessSummary(summary, schema.from_json(FiniteClosenessResult, summary["result"]))
