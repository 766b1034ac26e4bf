"""A trained predictor as a function of outer training time: ``fn(t=None) -> (tasks, query, k)``.

Every closed form has the same last two stages (theory.md §3-4):

    coef(t)  = OuterSolve(K, r).coef(t)                    (M, k)
    f(x)     = rows(x) coef(t)                             initial function on the test points
    pred     = f(X') + K_in(X', X) T (Y - f(X))            test-time inner loop, per test task

Everything except ``coef(t)`` and two matrix products is computed once, when the predictor
is built; ``fn`` evaluated at many ``t`` reuses the factorization.
"""
from __future__ import annotations

import numpy as np

from .. import validate
from ..tasks import TaskSet
from .device import Backend, einsum, host
from .inner_loop import Adaptation, inner_operator
from .kernel_blocks import KernelFn, check_times, per_task
from .outer_solve import OuterSolve

INNER = ("head", "all")   # which parameters the test-time inner loop adapts: K_in = Sigma or Theta


class Finetune:
    """Test-time inner loop on each test task: ``f(X') + K_in(X', X) T (Y - f(X))``.

    Built once from the per-task blocks ``K_in(X, X)`` and ``K_in(X', X)``: ``A = K_in(X', X) T``
    ``(N, q, s)`` on the backend.
    """

    def __init__(self, kernel_fn: KernelFn, test: TaskSet, adapt: Adaptation, inner: str, be: Backend):
        validate.choice("inner", inner, INNER)
        k_ss = per_task(kernel_fn, test.xs)
        k_qs = per_task(kernel_fn, test.xq, test.xs)
        pick = (lambda k: k.sigma) if inner == "head" else (lambda k: k.theta)
        with be.scope():
            tt = inner_operator(be.put(pick(k_ss)), adapt)
            self.a = einsum(be.xp, "nqs,nst->nqt", be.put(pick(k_qs)), tt)
            self.ys = be.put(test.ys)
        self.n_support, self.xp = test.n_support, be.xp

    def __call__(self, f):
        """``f``: ``(N, s + q, k)``, the initial function on each test task's support then query."""
        f_s, f_q = f[:, :self.n_support], f[:, self.n_support:]
        return f_q + einsum(self.xp, "nqs,nsk->nqk", self.a, self.ys - f_s)


class Predictor:
    """``fn(t=None)``: predictions on the test queries after outer training time ``t``.

    ``t``: ``None`` (trained to convergence), a number ``>= 0``, or a sequence of them; a
    sequence gives ``(len(t), tasks, query, k)``, anything else ``(tasks, query, k)``.

    Args:
      be: the backend everything lives on.
      finetune: the test-time inner loop.
      solver: the outer solve, or ``None`` when the initial test function is zero whatever ``t``.
      rows: ``(N_test * (s + q), M)`` backend array with ``f = rows @ coef`` (``None`` with ``solver``).
      info: ``{"n_outer", "train_tasks"}`` (plus ``"cond"`` when ``solver`` is ``None``).
    """

    def __init__(self, be: Backend, finetune: Finetune, solver: OuterSolve | None, rows, out_dim: int, info: dict):
        self._be, self._finetune, self._solver, self._rows = be, finetune, solver, rows
        self._out_dim, self._info = out_dim, dict(info)

    @property
    def info(self) -> dict:
        """``{"cond", "n_outer", "train_tasks"}``; ``cond`` of the last factorization used."""
        return {"cond": self._solver.cond, **self._info} if self._solver is not None else dict(self._info)

    def __call__(self, t=None) -> np.ndarray:
        times, grid = check_times(t)
        with self._be.scope():
            preds = [host(self._at(ti)) for ti in times]
        return np.stack(preds) if grid else preds[0]

    def _at(self, t):
        ft = self._finetune
        n_test, n_points = ft.ys.shape[0], ft.ys.shape[1] + ft.a.shape[1]
        if self._solver is None:
            f = ft.xp.zeros((n_test, n_points, self._out_dim))
        else:
            f = (self._rows @ self._solver.coef(t)).reshape(n_test, n_points, -1)
        return ft(f)
