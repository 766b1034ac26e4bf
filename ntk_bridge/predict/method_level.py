"""The closed form of a training :class:`~ntk_bridge.methods.Method` (theory.md §3-4, §6)."""
from __future__ import annotations

from ..methods import parse
from ..tasks import TaskSet
from .inner_loop import Adaptation
from .kernel_blocks import KernelFn, check_times
from .meta_learning import gbml_predictor
from .multi_task import mtl_predictor, no_transfer_predictor
from .predictor import Predictor


def predictor(method, kernel_fn: KernelFn, train: TaskSet, test: TaskSet, *, adapt: Adaptation, ridge: float = 0.0,
              consume: bool = False, covariance: bool = False) -> Predictor:
    """``method``'s predictor ``fn(t)`` (and ``fn.cov(t)`` with ``covariance=True``): the one dispatch from a
    :class:`~ntk_bridge.methods.Method` (or its name) to the predictors.

    ``kernel_fn(x1, x2=None) -> Kernels`` (analytic: :func:`analytic` of a spec; empirical kernels
    give the exact linearized net).  A fresh random test head (``test_head="fresh"``) cannot see
    the body's change at infinite width, so its predictor is the no-transfer baseline with the
    method's test-time inner loop (theory.md §6).
    """
    m = parse(method)
    if m.kind == "none" or m.test_head == "fresh":
        return no_transfer_predictor(kernel_fn, test, adapt=adapt, inner=m.inner, covariance=covariance)
    if m.kind == "mtl":
        return mtl_predictor(kernel_fn, train, test, heads=m.heads, adapt=adapt, ridge=ridge, consume=consume,
                             covariance=covariance)
    return gbml_predictor(kernel_fn, train, test, algo=m.algo, adapt=adapt, split=m.split, ridge=ridge,
                          consume=consume, covariance=covariance)


def closed_form(method, kernel_fn: KernelFn, train: TaskSet, test: TaskSet, *, adapt: Adaptation,
                ridge: float = 0.0, t=None, return_info: bool = False):
    """The infinite-width prediction of ``method`` on ``test``'s queries, ``(tasks, query, out_dim)``
    (``(len(t), ...)`` for a sequence of ``t``), and with ``return_info`` the predictor's ``info``
    (``{"cond": None}`` without an outer solve); see :func:`predictor`."""
    fn = predictor(method, kernel_fn, train, test, adapt=adapt, ridge=ridge, consume=not check_times(t)[1])
    pred = fn(t)
    return (pred, fn.info or {"cond": None}) if return_info else pred
