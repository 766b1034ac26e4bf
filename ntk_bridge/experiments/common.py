"""Pieces every experiment shares: the task configuration, seeds, validation, summaries."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from .. import store
from ..kernels import Kernels, kernels
from ..tasks import FAMILIES, TaskSet, make

# A seed s draws its training tasks with task seed 2s and its test tasks with 2s + 1, from
# one world (world_seed), so test tasks are unseen but of the same family.
WORLD_SEED = 0


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """Which tasks an experiment trains and tests on.

    ``n_support``/``n_query`` are points per task; for ``clusters`` they are points per
    class (``k_shot`` and query per class, ``n_way`` classes, set through ``options``).
    ``options`` are extra keyword arguments of the family, as ``(name, value)`` pairs.
    """

    family: str = "shared-feature"
    n_train: int = 20
    n_test: int = 20
    n_support: int = 5
    n_query: int = 15
    options: tuple = ()

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {self.family!r}")
        for name in ("n_train", "n_test", "n_support", "n_query"):
            check_int(name, getattr(self, name))
        object.__setattr__(self, "options", tuple((str(k), v) for k, v in dict(self.options).items()))

    def draw(self, seed: int) -> tuple[TaskSet, TaskSet]:
        """Training and unseen test tasks of task-sampling seed ``seed``."""
        kw = dict(self.options)
        kw.setdefault("world_seed", WORLD_SEED)
        if self.family == "clusters":
            sizes = {"k_shot": self.n_support, "n_query": self.n_query}
        else:
            sizes = {"n_support": self.n_support, "n_query": self.n_query}
        train = make(self.family, self.n_train, seed=2 * seed, **sizes, **kw)
        test = make(self.family, self.n_test, seed=2 * seed + 1, **sizes, **kw)
        return train, test


def check_int(name: str, value: Any, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def check_ints(name: str, values: Any, low: int = 1) -> None:
    if not isinstance(values, tuple) or not values:
        raise ValueError(f"{name} must be a non-empty tuple of integers, got {values!r}")
    for v in values:
        check_int(f"each of {name}", v, low)


def check_choice(name: str, value: Any, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def point(config, **fields) -> dict:
    """A sweep point's full configuration: the sweep's settings (minus sweep axes) plus ``fields``."""
    base = store.to_jsonable(config)
    for axis in getattr(config, "AXES", ()):
        base.pop(axis, None)
    base.update(store.to_jsonable(fields))
    return base


def save_summary(root, experiment: str, config, records: list[dict], result: dict, start: float) -> dict:
    """Store the sweep's summary record: ``result`` plus the hashes of its point records."""
    result = dict(result, points=list(dict.fromkeys(r["config_hash"] for r in records)))
    timings = {"total_s": time.perf_counter() - start,
               "points_compute_s": float(sum({r["config_hash"]: r["timings"]["total_s"] for r in records}.values()))}
    return store.save(root, experiment, config, result, timings=timings, kind="summary")


def stat(values) -> dict:
    """Mean, standard deviation and count of a list of numbers (over seeds)."""
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def kernel_table(spec, *task_sets: TaskSet, backend: str = "native"):
    """A kernel function ``(x1, x2=None) -> Kernels`` over the points of ``task_sets``, computed once.

    The predictors call their kernel function several times on overlapping point sets;
    kernel values of a pair do not depend on the other points, so one Gram matrix over
    every point serves them all (looked up by the points' bytes).
    """
    pts = np.concatenate([np.concatenate([t.xs, t.xq], axis=1).reshape(-1, t.dim) for t in task_sets])
    pts = np.unique(pts, axis=0)
    full = kernels(spec, pts, backend=backend)
    index = {row.tobytes(): i for i, row in enumerate(pts)}

    def rows(x):
        try:
            return np.array([index[r.tobytes()] for r in np.asarray(x, dtype=np.float64)])
        except KeyError:
            raise ValueError("kernel_table: a point outside the task sets it was built from") from None

    def kernel_fn(x1, x2=None) -> Kernels:
        i1 = rows(x1)
        i2 = i1 if x2 is None else rows(x2)
        return Kernels(full.theta[np.ix_(i1, i2)], full.sigma[np.ix_(i1, i2)])

    return kernel_fn


def checkout_module(name: str):
    """Import ``name`` (``figures``, ``benchmarks.train_cost``) from the source checkout holding ntk_bridge.

    Raises ``ModuleNotFoundError`` naming the checkout when it is not there (an installed wheel).
    """
    import importlib
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    top = name.split(".")[0]
    if not (repo / top).is_dir():
        raise ModuleNotFoundError(f"{top}/ is not next to ntk_bridge in {repo}: run from a source checkout", name=top)
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    return importlib.import_module(name)
