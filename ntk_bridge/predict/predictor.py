"""A trained predictor as a function of outer training time: ``fn(t=None) -> (tasks, query, k)``.

Every closed form has the same last two stages (theory.md §3-4):

    coef(t)  = OuterSolve(K, r).coef(t)                    (M, k)
    f(x)     = rows(x) coef(t)                             initial function on the test points
    pred     = f(X') + K_in(X', X) T (Y - f(X))            test-time inner loop, per test task

Everything except ``coef(t)`` and two matrix products is computed once, when the predictor
is built; ``fn`` evaluated at many ``t`` reuses the factorization.

Built with the covariance parts (``Spread``), ``fn.cov(t)`` is the covariance over random
initial functions ``f0 ~ GP(0, Sigma)`` (theory.md §9).  Trained from ``f0`` on labels ``Y`` the
net moves as a centered one on ``Y - f0``, so the prediction is ``mean + u - R W(t) v`` with
``u = D f0(Z)`` (the test loop's linear part on the test points ``Z``, per task ``D = [-A, I]``),
``v = C f0(P)`` (the outer residual's part; ``C`` the row maps, ``I`` for MTL), ``R = D rows`` and
``W(t)`` the outer solve's operator.  With ``X = W(t)^T R^T`` (one solve with ``N_test q`` columns)::

    Cov = D Sigma(Z, Z) D^T - Cr X - X^T Cr^T + X^T Cov(v) X,     Cr = D Sigma(Z, P) C^T

kernel blocks of the sizes the mean already uses: no factor of the kernel on all points.  Per test task
(the default) only the tasks' own blocks of each term are formed (``Sigma`` per test task, as the test-time
loop uses); ``full=True`` forms every block, ``Sigma`` on all test points included.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import validate
from ..tasks import TaskSet
from .device import Backend, einsum, host
from .inner_loop import Adaptation, inner_operator
from .kernel_blocks import KernelFn, check_times, per_task, stacked_points
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

    def linear(self, f) -> np.ndarray:
        """``D f = f(X') - A f(X)`` on the host: the part of ``__call__`` linear in ``f (N (s + q), c)``
        (rows task by task, support then query), as ``(N q, c)``."""
        n, s = self.ys.shape[0], self.n_support
        f = np.asarray(host(f), dtype=np.float64)
        f = f.reshape(n, -1, f.shape[-1])
        return (f[:, s:] - np.matmul(host(self.a), f[:, :s])).reshape(-1, f.shape[-1])

    def congruence(self, k: np.ndarray) -> np.ndarray:
        """``D_j k_j D_j^T`` per test task for ``k (N, s + q, s + q)``: ``(N, q, q)`` on the host."""
        s, a = self.n_support, np.asarray(host(self.a), dtype=np.float64)
        rows = k[:, s:] - np.matmul(a, k[:, :s])                          # (N, q, s + q): D_j k_j
        return rows[:, :, s:] - np.matmul(rows[:, :, :s], a.transpose(0, 2, 1))


class Spread(NamedTuple):
    """What the covariance over initial functions needs beside the mean (theory.md §9), host float64.

    ``cov_v``: ``Cov(v) = C Sigma(P, P) C^T`` ``(M, M)`` (``None`` without an outer solve);
    ``rows``: ``Sigma(Z, P) C^T`` ``(N_test (s + q), M)``; ``kernel_fn`` and ``test``: for ``Sigma`` on the
    test points, per test task or (only for the whole covariance) on all of them.
    """

    cov_v: np.ndarray | None
    rows: np.ndarray | None
    kernel_fn: KernelFn
    test: TaskSet

    def test_sigma(self, full: bool) -> np.ndarray:
        """``Sigma(Z, Z)``: per test task ``(N_test, s + q, s + q)``, or on every test point (``full``)."""
        if full:
            return np.asarray(self.kernel_fn(stacked_points(self.test)).sigma, dtype=np.float64)
        z = np.concatenate([self.test.xs, self.test.xq], axis=1)
        return np.asarray(per_task(self.kernel_fn, z).sigma, dtype=np.float64)


class Predictor:
    """``fn(t=None)``: predictions on the test queries after outer training time ``t``.

    ``t``: ``None`` (trained to convergence), a number ``>= 0``, or a sequence of them; a
    sequence gives ``(len(t), tasks, query, k)``, anything else ``(tasks, query, k)``.

    Built by ``gbml_predictor``, ``mtl_predictor`` and ``closed_form``'s dispatch, not by hand.  Calling
    it computes ``f = rows @ coef(t)`` on every test point (zero without ``solver``), then
    ``finetune(f)``; ``fn.cov(t, full=False)`` gives the covariance over random initial functions
    (``(N_test, q, q)``, or ``(N_test q, N_test q)`` with ``full``; ``ValueError`` unless built with
    ``covariance=True``), ``fn.info`` the solve's condition number and sizes.

    Args:
      be: the backend everything lives on.
      finetune: the test-time inner loop.
      solver: the outer solve, or ``None`` when the initial test function is zero whatever ``t``.
      rows: ``(N_test * (s + q), M)`` backend array with ``f = rows @ coef`` (``None`` with ``solver``).
      out_dim: ``k``, the outputs (the zero function's width without ``solver``).
      info: ``{"n_outer", "train_tasks"}`` (plus ``"cond"`` when ``solver`` is ``None``).
      spread: the covariance parts (``cov``), or ``None``.

    Examples:
        >>> import numpy as np, ntk_bridge as nb
        >>> kernel_fn, adapt = nb.predict.analytic(nb.MLPSpec(depth=2)), nb.Adaptation(lr=0.1, steps=2)
        >>> train = nb.tasks.shared_feature(3, 4, 5, dim=4, seed=0)
        >>> test = nb.tasks.shared_feature(2, 4, 5, dim=4, seed=1)
        >>> fn = nb.predict.gbml_predictor(kernel_fn, train, test, adapt=adapt, covariance=True)
        >>> isinstance(fn, nb.predict.Predictor), fn(1.0).shape, fn([0.0, 1.0]).shape, sorted(fn.info)
        (True, (2, 5, 1), (2, 2, 5, 1), ['cond', 'n_outer', 'train_tasks'])
        >>> cov, whole = fn.cov(1.0), fn.cov(1.0, full=True)
        >>> cov.shape, whole.shape, bool(np.allclose(whole[:5, :5], cov[0]))     # 2 test tasks x 5 queries
        ((2, 5, 5), (10, 10), True)
        >>> nb.predict.mtl_predictor(kernel_fn, train, test, adapt=adapt).cov()
        Traceback (most recent call last):
        ...
        ValueError: this predictor was built without its covariance parts: pass covariance=True
    """

    def __init__(self, be: Backend, finetune: Finetune, solver: OuterSolve | None, rows, out_dim: int, info: dict,
                 spread: Spread | None = None):
        self._be, self._finetune, self._solver, self._rows = be, finetune, solver, rows
        self._out_dim, self._info, self._spread = out_dim, dict(info), spread

    @property
    def info(self) -> dict:
        """``{"cond", "n_outer", "train_tasks"}``; ``cond`` of the last factorization used."""
        return {"cond": self._solver.cond, **self._info} if self._solver is not None else dict(self._info)

    def __call__(self, t=None) -> np.ndarray:
        times, grid = check_times(t)
        with self._be.scope():
            preds = [host(self._at(ti)) for ti in times]
        return np.stack(preds) if grid else preds[0]

    def cov(self, t=None, full: bool = False) -> np.ndarray:
        """Covariance over random initial functions of the test predictions at one time ``t`` (the same for
        every output column; module docstring): per test task ``(N_test, q, q)``, or over every test query
        ``(N_test q, N_test q)`` with ``full`` (test tasks correlate through the shared training; it forms
        ``Sigma`` on all test points).  Needs the predictor built with ``covariance=True``."""
        if self._spread is None:
            raise ValueError("this predictor was built without its covariance parts: pass covariance=True")
        times, grid = check_times(t)
        if grid:
            raise ValueError(f"t must be None or one number >= 0 for the covariance, got a sequence {t!r}")
        ft, sp = self._finetune, self._spread
        n, q = ft.ys.shape[0], ft.a.shape[1]
        if full:
            d_test = ft.linear(ft.linear(sp.test_sigma(True)).T)                      # D Sigma(Z, Z) D^T
        else:
            d_test = ft.congruence(sp.test_sigma(False))                              # D_j Sigma(Z_j, Z_j) D_j^T
        if self._solver is None:
            return d_test
        with self._be.scope():
            r_t = ft.linear(self._rows).T                                             # R^T (M, N_test q)
            x = np.asarray(host(self._solver.apply(times[0], r_t, transpose=True)), dtype=np.float64)
        cr = ft.linear(sp.rows)                                                       # Cr (N_test q, M)
        y = sp.cov_v @ x                                                              # Cov(v) X
        if full:
            cross = cr @ x
            return d_test - cross - cross.T + x.T @ y
        xb, yb, crb = x.T.reshape(n, q, -1), y.T.reshape(n, q, -1), cr.reshape(n, q, -1)
        cross = np.einsum("nqm,npm->nqp", crb, xb)
        return d_test - cross - cross.transpose(0, 2, 1) + np.einsum("nqm,npm->nqp", xb, yb)

    def _at(self, t):
        ft = self._finetune
        n_test, n_points = ft.ys.shape[0], ft.ys.shape[1] + ft.a.shape[1]
        if self._solver is None:
            f = ft.xp.zeros((n_test, n_points, self._out_dim))
        else:
            f = (self._rows @ self._solver.coef(t)).reshape(n_test, n_points, -1)
        return ft(f)
