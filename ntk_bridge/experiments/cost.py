"""Cost (claim C4): wall time per outer training step, MTL (first order) vs ANIL, FOMAML and MAML.

For each width, every method is timed side by side on the same tasks by the one timing
harness, ``ntk_bridge.timing.time_methods`` (median over ``repeats`` timed calls of
``n_steps`` full-batch outer steps, after a jit warm-up; ``benchmarks/train_cost.py`` uses it
too).  The summary gives, per width, each method's time per step and its ratio to MTL (mean
± sd over repeats, each repeat's ratio taken from the times measured in that repeat), and
``ratio_maml`` / ``ratio_anil`` at the largest width.
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
    """Time every method at every width (resumable per width); store the summary with the ratios."""
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
    """Time per outer step at one width: seconds per method and the ratio to MTL (Stat over repeats)."""

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
    """What a cost summary stores (``schema.to_json``)."""

    rows: tuple[CostRow, ...]
    methods: tuple[str, ...]   # Method names timed, MTL first
    largest_width: int


@dataclasses.dataclass(frozen=True)
class CostSummary(Summary):
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
    """The typed view of a cost summary record."""
    return CostSummary(summary, schema.from_json(CostResult, summary["result"]))
