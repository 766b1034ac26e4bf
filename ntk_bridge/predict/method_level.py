"""The closed form of a training ``Method`` (theory.md §3-4, §6)."""
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
    ``Method`` (or its name) to the predictors.

    ``kernel_fn(x1, x2=None) -> Kernels`` (analytic: ``analytic`` of a spec; empirical kernels
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
    """The infinite-width prediction of ``method`` on ``test``'s queries: the one dispatch to the closed forms.

    GBML (theory.md §3): ``f(x) = psi(x) Phi^{-1} (I - e^{-t Phi}) (Y' - F_0)`` with the meta-NTK ``Phi``,
    then each test task's inner loop; MTL (§4): kernel regression with the MTL kernel on every training
    point, then the head's inner loop; no transfer (§6): the inner loop from the zero function,
    ``Sigma(X', X) Sigma^{-1} (I - (I - lr Sigma)^s) Y`` per test task.

    Args:
      method: a ``Method`` or its name (``"anil-same"``, ``"mtl-shared"``,
        ``"maml"``, ``"no-transfer"``, ...; ``parse``).
      kernel_fn: ``(x1, x2=None) -> Kernels(theta, sigma)``, e.g. ``analytic`` of a spec, or the
        empirical kernels of a finite net (then the exact predictions of its linearization).
      train: the training ``TaskSet`` (not read by no transfer and fresh-head methods).
      test: the test ``TaskSet``, of ``train``'s input and output dimension.
      adapt: the inner loop (``Adaptation``), at meta-training and at test time.
      ridge: added to the diagonal of the outer kernel (meta-NTK or MTL kernel).
      t: outer training time: ``None`` (to convergence), a number ``>= 0`` or a sequence of them.
      return_info: also return the predictor's ``info``.

    Returns:
      ``(test tasks, query, out_dim)`` float64 (``(len(t), test tasks, query, out_dim)`` for a sequence
      of ``t``); with ``return_info`` also ``{"cond", "n_outer", "train_tasks"}`` (``{"cond": None}``
      without an outer solve).

    Raises:
      NotComputable: a diverging inner loop, a singular or ill-conditioned outer kernel (try ``ridge``),
        a first-order MAML whose meta-training does not converge.
      ValueError: naming the bad argument.

    Examples:
        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> train = nb.tasks.shared_feature(4, 3, 4, dim=4, seed=0)
        >>> test = nb.tasks.shared_feature(2, 3, 4, dim=4, seed=1)
        >>> kernel_fn = nb.predict.analytic(nb.MLPSpec(depth=2))
        >>> adapt = nb.Adaptation(lr=0.1, steps=5)
        >>> anil = nb.predict.closed_form("anil-same", kernel_fn, train, test, adapt=adapt)
        >>> anil.shape
        (2, 4, 1)
        >>> both = nb.predict.closed_form("anil-same", kernel_fn, train, test, adapt=adapt, t=[0.0, None])
        >>> both.shape
        (2, 2, 4, 1)
        >>> bool(np.allclose(both[1], anil))
        True

        At ``t = 0`` nothing was meta-trained: the prediction is no transfer's.

        >>> base = nb.predict.closed_form("no-transfer", kernel_fn, train, test, adapt=adapt)
        >>> bool(np.allclose(both[0], base))
        True
    """
    fn = predictor(method, kernel_fn, train, test, adapt=adapt, ridge=ridge, consume=not check_times(t)[1])
    pred = fn(t)
    return (pred, fn.info or {"cond": None}) if return_info else pred
