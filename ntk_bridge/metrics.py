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
      a: predictions, any shape, e.g. ``(tasks, query, out_dim)`` (array-like, read as float64).
      b: the reference predictions, the shape of ``a``.

    Returns:
      ``float >= 0``: the relative Frobenius distance (0 where ``a == b``).

    Raises:
      ValueError: when ``a`` and ``b`` have different shapes, or ``b`` is identically zero.

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

    Below 1: ``a`` and ``b`` differ by less than what ``b`` transferred (theory.md §6).  Norms are
    Frobenius over all entries.

    Args:
      a: predictions of one method, e.g. ``(tasks, query, out_dim)``.
      b: predictions of the reference method, the shape of ``a``.
      c: the no-transfer baseline's predictions on the same points, the shape of ``a``.

    Returns:
      ``float >= 0``.

    Raises:
      ValueError: when ``a``, ``b`` and ``c`` do not all have one shape, or ``b == c`` (nothing was transferred).

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
    """Mean squared error over all test points and outputs: ``mean((pred - target)^2)``.

    Args:
      pred: predictions, any shape, e.g. ``(tasks, query, out_dim)``.
      target: the labels, the shape of ``pred``.

    Returns:
      ``float``: the mean over every entry (not the ``0.5 * sum`` training loss).

    Raises:
      ValueError: when ``pred`` and ``target`` have different shapes.

    Examples:
        >>> import ntk_bridge as nb
        >>> nb.metrics.mse([[1.0, 2.0]], [[1.0, 4.0]])
        2.0
    """
    pred, target = _pair(pred, target)
    return float(np.mean((pred - target) ** 2))


def accuracy(pred, target) -> float:
    """Fraction of points whose argmax output matches the target's (classification).

    ``mean(argmax(pred, -1) == argmax(target, -1))`` over every point: ties go to the first output.

    Args:
      pred: scores ``(..., out_dim)``, e.g. ``(tasks, query, n_way)``.
      target: one-hot (or centred one-hot) targets, the shape of ``pred``.

    Returns:
      ``float`` in ``[0, 1]``.

    Raises:
      ValueError: when ``pred`` and ``target`` have different shapes.

    Examples:
        >>> import ntk_bridge as nb
        >>> nb.metrics.accuracy([[0.9, 0.1], [0.2, 0.8]], [[1.0, 0.0], [1.0, 0.0]])
        0.5
    """
    pred, target = _pair(pred, target)
    return float(np.mean(np.argmax(pred, -1) == np.argmax(target, -1)))


def effective_rank(k) -> float:
    """Entropy effective rank of the normalized kernel ``C = K_ij / sqrt(K_ii K_jj)`` (Roy & Vetterli, 2007).

    ``exp(-sum_i p_i log p_i)``, ``p`` the eigenvalues of ``C`` (negative round-off clipped to 0) over their
    sum (``n`` points: ``n`` for ``C = I``, 1 for a constant ``C``).

    Args:
      k: ``(n, n)`` symmetric PSD kernel matrix with a positive diagonal (read as float64; the
        eigenvalues come from ``eigvalsh``, which reads one triangle: asymmetry is not detected).

    Returns:
      ``float`` in ``[1, n]``.

    Raises:
      ValueError: when ``k`` is not a non-empty square matrix, has a non-finite entry or a diagonal entry ``<= 0``.

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

    The line is fitted to each point's mean of ``log y`` over the seeds: ``log y = log c - r log x``.
    The bootstrap resamples seeds (rows) when there are several, else the points (pairs; draws with
    fewer than two distinct points are skipped); the interval is the ``(1 -+ level) / 2`` quantiles of
    the resampled ``r``.

    Args:
      x: ``(points,)`` positive abscissae (widths, depths, ...).
      y: ``(points,)`` or ``(seeds, points)`` positive, finite values.
      n_boot: bootstrap resamples, an integer ``>= 1``.
      seed: integer ``>= 0`` seeding ``numpy.random.default_rng`` for the bootstrap.
      level: the interval's coverage, in ``(0, 1)``.

    Returns:
      ``{"r": float, "c": float, "r_lo": float, "r_hi": float, "level": float}``: exponent, prefactor and
      the bootstrap interval of the exponent.

    Raises:
      ValueError: when there are fewer than 2 points, ``y`` is not ``(seeds, points)`` for ``x``'s points,
        an ``x`` is ``<= 0``, a ``y`` is ``<= 0`` or non-finite, or ``n_boot``, ``seed`` or ``level`` is out of range;
        when no resample of the points of a single seed drew two distinct points (tiny ``n_boot``).

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
    if not boots:  # one seed and every resample of the points drew a single distinct point
        raise ValueError(f"fit_power_law: none of the n_boot={n_boot} resamples of {x.size} points drew two distinct "
                         f"points; raise n_boot (or give several seeds)")
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return {"r": float(r), "c": float(c), "r_lo": float(lo), "r_hi": float(hi), "level": level}


def fit_width_exponent(groups, widths, y, keep, *, n_boot: int = 2000, seed: int = 0, level: float = 0.9) -> dict:
    """Fit ``y ~ c_g n^-b``: one width exponent ``b``, one constant per group ``g`` (e.g. per depth).

    Least squares in log-log, ``log y = log c_g - b log n``, on each point's mean of ``log y`` over
    its kept seeds (points with no kept seed are left out, and so are groups left without a point);
    the bootstrap resamples seeds (rows), and with a single seed the interval is the point itself.

    Args:
      groups: ``(points,)`` group label of each point (any hashable, e.g. the depth).
      widths: ``(points,)`` positive widths ``n``.
      y: ``(seeds, points)`` (or ``(points,)``: one seed) values, positive where kept.
      keep: ``(seeds, points)`` booleans: which values enter the fit.
      n_boot: bootstrap resamples, an integer ``>= 1``.
      seed: seeds ``numpy.random.default_rng`` for the bootstrap.
      level: the interval's coverage, in ``(0, 1)``.

    Returns:
      ``{"b": float, "b_lo": float, "b_hi": float, "level": float, "groups": {g: c_g}}`` (``c_g`` only for
      the groups with a kept point).

    Raises:
      ValueError: when a kept ``y`` is not ``> 0``, no group holds two widths with a kept value, or
        ``n_boot`` or ``level`` is out of range.

    Examples:
        Two depths on one exact law ``c_g n^-0.5``: one exponent, one constant each.

        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> groups, widths = ["L1", "L1", "L2", "L2"], np.array([16.0, 64.0, 16.0, 64.0])
        >>> y = np.array([2.0, 2.0, 5.0, 5.0]) * widths ** -0.5
        >>> fit = nb.metrics.fit_width_exponent(groups, widths, np.stack([y, y]), np.ones((2, 4), bool), n_boot=20)
        >>> round(fit["b"], 10), {g: round(c, 10) for g, c in fit["groups"].items()}
        (0.5, {'L1': 2.0, 'L2': 5.0})
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

    Args:
      x: ``(points,)`` positive abscissae.
      y: ``(seeds, points)`` values, positive where kept.
      keep: ``(seeds, points)`` booleans: which values enter the fit.
      n_boot: bootstrap resamples (``fit_power_law``'s, whose ``seed=0`` and ``level=0.9`` it uses).

    Returns:
      ``fit_power_law``'s dict (``"r", "c", "r_lo", "r_hi", "level"``), plus ``"excluded"`` (int: left-out
      values) and ``"interval"`` (str) when some value is left out; ``None`` when fewer than two points
      have a kept value.

    Raises:
      ValueError: propagated from ``fit_power_law`` (a kept non-positive value, bad ``n_boot``, ...).

    Examples:
        One of eight values left out of an exact law ``3 x^-0.5``; with a single kept point, no fit:

        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> x = np.array([1.0, 2.0, 4.0, 8.0])
        >>> y, keep = np.stack([3.0 * x ** -0.5] * 2), np.ones((2, 4), bool)
        >>> keep[1, 2] = False
        >>> fit = nb.metrics.fit_power_law_kept(x, y, keep, n_boot=20)
        >>> round(fit["r"], 10), round(fit["c"], 10), fit["excluded"]
        (0.5, 3.0, 1)
        >>> only_first = np.zeros((2, 4), bool)
        >>> only_first[:, 0] = True
        >>> print(nb.metrics.fit_power_law_kept(x, y, only_first, n_boot=20))
        None
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
