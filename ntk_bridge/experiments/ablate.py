"""Ablations of the closeness gap, all closed form (infinite width).

Each ablation varies one factor of the closeness point (``closeness.evaluate``) around the
base ``(tasks, lr, steps)`` at each of ``depths``, over ``seeds`` task samplings:

* ``steps``: inner steps at fixed ``lr``;           * ``lr``: inner learning rate at fixed steps;
* ``n_train``: number of training tasks;             * ``similarity``: shared-feature task similarity;
* ``heads``: MTL head initialization, shared vs independent (independent = no transfer);
* ``flow``: gradient flow for time ``lr*steps`` vs discrete steps;
* ``lr_scaling``: ``lr`` fixed vs ``lr * 2 / (L + 1)`` (keeps ``lr * Theta(x,x)`` constant, as
  MAML's inner kernel grows like ``L + 1``), over ``scaling_depths``.

Figures and the appendix read the summary through ``read``.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

from .. import store, sweep
from ..kernels import BACKENDS
from ..predict import SPLITS, Adaptation
from ..methods import Method, parse
from .closeness import ALGOS, GAPS, evaluate
from . import schema
from .common import TaskConfig, check_choice, check_int, check_ints, save_summary, stat
from .stats import Stat, Summary

NAME = "ablate"
ALGORITHM = 2  # bump when this module would store other results for the same config (store.register)
store.register(NAME, ALGORITHM)
FIGURES = ("ablate",)   # what reports it (ntk_bridge.figures, ntk_bridge.appendix.sections)
SECTIONS = ("ablate",)
QUICK_S = 10   # seconds of its quick config (2-core machine, 2026-12-04): reproduce starts the longest first
ABLATIONS = ("steps", "lr", "n_train", "similarity", "heads", "flow", "lr_scaling")


@dataclasses.dataclass(frozen=True)
class Config:
    """The ablations: each factor of ``ABLATIONS`` varied over its grid around ``(tasks, lr, steps)``.

    Every setting runs at each of ``depths`` (``lr_scaling``: ``scaling_depths``) over ``seeds``
    task samplings; ``values(ablation)`` gives an ablation's values.  The default is the reference
    sweep (``results/reference``); ``quick()`` the one of ``reproduce --quick``; ``digits()`` the
    real-image variant.

    Attributes:
      tasks: the base tasks (``TaskConfig``: family, training/test task counts, points per task).
      depths: depths ``L`` of every ablation but ``lr_scaling``.
      seeds: task samplings per setting (seed ``s``: training tasks ``2s``, test tasks ``2s + 1``).
      lr: base inner learning rate.
      steps: base inner steps.
      splits: GBML splits evaluated, a non-empty tuple of ``predict.SPLITS`` (``"same"``, ``"disjoint"``).
      steps_grid: inner steps of the ``steps`` ablation (at ``lr``).
      lr_grid: inner learning rates of the ``lr`` ablation (at ``steps``).
      n_train_grid: training-task counts of the ``n_train`` ablation.
      similarity_grid: task similarities in ``[0, 1]`` of the ``similarity`` ablation (run only for
        the ``shared-feature`` family, the one with that option).
      scaling_depths: depths of the ``lr_scaling`` ablation (``lr`` fixed vs ``lr * 2 / (L + 1)``).
      ablations: the ablations to run, a tuple of ``ABLATIONS``.
      backend: kernel backend, one of ``kernels.BACKENDS``.

    Raises:
      ValueError: a field out of range (non-positive counts, a bad ``(lr, steps)``, an unknown split,
        similarity, ablation or backend); the message names the field.

    Examples:
      >>> from ntk_bridge.experiments import ablate
      >>> ablate.Config().values("heads"), ablate.Config.digits().n_train_grid
      (('shared', 'independent'), (5, 10, 20))
      >>> ablate.Config(ablations=("width",))
      Traceback (most recent call last):
      ...
      ValueError: ablations must be a tuple of ('steps', 'lr', ...), got ('width',)
    """

    tasks: TaskConfig = TaskConfig(n_support=5, n_query=10)
    depths: tuple = (2, 8, 32)
    seeds: int = 5
    lr: float = 0.02
    steps: int = 5
    splits: tuple = ("same", "disjoint")
    steps_grid: tuple = (1, 2, 5, 10, 20)
    lr_grid: tuple = (0.005, 0.01, 0.02, 0.04)
    n_train_grid: tuple = (5, 10, 20, 40, 80)
    similarity_grid: tuple = (0.0, 0.5, 0.8, 0.95, 1.0)
    scaling_depths: tuple = (1, 2, 4, 8, 16, 32, 64)
    ablations: tuple = ABLATIONS
    backend: str = "native"

    def __post_init__(self):
        check_ints("depths", self.depths)
        check_int("seeds", self.seeds)
        Adaptation(self.lr, self.steps)
        if not self.splits or any(s not in SPLITS for s in self.splits):
            raise ValueError(f"splits must be a non-empty tuple of {SPLITS}, got {self.splits!r}")
        check_ints("steps_grid", self.steps_grid)
        check_ints("n_train_grid", self.n_train_grid)
        check_ints("scaling_depths", self.scaling_depths)
        for lr in self.lr_grid:
            Adaptation(lr, self.steps)
        if any(not 0 <= s <= 1 for s in self.similarity_grid):
            raise ValueError(f"similarity_grid values must be in [0, 1], got {self.similarity_grid!r}")
        if any(a not in ABLATIONS for a in self.ablations):
            raise ValueError(f"ablations must be a tuple of {ABLATIONS}, got {self.ablations!r}")
        check_choice("backend", self.backend, BACKENDS)

    @classmethod
    def quick(cls) -> "Config":
        return cls(depths=(2, 16), seeds=2, steps_grid=(1, 5, 20), lr_grid=(0.005, 0.02, 0.04),
                   n_train_grid=(5, 20, 60), similarity_grid=(0.0, 0.8, 1.0), scaling_depths=(1, 4, 16, 64))

    @classmethod
    def digits(cls, quick: bool = False) -> "Config":
        """Real images: the closeness digits tasks (2-way 5-shot, ``closeness.DIGITS_TASKS``); at most
        20 training tasks (the meta-train pool holds about 900 images); no similarity knob."""
        from .closeness import DIGITS_TASKS

        base = cls.quick() if quick else cls(seeds=3)
        return dataclasses.replace(base, tasks=DIGITS_TASKS, n_train_grid=(5, 10, 20))

    def values(self, ablation: str) -> tuple:
        return {"steps": self.steps_grid, "lr": self.lr_grid, "n_train": self.n_train_grid,
                "similarity": self.similarity_grid, "heads": ("shared", "independent"), "flow": (False, True),
                "lr_scaling": ("fixed", "depth")}[ablation]


def _point(config: Config, ablation: str, value, depth: int, seed: int) -> dict:
    """The closeness point of one ablation setting (equal settings give equal points, stored once)."""
    tasks = config.tasks
    p = {"splits": list(config.splits), "backend": config.backend, "depth": depth, "seed": seed,
         "lr": config.lr, "steps": config.steps, "flow": False, "heads": "shared"}
    if ablation in ("steps", "lr", "flow", "heads"):
        p[ablation] = value
    elif ablation == "n_train":
        tasks = dataclasses.replace(tasks, n_train=value)
    elif ablation == "similarity":
        tasks = dataclasses.replace(tasks, options=tuple(dict(tasks.options, similarity=value).items()))
    elif value == "depth":  # lr_scaling
        p["lr"] = config.lr * 2.0 / (depth + 1)
    p["tasks"] = store.to_jsonable(tasks)
    return p


def _settings(config: Config):
    for ablation in config.ablations:
        if ablation == "similarity" and config.tasks.family != "shared-feature":
            continue  # only the shared-feature family has a similarity knob
        depths = config.scaling_depths if ablation == "lr_scaling" else config.depths
        for value in config.values(ablation):
            for depth in depths:
                yield ablation, value, depth


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) every ablation of ``config``; store the summary record and return it.

    Each (ablation, value, depth, seed) is a closeness point (``closeness.evaluate``, stored under
    ``root/ablate``; equal settings are computed and stored once, stored ones reused).  Per
    (ablation, value, depth) the summary's ``Row`` holds, over seeds, the gaps GBML vs MTL per
    (split, algorithm, gap), the test MSEs, and how many seeds a GBML predictor could not compute
    (``errors.NotComputable``, left out of the statistics).

    Args:
      config: the ablations (``Config``).
      root: results folder the records are stored under (default ``results``).

    Returns:
      dict: the stored summary record (``kind == "summary"``); ``read`` gives its typed view.

    Raises:
      ValueError: from ``TaskConfig.draw`` (``tasks.make``): tasks it cannot draw, e.g. ``digits``
        options their image pools cannot serve (``n_way`` above the pool's classes, too many tasks or images per class).

    Examples:
      Two ablations on tiny tasks; ``steps=5`` and ``heads="shared"`` are the same setting (the base
      one), so 3 distinct settings x 2 seeds are stored:

      >>> import tempfile
      >>> from ntk_bridge.experiments import ablate
      >>> from ntk_bridge.experiments.common import TaskConfig
      >>> config = ablate.Config(tasks=TaskConfig(n_train=3, n_test=2, n_support=2, n_query=3), depths=(1,),
      ...                        seeds=2, ablations=("steps", "heads"), steps_grid=(1, 5))
      >>> with tempfile.TemporaryDirectory() as root:
      ...     rec = ablate.run(config, root=root)
      >>> s = ablate.read(rec)
      >>> [(r.ablation, r.value) for r in s.rows], len(rec["result"]["points"])
      ([('steps', 1), ('steps', 5), ('heads', 'shared'), ('heads', 'independent')], 6)
      >>> s.of("heads")[1].test_mse("mtl-independent").n
      2
    """
    start = time.perf_counter()
    settings = list(_settings(config))
    points = [_point(config, a, v, L, s) for a, v, L in settings for s in range(config.seeds)]
    records = sweep.run(root, NAME, points, evaluate, seed_of=lambda p: p["seed"], desc="ablations")
    rows = []
    for i, (ablation, value, depth) in enumerate(settings):
        res = [r["result"] for r in records[i * config.seeds:(i + 1) * config.seeds]]
        heads = value if ablation == "heads" else "shared"
        mse = {Method.mtl(heads).label: Stat.read(stat([x["mse"]["mtl"] for x in res])),
               Method.none().label: Stat.read(stat([x["mse"]["no_transfer"] for x in res]))}
        gaps, failed = {}, {}
        for split in config.splits:
            for algo in ALGOS:
                ok = [x[split][algo] for x in res if "error" not in x[split][algo]]
                failed[split, algo] = len(res) - len(ok)
                if ok:
                    mse[Method.gbml(algo, split).label] = Stat.read(stat([x["mse"] for x in ok]))
                for gap in GAPS:
                    vals = [x[gap] for x in ok if x[gap] is not None]
                    gaps[split, algo, gap] = Stat.read(stat(vals)) if vals else None
        rows.append(Row(ablation, value, depth, gaps, failed, mse))
    return save_summary(root, NAME, config, records, schema.to_json(AblateResult(tuple(rows))), start)


# --------------------------------------------------------------------------- the summary's schema
@dataclasses.dataclass(frozen=True)
class Row:
    """One ablation setting at one depth: gaps GBML vs MTL and test MSEs, mean/std over seeds.

    ``gap(split, algo, gap="rel_gap")``, ``n_failed(split, algo)`` and ``test_mse(method)`` read the
    dicts below (``None`` / 0 where absent).

    Attributes:
      ablation: the ablated factor, one of ``ABLATIONS``.
      value: the factor's value (a number, a bool for ``flow``, ``"shared"``/``"independent"`` for
        ``heads``, ``"fixed"``/``"depth"`` for ``lr_scaling``).
      depth: number of hidden layers ``L``.
      gaps: ``(split, algo, gap)`` -> ``Stat`` over the computable seeds of ``rel_gap`` or
        ``normalized_gap`` (``closeness``); ``None`` where undefined (``normalized_gap`` with
        independent heads: MTL is the no-transfer baseline) or no seed was computable.
      failed: ``(split, algo)`` -> number of seeds whose GBML predictor could not be computed.
      mse: ``Method.label`` -> test MSE ``Stat`` over seeds (MTL, no transfer, each computable GBML).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import ablate
      >>> row = ablate.read(selection.summary("results/reference", "ablate")).of("heads")[-1]
      >>> row.ablation, row.value, row.depth, row.n_failed("same", "anil")
      ('heads', 'independent', 32, 0)
      >>> row.gap("same", "anil", "normalized_gap") is None, row.test_mse("mtl-independent").n
      (True, 5)
    """

    ablation: str
    value: Any                                       # the ablated factor's value (number, bool, "shared", ...)
    depth: int
    gaps: dict[tuple[str, str, str], Stat | None]    # (split, algo, gap); None: undefined or not computable
    failed: dict[tuple[str, str], int]               # (split, algo) -> seeds that could not be computed
    mse: dict[str, Stat]                             # Method.label -> test MSE

    def gap(self, split: str, algo: str, gap: str = "rel_gap") -> Stat | None:
        return self.gaps.get((split, algo, gap))

    def n_failed(self, split: str, algo: str) -> int:
        return self.failed.get((split, algo), 0)

    def test_mse(self, method) -> Stat | None:
        """Test MSE of ``method`` (MTL: with this row's head initialization, ``"mtl-independent"`` in the
        ``heads`` ablation); ``None`` if not stored."""
        return self.mse.get(parse(method).label)


@dataclasses.dataclass(frozen=True)
class AblateResult:
    """What an ablate summary stores (``schema.to_json``).

    Attributes:
      rows: one ``Row`` per (ablation, value, depth), in sweep order (ablation, then value, then depth).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import ablate
      >>> result = ablate.read(selection.summary("results/reference", "ablate")).result
      >>> len(result.rows), type(result.rows[0]).__name__, result.rows[0].ablation
      (83, 'Row', 'steps')
    """

    rows: tuple[Row, ...]


@dataclasses.dataclass(frozen=True)
class AblateSummary(Summary):
    """An ablate summary record, typed: its ``AblateResult`` and accessors (``rows``, ``ablations``: the
    ablations in sweep order, ``of(ablation)``: that ablation's rows).

    Attributes:
      record: the stored summary record (dict; ``config`` reads its config).
      result: the typed result (``AblateResult``).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import ablate
      >>> s = ablate.read(selection.summary("results/reference", "ablate"))
      >>> s.ablations
      ('steps', 'lr', 'n_train', 'similarity', 'heads', 'flow', 'lr_scaling')
      >>> [(r.value, r.depth) for r in s.of("flow")]
      [(False, 2), (False, 8), (False, 32), (True, 2), (True, 8), (True, 32)]
    """

    result: AblateResult | None = None

    @property
    def rows(self) -> tuple:
        return self.result.rows

    @property
    def ablations(self) -> tuple:
        return tuple(dict.fromkeys(r.ablation for r in self.rows))

    def of(self, ablation: str) -> tuple:
        """The rows of one ablation, in sweep order."""
        return tuple(r for r in self.rows if r.ablation == ablation)


def read(summary: dict) -> AblateSummary:
    """The typed view of an ablate summary record.

    Args:
      summary: a stored ablate summary record (from ``run``, or ``selection.summary(root, "ablate")``).

    Returns:
      AblateSummary: the record and its ``AblateResult``.

    Raises:
      ValueError: from ``schema.from_json``: ``summary["result"]`` does not have the schema's shape.
      KeyError: ``summary`` has no ``"result"``.

    Examples:
      The digits variant has no ``similarity`` ablation (no similarity knob on real images):

      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import ablate
      >>> s = ablate.read(selection.summary("results/reference", "ablate", digits=True))
      >>> type(s).__name__, s.config["tasks"]["family"], "similarity" in s.ablations
      ('AblateSummary', 'digits', False)
    """
    return AblateSummary(summary, schema.from_json(AblateResult, summary["result"]))
