"""Cost (claim C4): wall time per outer training step, MTL (first order) vs ANIL, FOMAML and MAML.

For each width, every method is timed side by side on the same tasks by the one timing
harness, ``ntk_bridge.timing.time_methods`` (median over ``repeats`` timed calls of
``n_steps`` full-batch outer steps, after a jit warm-up; ``benchmarks/train_cost.py`` uses it
too).  The summary gives, per width, each method's time per step and its ratio to MTL (mean
± sd over repeats, each repeat's ratio taken from the times measured in that repeat, i.e. the
repeats of equal index: the methods are timed one after the other, not interleaved), and
``ratio_maml`` at the largest width (``CostSummary.ratio_maml``; ANIL's ratio through
``rows[-1].ratio_to_mtl("anil")``).
"""
from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

import numpy as np

from .. import store, sweep, timing
from ..predict import Adaptation
from ..spec import MLPSpec
from ..tasks import shared_feature
from ..methods import parse
from . import schema
from .common import check_choice, check_int, check_ints, point, save_summary, stat
from .stats import Stat, Summary

NAME = "cost"
ALGORITHM = 1  # bump when this module would store other results for the same config (store.register)
store.register(NAME, ALGORITHM)
FIGURES = ("cost",)   # what reports it (ntk_bridge.figures, ntk_bridge.appendix.sections)
SECTIONS = ("cost",)
QUICK_S = 10   # seconds of its quick config (2-core machine, 2026-12-04): reproduce starts the longest first
METHODS = timing.METHODS


@dataclasses.dataclass(frozen=True)
class Config:
    """The cost sweep: one point per width, every method of ``METHODS`` timed on the same tasks.

    The tasks are ``tasks.shared_feature(n_tasks, n_support, n_query, dim=dim, seed=0)``; the inner
    loop is ``Adaptation(lr=0.02, steps=steps)`` (the cost does not depend on the learning rate).
    The default is the reference sweep (``results/reference``); ``quick()`` the one of ``reproduce --quick``.

    Attributes:
      AXES: fields left out of each point's config (``common.point``): the sweep axis ``widths``
        (class constant, not a field).
      depth: hidden layers of the timed MLP.
      widths: hidden widths, one point (and one ``CostRow``) each; the last is ``largest_width``.
      n_tasks: training tasks in the full batch.
      n_support: support points per task.
      n_query: query points per task.
      dim: input dimension.
      steps: inner-loop steps of the GBML methods.
      n_steps: outer steps per timed call (the time per step is the call's time / ``n_steps``).
      repeats: timed calls per method, after one warm-up (jit) call.
      device: ``None`` (JAX's default device), ``"cpu"`` or ``"gpu"``.

    Raises:
      ValueError: a count that is not a positive integer, ``widths`` not a non-empty tuple of them,
        or another ``device`` (the message names the field).

    Examples:
      >>> from ntk_bridge.experiments import cost
      >>> cost.Config.quick().widths, cost.Config().widths
      ((64, 256), (256, 1024, 4096))
      >>> cost.Config(device="tpu")
      Traceback (most recent call last):
      ...
      ValueError: device must be one of (None, 'cpu', 'gpu'), got 'tpu'
    """

    AXES: ClassVar[tuple] = ("widths",)
    depth: int = 2
    widths: tuple = (256, 1024, 4096)
    n_tasks: int = 8
    n_support: int = 5
    n_query: int = 10
    dim: int = 8
    steps: int = 5
    n_steps: int = 20
    repeats: int = 5
    device: str | None = None

    def __post_init__(self):
        for name in ("depth", "n_tasks", "n_support", "n_query", "dim", "steps", "n_steps", "repeats"):
            check_int(name, getattr(self, name))
        check_ints("widths", self.widths)
        check_choice("device", self.device, (None, "cpu", "gpu"))

    @classmethod
    def quick(cls) -> "Config":
        return cls(widths=(64, 256), n_tasks=4, n_steps=20, repeats=3)


def _compute(p: dict) -> dict:
    train = shared_feature(p["n_tasks"], p["n_support"], p["n_query"], dim=p["dim"], seed=0)
    spec = MLPSpec(depth=p["depth"], width=p["width"])
    adapt = Adaptation(lr=0.02, steps=p["steps"])  # the cost does not depend on the learning rate
    return timing.time_methods(spec, train, adapt, n_steps=p["n_steps"], repeats=p["repeats"], device=p["device"])


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Time every method at every width (resumable per width); store the summary with the ratios.

    Per width, ``timing.time_methods`` times each method of ``METHODS`` (``repeats`` calls of
    ``n_steps`` outer steps after a warm-up call, one method after the other) and the point record
    keeps every repeat's time per step.  The summary's ``CostRow`` holds per method the mean/std over
    repeats of the time per step and of ``time / MTL's time`` (repeats paired by index).  A width
    already stored under ``root`` is read back, not timed again: its times are those of the
    machine that measured them.

    Args:
      config: the sweep (``Config``).
      root: results folder the records are stored under (default ``results``).

    Returns:
      dict: the stored summary record (``kind == "summary"``); ``read`` gives its typed view.

    Raises:
      RuntimeError: from ``jax.devices``: ``device="gpu"`` where JAX has no GPU backend (the
        widths to time; stored ones are not timed).

    Examples:
      Resuming the reference sweep from a copy of its records reuses every width (nothing is timed)
      and gives back the same summary:

      >>> import shutil, tempfile
      >>> from ntk_bridge.experiments import cost
      >>> with tempfile.TemporaryDirectory() as root:
      ...     _ = shutil.copytree("results/reference/cost", f"{root}/cost")
      ...     rec = cost.run(cost.Config(), root=root)
      >>> rec["config_hash"], [row.width for row in cost.read(rec).rows]
      ('c2535649ff6335b9', [256, 1024, 4096])
    """
    start = time.perf_counter()
    points = [point(config, width=w) for w in config.widths]
    records = sweep.run(root, NAME, points, _compute, seed_of=lambda p: None, desc="cost")
    rows = []
    for w, rec in zip(config.widths, records):
        res = rec["result"]
        mtl = np.array(res["mtl-shared"]["per_step_all_s"])
        rows.append(CostRow(w, str(res["mtl-shared"]["device"]),
                            {m: Stat.read(stat(res[m]["per_step_all_s"])) for m in METHODS},
                            {m: Stat.read(stat(np.array(res[m]["per_step_all_s"]) / mtl)) for m in METHODS}))
    result = CostResult(tuple(rows), METHODS, config.widths[-1])
    return save_summary(root, NAME, config, records, schema.to_json(result), start)


# --------------------------------------------------------------------------- the summary's schema
@dataclasses.dataclass(frozen=True)
class CostRow:
    """Time per outer step at one width: seconds per method and the ratio to MTL (Stat over repeats).

    ``time(method)`` and ``ratio_to_mtl(method)`` look a method up by name or ``Method``
    (``"mtl-shared"``, ``"anil"``, ``"fomaml"``, ``"maml"``); ``None`` if it was not timed.

    Attributes:
      width: hidden width of the timed nets.
      device: the JAX device that timed them, e.g. ``"cpu (cpu)"`` (platform and device kind).
      per_step_s: method name -> seconds per outer step, ``Stat`` (mean/std) over repeats.
      ratio: method name -> time per step / MTL's in the same repeat index, ``Stat`` over repeats
        (MTL's own ratio is exactly 1).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import cost
      >>> row = cost.read(selection.summary("results/reference", "cost")).rows[0]
      >>> row.width, sorted(row.per_step_s), row.time("maml").n
      (256, ['anil', 'fomaml', 'maml', 'mtl-shared'], 5)
      >>> row.ratio_to_mtl("mtl-shared").mean, row.time("maml").mean > row.time("mtl-shared").mean
      (1.0, True)
    """

    width: int
    device: str
    per_step_s: dict[str, Stat]   # Method name -> seconds
    ratio: dict[str, Stat]        # Method name -> time / MTL's time, per repeat

    def time(self, method):
        return self.per_step_s.get(parse(method).name)

    def ratio_to_mtl(self, method):
        return self.ratio.get(parse(method).name)


@dataclasses.dataclass(frozen=True)
class CostResult:
    """What a cost summary stores (``schema.to_json``).

    Attributes:
      rows: one ``CostRow`` per width, in ``Config.widths`` order.
      methods: the method names timed, MTL first (``METHODS``).
      largest_width: the last width of ``Config.widths``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import cost
      >>> result = cost.read(selection.summary("results/reference", "cost")).result
      >>> result.methods, result.largest_width, len(result.rows)
      (('mtl-shared', 'anil', 'fomaml', 'maml'), 4096, 3)
    """

    rows: tuple[CostRow, ...]
    methods: tuple[str, ...]   # Method names timed, MTL first
    largest_width: int


@dataclasses.dataclass(frozen=True)
class CostSummary(Summary):
    """A cost summary record, typed: its ``CostResult`` and accessors (``rows``, ``methods``,
    ``largest_width``, ``ratio_maml``: MAML's time per step / MTL's at the largest width).

    Attributes:
      record: the stored summary record (dict; ``config`` reads its config).
      result: the typed result (``CostResult``).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import cost
      >>> s = cost.read(selection.summary("results/reference", "cost"))
      >>> s.largest_width, s.ratio_maml == s.rows[-1].ratio_to_mtl("maml"), s.ratio_maml.mean > 1
      (4096, True, True)
    """

    result: CostResult | None = None

    @property
    def rows(self) -> tuple:
        return self.result.rows

    @property
    def methods(self) -> tuple:
        return self.result.methods

    @property
    def largest_width(self) -> int:
        return self.result.largest_width

    @property
    def ratio_maml(self):
        """Second-order MAML's time per step / MTL's at the largest width (Stat over repeats), or ``None``."""
        return self.rows[-1].ratio_to_mtl("maml") if self.rows else None


def read(summary: dict) -> CostSummary:
    """The typed view of a cost summary record.

    Args:
      summary: a stored cost summary record (from ``run``, or ``selection.summary(root, "cost")``).

    Returns:
      CostSummary: the record and its ``CostResult``.

    Raises:
      ValueError: from ``schema.from_json``: ``summary["result"]`` does not have the schema's shape.
      KeyError: ``summary`` has no ``"result"``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import cost
      >>> s = cost.read(selection.summary("results/reference", "cost"))
      >>> type(s).__name__, s.config["widths"], s.rows[0].device
      ('CostSummary', [256, 1024, 4096], 'cpu (cpu)')
    """
    return CostSummary(summary, schema.from_json(CostResult, summary["result"]))
