"""Pieces every experiment shares: the task configuration, seeds, validation, summaries."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from .. import store, validate
from ..kernels import Kernels, kernels
from ..predict import Adaptation
from ..spec import ConvSpec, MLPSpec
from ..tasks import CLASSIFICATION, FAMILIES, TaskSet, make

# A seed s draws its training tasks with task seed 2s and its test tasks with 2s + 1, from
# one world (world_seed), so test tasks are unseen but of the same family.
WORLD_SEED = 0


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """Which tasks an experiment trains and tests on.

    ``n_support``/``n_query`` are points per task; for ``clusters`` and ``digits`` they are
    points per class (``k_shot`` and query per class, ``n_way`` classes, set through
    ``options``).  ``options`` are extra keyword arguments of the family, as ``(name, value)``
    pairs.  ``digits`` draws training tasks from the pool ``train_classes`` (an option,
    default ``"train"``: digits 0-4) and test tasks from ``test_classes`` (default
    ``"test"``: 5-9), and never reuses a training image in the test tasks (disjoint pools
    share none anyway; overlapping ones, e.g. for ``labels="fixed"``, exclude them).
    """

    family: str = "shared-feature"
    n_train: int = 20
    n_test: int = 20
    n_support: int = 5
    n_query: int = 15
    options: tuple = ()

    def __post_init__(self):
        validate.choice("family", self.family, sorted(FAMILIES))
        for name in ("n_train", "n_test", "n_support", "n_query"):
            object.__setattr__(self, name, check_int(name, getattr(self, name)))
        object.__setattr__(self, "options", tuple((str(k), v) for k, v in dict(self.options).items()))

    def draw(self, seed: int) -> tuple[TaskSet, TaskSet]:
        """Training and unseen test tasks of task-sampling seed ``seed``."""
        kw = dict(self.options)
        kw.setdefault("world_seed", WORLD_SEED)
        if self.family in CLASSIFICATION:
            sizes = {"k_shot": self.n_support, "n_query": self.n_query}
        else:
            sizes = {"n_support": self.n_support, "n_query": self.n_query}
        if self.family == "digits":
            if "classes" in kw:
                raise ValueError("options: digits takes train_classes and test_classes here (one pool each for "
                                 "training and test tasks), not classes")
            train_pool, test_pool = kw.pop("train_classes", "train"), kw.pop("test_classes", "test")
            train = make(self.family, self.n_train, seed=2 * seed, classes=train_pool, **sizes, **kw)
            test = make(self.family, self.n_test, seed=2 * seed + 1, classes=test_pool, exclude=train, **sizes, **kw)
            return train, test
        train = make(self.family, self.n_train, seed=2 * seed, **sizes, **kw)
        test = make(self.family, self.n_test, seed=2 * seed + 1, **sizes, **kw)
        return train, test


def check_int(name: str, value: Any, low: int = 1) -> int:
    """``value`` as a plain ``int >= low`` (NumPy integers accepted), else ``ValueError`` naming ``name``."""
    return validate.integer(name, value, low)


def check_ints(name: str, values: Any, low: int = 1) -> tuple[int, ...]:
    """A non-empty tuple of integers ``>= low`` (a sweep axis), as plain ``int``."""
    if not isinstance(values, tuple):
        raise ValueError(f"{name} must be a non-empty tuple of integers, got {values!r}")
    return validate.integers(name, values, low)


def check_choice(name: str, value: Any, choices) -> Any:
    """``value`` if it is one of ``choices`` (``None`` may be one), else ``ValueError`` naming ``name``."""
    choices = tuple(choices)
    if value is not None and not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def point(config, **fields) -> dict:
    """A sweep point's full configuration: the sweep's settings (minus sweep axes) plus ``fields``."""
    base = store.to_jsonable(config)
    for axis in getattr(config, "AXES", ()):
        base.pop(axis, None)
    base.update(store.to_jsonable(fields))
    return base


def save_summary(root, experiment: str, config, records: list[dict], result: dict, start: float) -> dict:
    """Store the sweep's summary record: ``result`` plus the hashes of its point records.

    A summary is a function of its points: when the stored summary of this config was built
    from exactly these point records (their digests, ``point_digests``; its own seal intact)
    and holds exactly ``result`` (the same code made it), it is kept as it is (not rewritten),
    so a finished sweep reruns in a read-only results folder.  Otherwise it is rebuilt.  Which summary reports read is named
    apart (``ntk_bridge.selection``), never by date.
    """
    result = dict(result, points=list(dict.fromkeys(r["config_hash"] for r in records)))
    existing = store.get(root, experiment, config, kind="summary")
    if (existing is not None and existing["result"]["points"] == result["points"]
            and existing.get("point_digests") == {r["config_hash"]: r.get("digest") for r in records}
            and store.canonical(existing["result"]) == store.canonical(result)):
        return existing
    timings = {"total_s": time.perf_counter() - start,
               "points_compute_s": float(sum({r["config_hash"]: r["timings"]["total_s"] for r in records}.values()))}
    return store.save(root, experiment, config, result, timings=timings, kind="summary")


def stat(values) -> dict:
    """Mean, standard deviation and count of a list of numbers (over seeds)."""
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def spec_for(p: dict, train: TaskSet):
    """The infinite-width spec of point ``p``: ``MLPSpec(depth)``, or for ``p["arch"] == "conv"`` a
    ``ConvSpec(depth, pool=p["pool"])`` reading ``train``'s images (theory.md §11)."""
    if p.get("arch", "mlp") == "conv":
        return ConvSpec(depth=p["depth"], pool=p["pool"], out_dim=train.out_dim, image_shape=train.image_shape)
    return MLPSpec(depth=p["depth"], out_dim=train.out_dim)


def scaled_adaptation(kernel_fn, train: TaskSet, tau: float, steps: int) -> Adaptation:
    """``steps`` inner steps of size ``tau / (steps * lambda_max)``, ``lambda_max`` the largest eigenvalue of
    ``Theta`` on the first training task's data (support ∪ query): an inner loop of the same reach whatever
    the kernel's scale (a CNTK with pooling is ~100x smaller than the MLP's NTK on the same images)."""
    x0 = np.concatenate([train.xs[0], train.xq[0]])
    lam = float(np.linalg.eigvalsh(kernel_fn(x0).theta)[-1])
    return Adaptation(lr=tau / (steps * lam), steps=steps)


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
