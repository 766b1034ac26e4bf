"""Ensembles of trained finite nets: the empirical predictive distribution over initializations (theory.md §9).

``ensemble(spec, train, test, method=..., seeds=64)`` trains one net per seed (uncentered by
default: each starts from its own random function, as nets are trained in practice) and returns
the sample mean ``(Nt, q, k)`` and each test task's sample covariance over its queries
``(Nt, q, q)`` (pooled over the output columns, which the infinite-width distribution treats
alike), the counterparts of ``nb.predict.distribution``'s ``mean`` and ``cov``.  Runs flagged as
having left the kernel regime or not converged are kept out (listed in ``excluded``) unless
``include_flagged``; every compilation is shared (one per shape), so seeds after the first cost
the training alone.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import validate
from ..errors import NotComputable


@dataclasses.dataclass(frozen=True)
class Ensemble:
    """The kept nets' predictions of an ensemble (``ensemble``), with their sample mean and covariance.

    Attributes:
      preds: ``(n, Nt, q, k)`` float64, the test-query predictions of the ``n`` kept nets.
      seeds: the kept nets' seeds, ``n`` ints in the order of ``preds``.
      excluded: ``(seed, reason)`` for every seed left out (not computable, left the kernel regime, not
        converged).

    Examples:
      >>> import numpy as np
      >>> from ntk_bridge.finite import Ensemble
      >>> preds = np.array([[[[1.0], [2.0]]], [[[3.0], [2.0]]]])        # 2 nets, 1 test task, 2 queries
      >>> e = Ensemble(preds, seeds=(0, 1), excluded=((2, "not converged"),))
      >>> e.mean[0, :, 0]
      array([2., 2.])
      >>> e.cov[0]                                                      # unbiased, over the 2 nets
      array([[2., 0.],
             [0., 0.]])
    """

    preds: np.ndarray
    seeds: tuple[int, ...]
    excluded: tuple[tuple[int, str], ...]

    @property
    def mean(self) -> np.ndarray:
        """``(Nt, q, k)``: the sample mean over the kept nets."""
        return self.preds.mean(axis=0)

    @property
    def cov(self) -> np.ndarray:
        """``(Nt, q, q)``: each test task's sample covariance over the kept nets, pooled over output columns."""
        n = self.preds.shape[0]
        if n < 2:
            raise ValueError(f"a sample covariance needs at least 2 kept nets, this ensemble has {n}")
        dev = self.preds - self.mean
        return np.einsum("itqk,itpk->tqp", dev, dev) / ((n - 1) * self.preds.shape[-1])


def ensemble(spec, train, test, *, method="anil", seeds=64, centered: bool = False, include_flagged: bool = False,
             progress: bool = False, **fit_kw) -> Ensemble:
    """Train one net per seed of ``seeds`` (an int ``n``: seeds ``0..n-1``, or a sequence) and collect them.

    ``fit_kw``: ``fit_predict`` options (``adapt``, ``outer_steps``, ``tol``, ...;
    not ``seed``, ``n_ensemble`` or ``return_info``).  A seed whose training is not computable is
    excluded with its reason (never included).

    Args:
      spec: the architecture.
      train: the training tasks (``TaskSet``).
      test: the test tasks.
      method: a ``Method`` or a name (``fit_predict``).
      seeds: an int ``n >= 1`` (seeds ``0..n-1``) or a sequence of ints ``>= 0``.
      centered: train centered nets (``False``, the default: each starts from its own random function).
      include_flagged: keep the nets that left the kernel regime (a loss step above ``RISE_TOL``) or did
        not converge (a not computable one is never kept).
      progress: show a progress bar over the seeds.

    Returns:
      ``Ensemble`` of the kept nets (``preds`` ``(n kept, test tasks, query, out_dim)`` float64).

    Raises:
      ValueError: ``fit_kw`` holding ``seed``, ``n_ensemble`` or ``return_info``; bad ``seeds``; no net kept;
        and ``fit_predict``'s for bad arguments.

    Examples:
      >>> import ntk_bridge as nb
      >>> train = nb.tasks.shared_feature(2, 3, 3, dim=3, seed=0)
      >>> test = nb.tasks.shared_feature(1, 3, 3, dim=3, seed=1)
      >>> e = nb.finite.ensemble(nb.MLPSpec(depth=1, width=64), train, test, method="mtl-shared", seeds=2,
      ...                        include_flagged=True, adapt=nb.Adaptation(lr=0.1, steps=2), outer_steps=200)
      >>> e.preds.shape, e.seeds, e.mean.shape, e.cov.shape
      ((2, 1, 3, 1), (0, 1), (1, 3, 1), (1, 3, 3))
      >>> nb.finite.ensemble(nb.MLPSpec(depth=1, width=64), train, test, seed=1)
      Traceback (most recent call last):
      ...
      ValueError: ensemble sets seed itself; pass seeds=... instead
    """
    from tqdm.auto import tqdm

    from .fit import fit_predict
    from .schedule import RISE_TOL

    for bad in ("seed", "n_ensemble", "return_info"):
        if bad in fit_kw:
            raise ValueError(f"ensemble sets {bad} itself; pass seeds=... instead")
    seeds = tuple(range(validate.integer("seeds", seeds, 1))) if isinstance(seeds, int) else tuple(seeds)
    for s in seeds:
        validate.integer("seeds", s, 0)
    validate.flag("include_flagged", include_flagged)
    preds, kept, excluded = [], [], []
    for s in tqdm(seeds, disable=not progress, desc=f"ensemble ({len(seeds)} nets)"):
        try:
            pred, info = fit_predict(spec, train, test, method=method, seed=s, centered=centered, return_info=True,
                                     **fit_kw)
        except NotComputable as exc:
            excluded.append((s, f"not computable: {exc}"))
            continue
        why = None
        if info["left_kernel_regime"]:
            why = f"left the kernel regime (a loss step above {RISE_TOL:g}x)"
        elif not info["converged"]:
            why = "not converged"
        if why is not None and not include_flagged:
            excluded.append((s, why))
            continue
        preds.append(pred)
        kept.append(s)
    if not preds:
        raise ValueError(f"no net of the ensemble was kept ({len(excluded)} excluded; first: {excluded[0][1]})")
    return Ensemble(np.stack(preds), tuple(kept), tuple(excluded))
