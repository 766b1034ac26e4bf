"""The CNTK: infinite-width kernels of a :class:`~ntk_bridge.spec.ConvSpec` (theory.md §11).

Arora et al. 2019 (*On exact computation with an infinitely wide neural net*), Novak et al. 2019.  Per
pair of images ``(x, x')`` the recursion runs over **pairs of pixels** ``(p, p')``; with ``box`` the sum
over the ``f x f`` window that shifts both pixels by the same offset (positions outside the image are
the zero padding: they contribute 0, and the fan-in ``f^2 C`` counts them)::

    K_1[p, p']     = w^2 / f^2  box(K_0)[p, p'] + b^2,        K_0[p, p'] = x_p . x'_p' / C,    Theta_1 = K_1
    Ktilde_l, Kdot_l = the ReLU arc-cosine maps of (K_l[p, p'], K_l(x, x)[p, p], K_l(x', x')[p', p'])
    K_{l+1}        = w^2 / f^2  box(Ktilde_l) + b^2,          Theta_{l+1} = w^2 / f^2 box(Theta_l Kdot_l) + K_{l+1}
    sigma          = head^2 mean(Ktilde_L) + b^2,             theta = head^2 mean(Theta_L Kdot_L) + sigma

with the mean over all pixel pairs (global average pooling, ``"gap"``) or over equal positions
``p = p'`` (``"flatten"``).  Because ``box`` keeps the offset ``p' - p``, flattening only ever needs the
pairs ``p = p'`` (``O(HW)`` per image pair); pooling needs all of them (``O((HW)^2)``).  The variances
``K_l(x, x)[p, p]`` need only equal positions: ``q_{l+1} = w^2 / f^2 box(q_l / 2) + b^2``.  A pixel of
zero variance (its window all zero, no bias) is the constant 0: its kernels vanish whatever the cosine
(taken 0, no 0/0).

Image pairs are processed in blocks (memory: a few arrays of ``block pairs x (HW)^2`` floats), on up to
two threads; a symmetric kernel computes each unordered pair once.  ``backend="nt"``: neural-tangents'
``kernel_fn`` of ``spec.stax()`` in float64, by blocks of rows.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import validate
from .kernels import BACKENDS, Kernels

BLOCK_ENTRIES = 1 << 17   # pixel-pair entries per tile of image pairs (1 MiB per float64 array: in cache; 2^17-2^19 measured best)


def kernels(spec, x1, x2=None, *, backend: str = "native") -> Kernels:
    """``Theta`` and ``Sigma`` ``(n1, n2)`` float64 of ``spec`` between images ``x1``, ``x2``.

    ``x1, x2``: images ``(n, H, W, C)`` or flat rows ``(n, H W C)`` read through ``spec.image_shape``;
    ``x2=None``: ``x1``.  Raises ``ValueError`` for bad shapes, non-finite inputs or overflowing kernels.
    """
    validate.choice("backend", backend, BACKENDS)
    a = _images(spec, x1, "x1")
    b = a if x2 is None else _images(spec, x2, "x2")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"x2 has images of shape {b.shape[1:]}, x1 has {a.shape[1:]}")
    symmetric = b is a or (a.shape == b.shape and np.array_equal(a, b))
    out = _nt(spec, a, b) if backend == "nt" else _native(spec, a, b, symmetric)
    for name, mat in zip(("theta", "sigma"), out):
        if not np.all(np.isfinite(mat)):
            raise ValueError(f"kernel values overflow: {name} has non-finite entries (largest |pixel| "
                             f"{max(np.abs(a).max(), np.abs(b).max()):.3g}, depth={spec.depth}); rescale the inputs")
    return out


def _images(spec, x, name: str) -> np.ndarray:
    x = spec.images(x, name)
    if min(x.shape) == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")
    return x


# --------------------------------------------------------------------------- native
def _box(a: np.ndarray, r: int, pairs: bool) -> np.ndarray:
    """Sum over the ``(2r+1)^2`` window shifting both pixels alike: ``a (..., H, W, H, W)`` (``pairs``) or
    ``(..., H, W)`` (equal positions), zero outside the image; separable (rows, then columns)."""
    def shifted_sum(src, axis_pair):
        out = src.copy()
        n = src.shape[axis_pair[0]]
        for u in [d for d in range(-r, r + 1) if d]:
            dst_idx, src_idx = [slice(None)] * src.ndim, [slice(None)] * src.ndim
            for ax in axis_pair:
                dst_idx[ax] = slice(max(0, -u), n - max(0, u))
                src_idx[ax] = slice(max(0, u), n + min(0, u))
            out[tuple(dst_idx)] += src[tuple(src_idx)]
        return out

    nd = a.ndim
    rows, cols = ((nd - 4, nd - 2), (nd - 3, nd - 1)) if pairs else ((nd - 2,), (nd - 1,))
    return shifted_sum(shifted_sum(a, rows), cols)


def _variances(spec, x: np.ndarray) -> list[np.ndarray]:
    """``q_l = K_l(x, x)[p, p]`` for ``l = 1..L``, each ``(n, H, W)``."""
    r, s2, b2 = spec.filter // 2, spec.w_std ** 2 / spec.filter ** 2, spec.b_std ** 2
    q = [s2 * _box(np.einsum("nhwc,nhwc->nhw", x, x) / x.shape[-1], r, False) + b2]
    for _ in range(spec.depth - 1):
        q.append(s2 * _box(q[-1] / 2, r, False) + b2)
    return q


def _relu_maps(k: np.ndarray, ga: np.ndarray, gb: np.ndarray, same=None):
    """``(Ktilde, Kdot)`` of the ReLU from ``k`` (overwritten) and the standard deviations ``ga``, ``gb``
    (broadcasting against ``k``; ``g = 0``: the constant 0, cosine taken 0), in place where it can.

    ``same``: where the pair is one pixel of one image, whose cosine is exactly 1 (computed, it is
    ``1 - O(eps)``, and the angle ``O(sqrt(eps))`` would cost half the digits)."""
    inv_a = np.divide(1.0, ga, out=np.zeros_like(ga), where=ga > 0)
    inv_b = np.divide(1.0, gb, out=np.zeros_like(gb), where=gb > 0)
    c = k
    c *= inv_a
    c *= inv_b
    np.clip(c, -1.0, 1.0, out=c)
    if same is not None:
        np.putmask(c, np.broadcast_to(same, c.shape), 1.0)
    sin = np.multiply(c, c)
    np.subtract(1.0, sin, out=sin)
    np.sqrt(sin, out=sin)
    rest = np.arctan2(sin, c)
    np.subtract(np.pi, rest, out=rest)              # pi - angle
    c *= rest
    c += sin                                        # sin a + (pi - a) cos a
    c *= ga / (2 * np.pi)
    c *= gb
    rest *= 1 / (2 * np.pi)                         # Kdot = (pi - a) / (2 pi)
    return c, rest


def _block(spec, xa, xb, qa, qb, same: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(theta, sigma)`` ``(na, nb)`` for images ``xa``, ``xb`` with their variances ``qa``, ``qb``; ``same``:
    ``xa`` is ``xb`` (a diagonal tile), whose equal pixels of equal images get the cosine 1 exactly."""
    r, s2, b2, h2 = spec.filter // 2, spec.w_std ** 2 / spec.filter ** 2, spec.b_std ** 2, spec.head_std ** 2
    na = xa.shape[0]
    pairs = spec.pool == "gap"
    h, w = xa.shape[1:3]
    if pairs:
        k = np.einsum("aijc,bklc->abijkl", xa, xb) / xa.shape[-1]
        side_a, side_b = (lambda q: q[:, None, :, :, None, None]), (lambda q: q[None, :, None, None, :, :])
        mask = np.eye(na, dtype=bool)[:, :, None, None, None, None] & np.eye(h * w, dtype=bool).reshape(1, 1, h, w, h, w)
    else:
        k = np.einsum("aijc,bijc->abij", xa, xb) / xa.shape[-1]
        side_a, side_b = (lambda q: q[:, None]), (lambda q: q[None, :])
        mask = np.eye(na, dtype=bool)[:, :, None, None]
    mask = mask if same else None
    k = _box(k, r, pairs)
    k *= s2
    k += b2
    theta = k.copy()
    for l in range(spec.depth):
        ktilde, kdot = _relu_maps(k, side_a(np.sqrt(qa[l])), side_b(np.sqrt(qb[l])), mask)
        theta *= kdot
        if l == spec.depth - 1:
            break
        k = _box(ktilde, r, pairs)
        k *= s2
        k += b2
        theta = _box(theta, r, pairs)
        theta *= s2
        theta += k
    axes = tuple(range(2, ktilde.ndim))
    sigma = h2 * ktilde.mean(axis=axes) + b2
    return h2 * theta.mean(axis=axes) + sigma, sigma


def _native(spec, x1: np.ndarray, x2: np.ndarray, symmetric: bool) -> Kernels:
    hw = x1.shape[1] * x1.shape[2]
    per_pair = hw * hw if spec.pool == "gap" else hw
    q1 = _variances(spec, x1)
    q2 = q1 if symmetric else _variances(spec, x2)
    n1, n2 = x1.shape[0], x2.shape[0]
    rows = max(1, int(math.sqrt(BLOCK_ENTRIES / per_pair)))
    theta, sigma = np.empty((n1, n2)), np.empty((n1, n2))
    tiles = [(i, j) for i in range(0, n1, rows) for j in range(0, n2, rows) if not symmetric or j >= i]

    def fill(tile):
        i, j = tile
        a, b = slice(i, i + rows), slice(j, j + rows)
        with np.errstate(over="ignore", invalid="ignore"):
            t, s = _block(spec, x1[a], x2[b], [q[a] for q in q1], [q[b] for q in q2], symmetric and i == j)
        theta[a, b], sigma[a, b] = t, s
        if symmetric and j > i:
            theta[b, a], sigma[b, a] = t.T, s.T

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if len(tiles) > 1 and cores > 1:
        with ThreadPoolExecutor(min(2, cores)) as pool:
            list(pool.map(fill, tiles))
    else:
        for tile in tiles:
            fill(tile)
    return Kernels(theta, sigma)


# --------------------------------------------------------------------------- neural-tangents
def _nt(spec, x1: np.ndarray, x2: np.ndarray, rows: int = 64) -> Kernels:
    from .precision import x64

    _, _, kernel_fn = spec.replace(channels=1, out_dim=1).stax()
    theta, sigma = np.empty((x1.shape[0], x2.shape[0])), np.empty((x1.shape[0], x2.shape[0]))
    with x64():
        for i in range(0, x1.shape[0], rows):
            k = kernel_fn(x1[i:i + rows], x2, ("ntk", "nngp"))
            theta[i:i + rows], sigma[i:i + rows] = np.asarray(k.ntk), np.asarray(k.nngp)
    return Kernels(theta, sigma)
