"""Blocked, in-place assembly of the outer kernels (meta-NTK, MTL kernel) and the test rows.

Every outer kernel of theory.md §3-4 is a congruence of the training Gram matrix by a
block-diagonal matrix, one small block per task::

    Phi_ij  = C_i Theta(P_i, P_j) C_j^T        C_i = [-A_i^T, I_q] (disjoint) or I - A_i^T (same)
    Psi_ij  = C_i Theta(P_i, P_j) E^T          first-order MAML; E picks the outer points of a task
    psi(x)_j = Theta(x, P_j) C_j^T              (FOMAML: Theta(x, P_j) E^T)
    Theta_MTL(D_i, D_j) = Theta(D_i, D_j) - [i != j] Sigma(D_i, D_j)

with ``P_i`` the points of task ``i`` (inner then outer set; ``D_i`` once for ``split="same"``)
and ``A_i = T_i K_in(X_i, X'_i)`` from the task's own block of the Gram matrix.  So the
``(N p, N p)`` Gram matrix never has to exist: the tasks are cut into blocks of about
``BLOCK_POINTS`` points, the kernel function is called once per pair of task blocks
(the diagonal pairs symmetrically: every kernel entry evaluated once), and each tile is
contracted with its tasks' ``C`` straight into one preallocated float64 output.  Symmetric
outputs are written in their lower triangle only (the upper one is left zero); the NumPy
solve of ``OuterSolve`` reads only that triangle, ``mirror_lower`` fills the upper
one in place where a full matrix is needed (JAX, the public ``meta_ntk``).

Memory: the output plus a few tiles (two threads, each ``~ 4 * BLOCK_POINTS^2`` floats); no
``(N p)^2`` temporary.  Tiles are computed by two threads (NumPy and the kernel functions
release the GIL); the diagonal tiles first, since they give ``A`` of their tasks.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from .inner_loop import Adaptation
from .kernel_blocks import KernelFn

BLOCK_POINTS = 1024   # points per task block: two tiles of 1024^2 float64 (8 MiB each) per thread
ROW_CHUNK = 2048      # rows per chunk of the in-place passes over an (M, M) matrix (temporaries ~ 2048 x M)


def task_blocks(n_tasks: int, points_per_task: int, block_points: int | None = None) -> list[slice]:
    """Consecutive task ranges of about ``block_points`` points each (at least one task per block)."""
    size = max(1, (BLOCK_POINTS if block_points is None else block_points) // points_per_task)
    return [slice(i, min(i + size, n_tasks)) for i in range(0, n_tasks, size)]


def _workers() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, 2))


def _run(fn, items) -> list:
    """``[fn(item) for item in items]`` on up to two threads; the first exception cancels the rest and is raised."""
    items = list(items)
    if len(items) <= 1 or _workers() == 1:
        return [fn(item) for item in items]
    pool = ThreadPoolExecutor(_workers())
    try:
        return list(pool.map(fn, items))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def congruence(th: np.ndarray, left: np.ndarray | None, right: np.ndarray) -> np.ndarray:
    """``blockdiag(left) @ th @ blockdiag(right)^T`` for a tile ``th (na p, nb p)``.

    Args:
      th: ``(na * p, nb * p)`` tile (rows: ``na`` tasks of ``p`` points; columns: ``nb`` tasks).
      left: ``(na, qa, p)`` or ``None`` (identity: rows kept as they are, ``qa = p``).
      right: ``(nb, qb, p)``.
    Returns:
      ``(na * qa, nb * qb)`` float64, a fresh tile-sized array.
    """
    nb, qb, p = right.shape
    if left is not None:
        na, qa, _ = left.shape
        th = np.matmul(left, th.reshape(na, p, nb * p)).reshape(na * qa, nb * p)   # (na qa, nb p)
    rows = th.shape[0]
    out = np.matmul(th.reshape(rows, nb, p).transpose(1, 0, 2), right.transpose(0, 2, 1))   # (nb, rows, qb)
    return out.transpose(1, 0, 2).reshape(rows, nb * qb)


def mirror_lower(k: np.ndarray) -> np.ndarray:
    """Copy the strict lower triangle of the square ``k`` into its upper triangle, in place; returns ``k``."""
    n = k.shape[0]
    for i in range(0, n, ROW_CHUNK):
        rows = slice(i, min(i + ROW_CHUNK, n))
        k[:i, rows] = k[rows, :i].T                              # the blocks left of the diagonal chunk
        tile = k[rows, rows]
        upper = np.triu_indices(tile.shape[0], 1)
        tile[upper] = tile.T[upper]
    return k


def points(x_in: np.ndarray, x_out: np.ndarray, same: bool) -> np.ndarray:
    """``P``: ``(N, p, d)``, each task's inner then outer points (``D_i`` once for ``split="same"``)."""
    return x_in if same else np.concatenate([x_in, x_out], axis=1)


def row_maps(a: np.ndarray, p: int, *, same: bool, first_order: bool) -> np.ndarray:
    """Each task's ``C_i`` ``(N, q, p)`` from ``A (N, s, q)``: ``[-A_i^T, I_q]`` (disjoint), ``I - A_i^T`` (same);
    first-order MAML: the selector ``E = [0, I_q]`` of the outer points (``I`` for ``split="same"``)."""
    n, s, q = a.shape
    select = np.broadcast_to(np.eye(p)[p - q:], (n, q, p))
    if first_order:
        return np.array(select)
    if same:
        return select - a.transpose(0, 2, 1)
    c = np.empty((n, q, p))
    c[:, :, :s], c[:, :, s:] = -a.transpose(0, 2, 1), np.eye(q)
    return c


def meta_blocks(kernel_fn: KernelFn, x_in: np.ndarray, x_out: np.ndarray, y_in: np.ndarray, *, algo: str,
                adapt: Adaptation, same: bool, lower_only: bool, inner_operator: Callable,
                block_points: int | None = None, sigma: bool = False):
    """Blocked meta-NTK of theory.md §3: ``(phi (N q, N q), a (N, s, q), f0 (N, q, k), phi_sigma)``.

    ``phi`` is ``Phi`` (its lower triangle only when ``lower_only``) or, for ``algo="fomaml"``,
    the full non-symmetric ``Psi``.  ``inner_operator(K, adapt) -> T`` (``.inner_loop.inner_operator``)
    is called once per block of tasks.  ``sigma=True`` also gives ``phi_sigma = C Sigma(P, P) C^T``
    (full, ``C`` the non-first-order row maps whatever ``algo``: the covariance of the outer residual's
    part ``C f0(P)`` under a random initial function, theory.md §9) from the same kernel calls; else ``None``.
    """
    n, s, q = x_in.shape[0], x_in.shape[1], x_out.shape[1]
    pts = points(x_in, x_out, same)
    p, dim = pts.shape[1], pts.shape[2]
    anil, first_order = algo == "anil", algo == "fomaml"
    blocks = task_blocks(n, p, block_points)
    phi = np.zeros((n * q, n * q))
    phi_sigma = np.zeros((n * q, n * q)) if sigma else None
    a = np.empty((n, s, q))
    left = np.empty((n, q, p))                                        # C_i
    right = left if not first_order else row_maps(a, p, same=same, first_order=True)   # C_j, or E

    def diagonal(blk: slice):
        k = kernel_fn(pts[blk].reshape(-1, dim))
        nb = blk.stop - blk.start
        own = np.arange(nb)
        k_in = np.asarray(k.sigma if anil else k.theta).reshape(nb, p, nb, p)[own, :, own]   # (nb, p, p) per task
        t_op = inner_operator(np.ascontiguousarray(k_in[:, :s, :s]), adapt)
        a[blk] = np.matmul(t_op, k_in[:, :s, p - q:])                                      # A_i = T_i K_in(X_i, X'_i)
        left[blk] = row_maps(a[blk], p, same=same, first_order=False)
        rows = slice(blk.start * q, blk.stop * q)
        tile = congruence(np.asarray(k.theta), left[blk], right[blk])
        phi[rows, rows] = np.tril(tile) if lower_only and not first_order else tile
        if sigma:
            phi_sigma[rows, rows] = np.tril(congruence(np.asarray(k.sigma), left[blk], left[blk]))

    def off_diagonal(pair):
        bi, bj = pair
        k = kernel_fn(pts[bi].reshape(-1, dim), pts[bj].reshape(-1, dim))
        th = np.asarray(k.theta)
        ri, rj = slice(bi.start * q, bi.stop * q), slice(bj.start * q, bj.stop * q)
        phi[ri, rj] = congruence(th, left[bi], right[bj])
        if first_order:
            phi[rj, ri] = congruence(th.T, left[bj], right[bi])
        if sigma:
            phi_sigma[ri, rj] = congruence(np.asarray(k.sigma), left[bi], left[bj])

    _run(diagonal, blocks)
    _run(off_diagonal, [(bi, bj) for i, bi in enumerate(blocks) for bj in blocks[:i]])
    if not (first_order or lower_only):
        mirror_lower(phi)
    if sigma:
        mirror_lower(phi_sigma)
    f0 = np.matmul(a.transpose(0, 2, 1), np.asarray(y_in, dtype=np.float64))            # F0_i = A_i^T Y_i
    return phi, a, f0, phi_sigma


def mtl_blocks(kernel_fn: KernelFn, x: np.ndarray, *, lower_only: bool, block_points: int | None = None,
               sigma: bool = False):
    """Blocked ``Theta_MTL = Theta - [i != j] Sigma`` (shared heads) on ``D`` = ``x (N, m, d)``: ``(N m, N m)``.

    Lower triangle only when ``lower_only`` (the upper one is zero), else full.  ``sigma=True``: returns
    ``(Theta_MTL, Sigma(D, D))``, the second full, from the same kernel calls.
    """
    n, m, dim = x.shape
    blocks = task_blocks(n, m, block_points)
    out = np.zeros((n * m, n * m))
    gram = np.zeros((n * m, n * m)) if sigma else None

    def diagonal(blk: slice):
        k = kernel_fn(x[blk].reshape(-1, dim))
        nb, own = blk.stop - blk.start, np.arange(blk.stop - blk.start)
        tile = np.subtract(k.theta, k.sigma)                                   # Theta_body everywhere ...
        tile.reshape(nb, m, nb, m)[own, :, own] += np.asarray(k.sigma).reshape(nb, m, nb, m)[own, :, own]
        rows = slice(blk.start * m, blk.stop * m)
        out[rows, rows] = np.tril(tile) if lower_only else tile                # ... plus Sigma within a task
        if sigma:
            gram[rows, rows] = np.tril(k.sigma)

    def off_diagonal(pair):
        bi, bj = pair
        k = kernel_fn(x[bi].reshape(-1, dim), x[bj].reshape(-1, dim))
        ri, rj = slice(bi.start * m, bi.stop * m), slice(bj.start * m, bj.stop * m)
        np.subtract(k.theta, k.sigma, out=out[ri, rj])
        if sigma:
            gram[ri, rj] = k.sigma

    _run(diagonal, blocks)
    _run(off_diagonal, [(bi, bj) for i, bi in enumerate(blocks) for bj in blocks[:i]])
    out = out if lower_only else mirror_lower(out)
    return (out, mirror_lower(gram)) if sigma else out


def outer_rows(kernel_fn: KernelFn, x: np.ndarray, pts: np.ndarray, right: np.ndarray | None = None, *,
               body: bool = False, sigma_right: np.ndarray | None = None, block_points: int | None = None):
    """Rows on the test points ``x (n_x, d)``, one kernel call per block of tasks ``pts (N, p, d)``.

    ``right (N, q, p)``: ``Theta(x, P_j) right_j^T`` (``(n_x, N q)``, GBML's ``psi``); ``right=None``:
    ``Theta(x, P)`` (``(n_x, N p)``), or ``Theta_body(x, P)`` with ``body=True`` (MTL's rows).
    ``sigma_right (N, q', p)``: returns ``(rows, Sigma(x, P_j) sigma_right_j^T)`` from the same kernel calls.
    """
    n, p, dim = pts.shape
    q = p if right is None else right.shape[1]
    out = np.empty((x.shape[0], n * q))
    qs = None if sigma_right is None else sigma_right.shape[1]
    out_sigma = None if sigma_right is None else np.empty((x.shape[0], n * qs))

    def chunk(blk: slice):
        k = kernel_fn(x, pts[blk].reshape(-1, dim))
        cols = out[:, blk.start * q:blk.stop * q]
        if right is not None:
            cols[...] = congruence(np.asarray(k.theta), None, right[blk])
        elif body:
            np.subtract(k.theta, k.sigma, out=cols)
        else:
            cols[...] = k.theta
        if out_sigma is not None:
            out_sigma[:, blk.start * qs:blk.stop * qs] = congruence(np.asarray(k.sigma), None, sigma_right[blk])

    _run(chunk, task_blocks(n, p, block_points))
    return out if sigma_right is None else (out, out_sigma)
