"""The closed form of a training :class:`~ntk_bridge.methods.Method` (theory.md §3-4, §6)."""
from __future__ import annotations

from ..methods import parse
from ..tasks import TaskSet
from .inner_loop import Adaptation
from .kernel_blocks import KernelFn
from .meta_learning import gbml_from_kernels
from .multi_task import mtl_from_kernels, no_transfer_from_kernels


def closed_form(method, kernel_fn: KernelFn, train: TaskSet, test: TaskSet, *, adapt: Adaptation,
                ridge: float = 0.0, t=None, return_info: bool = False):
    """The infinite-width prediction of ``method`` on ``test``'s queries, ``(tasks, query, out_dim)``.

    The one dispatch from a :class:`~ntk_bridge.methods.Method` (or its name) to the predictors.
    ``kernel_fn(x1, x2=None) -> Kernels`` (analytic: :func:`analytic` of a spec; empirical kernels
    give the exact linearized net).  A fresh random test head (``test_head="fresh"``) cannot see
    the body's change at infinite width, so its mean predictor is the no-transfer baseline with
    the method's test-time inner loop (theory.md §6).
    """
    m = parse(method)
    if m.kind == "none" or m.test_head == "fresh":
        pred = no_transfer_from_kernels(kernel_fn, test, adapt=adapt, inner=m.inner)
        return (pred, {"cond": None}) if return_info else pred
    if m.kind == "mtl":
        return mtl_from_kernels(kernel_fn, train, test, heads=m.heads, adapt=adapt, ridge=ridge, t=t,
                                return_info=return_info)
    return gbml_from_kernels(kernel_fn, train, test, algo=m.algo, adapt=adapt, split=m.split, ridge=ridge, t=t,
                             return_info=return_info)
