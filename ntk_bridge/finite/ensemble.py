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
    """``preds``: ``(n, Nt, q, k)`` of the kept nets; ``seeds``: theirs; ``excluded``: ``(seed, reason)``."""

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
    excluded with its reason (never included).  Raises ``ValueError`` when no net is kept.
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
