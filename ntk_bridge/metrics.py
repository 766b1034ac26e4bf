"""Gaps between predictors and power-law fits with bootstrap intervals (contract section 6)."""
from __future__ import annotations

import numpy as np

from . import validate


def _pair(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"predictions must have the same shape, got {a.shape} and {b.shape}")
    return a, b


def rel_gap(a, b) -> float:
    """``||a - b|| / ||b||``, Frobenius over all test points.

    Args:
      a, b: predictions of one shape, e.g. ``(tasks, query, out_dim)``; ``b`` is the reference.

    Returns:
      float.

    Raises:
      ValueError: different shapes, or ``b`` identically zero.

    Examples:
        >>> import ntk_bridge as nb
        >>> nb.metrics.rel_gap([[3.0, 4.0]], [[0.0, 4.0]])          # ||(3, 0)|| / ||(0, 4)||
        0.75
    """
    a, b = _pair(a, b)
    denom = np.linalg.norm(b)
    if denom == 0:
        raise ValueError("rel_gap: the reference prediction b is identically zero")
    return float(np.linalg.norm(a - b) / denom)


def normalized_gap(a, b, c) -> float:
    """Transfer-normalized gap ``||a - b|| / ||b - c||`` (``c``: the no-transfer baseline).

    Below 1: ``a`` and ``b`` differ by less than what ``b`` transferred (theory.md §6).

    Raises:
      ValueError: different shapes, or ``b == c`` (nothing was transferred).

    Examples:
        >>> import ntk_bridge as nb
        >>> nb.metrics.normalized_gap([1.0, 2.0], [1.0, 3.0], [1.0, 5.0])
        0.5
    """
    a, b = _pair(a, b)
    _, c = _pair(a, c)
    denom = np.linalg.norm(b - c)
    if denom == 0:
        raise ValueError("normalized_gap: b equals the no-transfer baseline c, nothing was transferred")
    return float(np.linalg.norm(a - b) / denom)


def mse(pred, target) -> float:
    """Mean squared error over all test points and outputs.

    Examples:
        >>> import ntk_bridge as nb
        >>> nb.metrics.mse([[1.0, 2.0]], [[1.0, 4.0]])
        2.0
    """
    pred, target = _pair(pred, target)
    return float(np.mean((pred - target) ** 2))


def accuracy(pred, target) -> float:
    """Fraction of points whose argmax output matches the target's (classification).

    Examples:
        >>> import ntk_bridge as nb
        >>> nb.metrics.accuracy([[0.9, 0.1], [0.2, 0.8]], [[1.0, 0.0], [1.0, 0.0]])
        0.5
    """
    pred, target = _pair(pred, target)
    return float(np.mean(np.argmax(pred, -1) == np.argmax(target, -1)))


def effective_rank(k) -> float:
    """Entropy effective rank of the normalized kernel ``C = K_ij / sqrt(K_ii K_jj)`` (Roy & Vetterli, 2007):
    ``exp(-sum_i p_i log p_i)``, ``p`` its eigenvalues over their sum (``n`` points: ``n`` for ``C = I``, 1 for
    a constant ``C``).  ``k``: ``(n, n)`` symmetric PSD with a positive diagonal; float64.

    Examples:
        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> round(nb.metrics.effective_rank(np.eye(3)), 12), round(nb.metrics.effective_rank(np.ones((3, 3))), 12)
        (3.0, 1.0)
    """
    k = np.asarray(k, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] < 1:
        raise ValueError(f"effective_rank needs a square kernel matrix, got shape {k.shape}")
    d = np.diag(k)
    if not np.all(np.isfinite(k)) or np.any(d <= 0):
        raise ValueError("effective_rank needs a finite kernel with a positive diagonal")
    e = np.clip(np.linalg.eigvalsh(k / np.sqrt(np.outer(d, d))), 0.0, None)
    p = e[e > 0] / e.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def fit_power_law(x, y, *, n_boot: int = 2000, seed: int = 0, level: float = 0.9) -> dict:
    """Fit ``y ~ c * x^-r`` by least squares in log-log, with a bootstrap interval for ``r``.

    ``y`` is ``(points,)`` or ``(seeds, points)``; the bootstrap resamples seeds when there
    are several, else the points (pairs).  Returns ``{"r", "c", "r_lo", "r_hi", "level"}``.

    Raises:
      ValueError: fewer than 2 points, mismatched shapes, non-positive or non-finite values, bad
        ``n_boot``, ``seed`` or ``level``.

    Examples:
        An exact power law is fitted exactly:

        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> depths = np.array([1.0, 2.0, 4.0, 8.0])
        >>> fit = nb.metrics.fit_power_law(depths, 3.0 * depths ** -0.5, n_boot=50)
        >>> round(fit["r"], 10), round(fit["c"], 10)
        (0.5, 3.0)
    """
    n_boot = validate.integer("n_boot", n_boot, 1)
    seed = validate.integer("seed", seed, 0)
    level = validate.real("level", level, 0.0, 1.0, low_open=True, high_open=True)
    x = np.asarray(x, dtype=np.float64)
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    if y.shape[1] != x.size or x.size < 2:
        raise ValueError(f"fit_power_law needs >= 2 points and y (seeds, {x.size}), got y {y.shape}")
    if np.any(x <= 0) or np.any(y <= 0) or not np.all(np.isfinite(y)):
        raise ValueError("fit_power_law needs positive, finite x and y")
    lx = np.log(x)

    def fit(rows, cols):
        ly = np.log(y[np.ix_(rows, cols)]).mean(axis=0)
        slope, icpt = np.polyfit(lx[cols], ly, 1)
        return -slope, np.exp(icpt)

    rows_all, cols_all = np.arange(y.shape[0]), np.arange(x.size)
    r, c = fit(rows_all, cols_all)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        if y.shape[0] > 1:
            boots.append(fit(rng.integers(0, y.shape[0], y.shape[0]), cols_all)[0])
        else:
            cols = rng.integers(0, x.size, x.size)
            if np.unique(cols).size >= 2:
                boots.append(fit(rows_all, cols)[0])
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return {"r": float(r), "c": float(c), "r_lo": float(lo), "r_hi": float(hi), "level": level}


def fit_width_exponent(groups, widths, y, keep, *, n_boot: int = 2000, seed: int = 0, level: float = 0.9) -> dict:
    """Fit ``y ~ c_g n^-b``: one width exponent ``b``, one constant per group ``g`` (e.g. per depth).

    ``groups``, ``widths``: ``(points,)``; ``y``, ``keep``: ``(seeds, points)``.  Least squares in
    log-log on each point's mean of ``log y`` over its kept seeds; the bootstrap resamples seeds.
    Returns ``{"b", "b_lo", "b_hi", "level", "groups": {g: c_g}}``.  Raises ``ValueError`` without a
    group holding two widths with a kept value, or for a kept ``y <= 0``.
    """
    n_boot = validate.integer("n_boot", n_boot, 1)
    level = validate.real("level", level, 0.0, 1.0, low_open=True, high_open=True)
    groups, ln = list(groups), np.log(np.asarray(widths, dtype=np.float64))
    y, keep = np.atleast_2d(np.asarray(y, dtype=np.float64)), np.atleast_2d(np.asarray(keep, dtype=bool))
    if np.any(keep & ~(y > 0)):
        raise ValueError("fit_width_exponent needs positive kept values")
    ly = np.where(keep, np.log(np.where(keep, y, 1.0)), 0.0)
    names = list(dict.fromkeys(groups))

    def fit(rows):
        k = keep[rows].sum(0)
        cols = np.flatnonzero(k > 0)
        mean = ly[rows].sum(0)[cols] / k[cols]
        design = np.zeros((cols.size, len(names) + 1))
        design[:, 0] = -ln[cols]
        for j, c in enumerate(cols):
            design[j, 1 + names.index(groups[c])] = 1.0
        used = design[:, 1:].any(0)
        sol = np.linalg.lstsq(design[:, np.r_[True, used]], mean, rcond=None)[0]
        return sol[0], dict(zip([g for g, u in zip(names, used) if u], np.exp(sol[1:])))

    spread = [len({ln[c] for c in range(len(groups)) if groups[c] == g and keep[:, c].any()}) for g in names]
    if max(spread, default=0) < 2:
        raise ValueError("fit_width_exponent needs a group with two widths holding kept values")
    b, consts = fit(np.arange(y.shape[0]))
    rng = np.random.default_rng(seed)
    boots = [fit(rng.integers(0, y.shape[0], y.shape[0]))[0] for _ in range(n_boot)] if y.shape[0] > 1 else [b]
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return {"b": float(b), "b_lo": float(lo), "b_hi": float(hi), "level": level,
            "groups": {g: float(c) for g, c in consts.items()}}


def fit_power_law_kept(x, y, keep, *, n_boot: int = 2000) -> dict | None:
    """``fit_power_law`` over the kept points only (``y``, ``keep``: ``(seeds, points)``).

    Every point kept: ``fit_power_law`` (bootstrap over seeds).  Some left out: the fit of
    each point's geometric mean over its kept seeds (the same point estimate; the interval then
    resamples the points) over the points with a kept seed, with ``"excluded"`` (how many were
    left out) and ``"interval"`` added; ``None`` below two such points.
    """
    keep = np.asarray(keep, dtype=bool)
    if keep.all():
        return fit_power_law(x, y, n_boot=n_boot)
    cols = keep.any(axis=0)
    if cols.sum() < 2:
        return None
    logs = np.where(keep, np.log(np.where(keep, y, 1.0)), 0.0)
    geo = np.exp(logs[:, cols].sum(0) / keep[:, cols].sum(0))
    fit = fit_power_law(np.asarray(x)[cols], geo[None], n_boot=n_boot)
    return dict(fit, excluded=int((~keep).sum()), interval="bootstrap over widths (some seeds excluded)")
