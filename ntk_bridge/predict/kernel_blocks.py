"""Kernel blocks the predictors need, each evaluated once, and the checks every entry point shares.

A predictor needs three kinds of blocks of a kernel function ``kernel_fn(x1, x2=None) -> Kernels``:

* the training Gram matrix, tile by tile (one call per pair of blocks of training tasks, see
  ``.assembly``: it is contracted into the outer kernel as it is computed, never stored whole);
* test points vs training points (one call per block of training tasks);
* per test task, ``(support, support)`` and ``(query, support)`` (two calls per task): the
  test-time inner loop never looks across test tasks, so no cross-task test block is built.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import validate
from ..kernels import Kernels
from ..tasks import TaskSet
from .inner_loop import Adaptation

KernelFn = Callable[..., Kernels]


def flat(x: np.ndarray) -> np.ndarray:
    """``(tasks, points, dim)`` -> ``(tasks * points, dim)``."""
    return x.reshape(-1, x.shape[-1])


def stacked_points(test: TaskSet) -> np.ndarray:
    """Every test point, task by task, support then query: ``(N_test * (s + q), dim)``."""
    return flat(np.concatenate([test.xs, test.xq], axis=1))


def per_task(kernel_fn: KernelFn, xa: np.ndarray, xb: np.ndarray | None = None) -> Kernels:
    """``K(xa_i, xb_i)`` for each task ``i`` (``xb=None``: ``K(xa_i, xa_i)``), ``(N, a, b)`` each."""
    blocks = [kernel_fn(xa[i]) if xb is None else kernel_fn(xa[i], xb[i]) for i in range(xa.shape[0])]
    return Kernels(np.stack([np.asarray(b.theta) for b in blocks]), np.stack([np.asarray(b.sigma) for b in blocks]))


def check_common(train: TaskSet | None, test: TaskSet, adapt: Adaptation, ridge) -> float:
    """One input check per public entry point; returns ``ridge`` as a float."""
    validate.instance("test", test, TaskSet)
    if train is not None:
        validate.instance("train", train, TaskSet)
        train.check_compatible(test, "test")
    validate.instance("adapt", adapt, Adaptation)
    return validate.nonnegative("ridge", ridge)


def check_times(t):
    """``t``: ``None``, a number ``>= 0``, or a 1-d sequence of them; returns ``(times, is_grid)``."""
    if t is None:
        return [None], False
    if isinstance(t, (list, tuple)) or getattr(t, "ndim", 0) == 1:
        times = [None if v is None else validate.nonnegative("each of t", v) for v in t]
        if not times:
            raise ValueError("t must be None, a number >= 0 or a non-empty sequence of them, got []")
        return times, True
    return [validate.nonnegative("t", t)], False
