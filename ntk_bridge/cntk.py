"""The CNTK: infinite-width kernels of a ``ConvSpec`` (theory.md §11).

Arora et al. 2019 (*On exact computation with an infinitely wide neural net*), Novak et al. 2019.  Per
pair of images ``(x, x')`` the recursion runs over **pairs of pixels** ``(p, p')``; with ``box`` the sum
over the ``f x f`` window that shifts both pixels by the same offset (positions outside the image are
the zero padding: they contribute 0, and the fan-in ``f^2 C`` counts them)::

    K_1[p, p']     = w^2 / f^2  box(K_0)[p, p'] + b^2,        K_0[p, p'] = x_p . x'_p' / C,    Theta_1 = K_1
    Ktilde_l, Kdot_l = the ReLU arc-cosine maps of (K_l[p, p'], K_l(x, x)[p, p], K_l(x', x')[p', p'])
    K_{l+1}        = w^2 / f^2  box(Ktilde_l) + b^2,          Theta_{l+1} = w^2 / f^2 box(Theta_l Kdot_l) + K_{l+1}
    sigma          = head^2 mean(Ktilde_L) + b^2,             theta = head^2 mean(Theta_L Kdot_L) + sigma

with the mean over all pixel pairs (global average pooling, ``"gap"``) or over equal positions
``p = p'`` (``"flatten"``): neural-tangents' normalizations (``GlobalAvgPool`` averages the features;
``Flatten`` keeps them, and the head's fan-in ``H W channels`` makes the sum over pixels a mean), checked
equal to its ``kernel_fn`` to round-off.  Because ``box`` keeps the offset ``p' - p``, flattening only
ever needs the pairs ``p = p'`` (``O(HW)`` per image pair); pooling needs all of them (``O((HW)^2)``).
The variances ``K_l(x, x)[p, p]`` need only equal positions: ``q_{l+1} = w^2 / f^2 box(q_l / 2) + b^2``.
A pixel of zero variance (its window all zero, no bias) is the constant 0: its kernels vanish whatever
the angle (no division is made, so no 0/0).

Image pairs are processed in tiles of about ``BLOCK_ENTRIES`` pixel pairs (six float64 arrays of that
size per thread, 12 MiB), on up to two threads; a symmetric kernel computes each unordered pair once.
``backend="nt"``: neural-tangents' ``kernel_fn`` of ``spec.stax()``, jitted, in float64, by blocks of rows.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import validate
from .kernel_values import BACKENDS, Kernels

BLOCK_ENTRIES = 1 << 18   # pixel-pair entries per native tile (2 MiB per float64 array; 2^18 measured best on 8x8)
NT_ENTRIES = 1 << 22      # pixel-pair entries per neural-tangents array (32 MiB; 2^22 measured fastest, 2^24 1.5x slower)


def kernels(spec, x1, x2=None, *, backend: str = "native", block_size: int | None = None) -> Kernels:
    """``Theta`` and ``Sigma`` ``(n1, n2)`` float64 of ``spec`` between images ``x1``, ``x2``.

    The recursion of the module docstring over pairs of pixels, then the head: ``sigma = head^2
    mean(Ktilde_L) + b^2`` and ``theta = head^2 mean(Theta_L Kdot_L) + sigma``, the mean over all pixel
    pairs (``"gap"``) or over equal positions (``"flatten"``).  A symmetric kernel (``x2`` omitted or
    equal to ``x1``) computes each unordered pair once and is exactly symmetric.

    Args:
      spec: the ``ConvSpec`` (``channels`` ignored: infinite width).
      x1: images ``(n1, H, W, C)``, or flat rows ``(n1, H W C)`` read through ``spec.image_shape``.
      x2: images or rows as ``x1``, ``n2`` of them; ``None``: ``x1``.
      backend: ``"native"`` (the NumPy recursion) or ``"nt"`` (neural-tangents' ``kernel_fn``, float64).
      block_size: images of ``x2`` per native tile, or of ``x1`` per neural-tangents call; ``None``:
        tiles of about ``BLOCK_ENTRIES`` pixel pairs (memory: six such float64 arrays per thread), calls
        with arrays of ``NT_ENTRIES`` (neural-tangents holds several).

    Returns:
      ``Kernels`` ``(theta, sigma)``, each ``(n1, n2)`` float64.

    Raises:
      ValueError: when ``backend`` or ``block_size`` is invalid, the inputs are not images (or flat rows
        matching ``spec.image_shape``), are empty or non-finite, ``x1`` and ``x2`` hold images of
        different shapes, or a kernel value overflows float64 (rescale the inputs).
      ModuleNotFoundError: ``backend="nt"`` without an importable neural-tangents.

    Examples:
      On ``1 x 1`` images with ``filter=1`` a conv layer is a Dense layer: the CNTK is the MLP's NTK.

      >>> import numpy as np, ntk_bridge as nb
      >>> from ntk_bridge import cntk
      >>> rng = np.random.default_rng(0)
      >>> x = rng.standard_normal((4, 3))
      >>> k = cntk.kernels(nb.ConvSpec(depth=2, filter=1, image_shape=(1, 1, 3)), x)
      >>> bool(np.allclose(k.theta, nb.kernels.kernels(nb.MLPSpec(depth=2), x).theta))
      True
      >>> imgs = rng.standard_normal((3, 4, 4, 1))
      >>> k = cntk.kernels(nb.ConvSpec(depth=2, filter=3, pool="gap"), imgs)
      >>> k.theta.shape, bool(np.array_equal(k.theta, k.theta.T)), bool(np.all(np.diag(k.theta_body) > 0))
      ((3, 3), True, True)
    """
    validate.choice("backend", backend, BACKENDS)
    if block_size is not None:
        block_size = validate.integer("block_size", block_size, 1)
    a = _images(spec, x1, "x1")
    b = a if x2 is None else _images(spec, x2, "x2")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"x2 has images of shape {b.shape[1:]}, x1 has {a.shape[1:]}")
    symmetric = b is a or (a.shape == b.shape and np.array_equal(a, b))
    out = _nt(spec, a, b, block_size) if backend == "nt" else _native(spec, a, b, symmetric, block_size)
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
def _box(a: np.ndarray, r: int, axes, tmp: np.ndarray | None = None) -> np.ndarray:
    """In place: ``a`` becomes its sum over the ``(2r+1)^2`` window, zero outside the image; returns ``a``.

    ``axes``: two groups of axes, the image rows then the image columns, each group shifted together:
    ``[(1,), (2,)]`` for one pixel per entry ``(n, H, W)``, ``[(2, 4), (3, 5)]`` for pixel pairs
    ``(2, na, H, W, H, W, nb)`` (the window moves both pixels alike).  Separable: rows into ``tmp``, then
    columns back into ``a``; the first shift of each pass writes its sum directly (no copy of the bulk)."""
    tmp = np.empty_like(a) if tmp is None else tmp
    src, dst = a, tmp
    for group in axes:
        n = a.shape[group[0]]
        shifts = [u for u in range(-r, r + 1) if u and abs(u) < n]
        for num, u in enumerate(shifts):
            d_idx, s_idx = [slice(None)] * a.ndim, [slice(None)] * a.ndim
            for ax in group:
                d_idx[ax] = slice(max(0, -u), n - max(0, u))
                s_idx[ax] = slice(max(0, u), n + min(0, u))
            d_idx, s_idx = tuple(d_idx), tuple(s_idx)
            if num:
                dst[d_idx] += src[s_idx]
                continue
            np.add(src[d_idx], src[s_idx], out=dst[d_idx])
            for ax in group:             # outside the shifted range: the entry itself
                edge = [slice(None)] * a.ndim
                edge[ax] = slice(0, -u) if u < 0 else slice(n - u, n)
                dst[tuple(edge)] = src[tuple(edge)]
        if not shifts:
            np.copyto(dst, src)
        src, dst = dst, src
    return a


_ONE = [(1,), (2,)]   # _box's axes for one pixel per entry (n, H, W)


def _variances(spec, x: np.ndarray) -> list[np.ndarray]:
    """``q_l = K_l(x, x)[p, p]`` for ``l = 1..L``, each ``(n, H, W)``."""
    r, s2, b2 = spec.filter // 2, spec.w_std ** 2 / spec.filter ** 2, spec.b_std ** 2
    q = [s2 * _box(np.einsum("nhwc,nhwc->nhw", x, x) / x.shape[-1], r, _ONE) + b2]
    for _ in range(spec.depth - 1):
        q.append(s2 * _box(q[-1] / 2, r, _ONE) + b2)
    return q


def _patches(x: np.ndarray, f: int) -> np.ndarray:
    """``(n, H, W, f^2 C)``: each pixel's ``f x f`` window (zero padded), so ``box(K_0) = C patches . patches'``."""
    n, h, w, c = x.shape
    r = f // 2
    xp = np.pad(x, ((0, 0), (r, r), (r, r), (0, 0)))
    return np.stack([xp[:, i:i + h, j:j + w] for i in range(f) for j in range(f)], axis=3).reshape(n, h, w, f * f * c)


def _block(spec, xa, xb, qa, qb, diag: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(theta, sigma)`` ``(na, nb)`` for images ``xa``, ``xb`` with their variances ``qa``, ``qb``.

    Layout ``(na, H, W, H, W, nb)`` (``"gap"``) or ``(na, H, W, nb)`` (``"flatten"``): the second image
    innermost, so every shifted add of ``_box`` and every broadcast runs over long contiguous rows.
    Six arrays of that shape, updated in place, the fewest passes over them:

    * no cosine: with ``Q = q q'`` and ``S = sqrt(Q - K^2) = g g' sin a``, ``2 pi Ktilde = S + (pi - a) K``
      and ``pi - a = atan2(S, -K)``, so ``m = -K / tau`` is stored (``atan2(S, m)`` is ``pi - a``);
    * ``Theta_{l+1} = w^2 / f^2 box(Theta_l Kdot_l + Ktilde_l) + b^2`` (``Ktilde``'s recursion folded in);
    * the scalars (``w^2 / f^2``, ``1 / (2 pi)``, ``1 / C``) go into ``tau`` (``K = -tau m``,
      ``Theta = tau t``) and from it into the small per-pixel ``Q``, never into a pass of their own.

    ``diag``: ``xa[i]`` is ``xb[i + diag]`` (a tile on the diagonal of a symmetric kernel): there the equal
    pixels get ``S = 0`` exactly (computed, it is ``O(sqrt(eps) q)``, which would cost half the digits)."""
    f, s2, b2, h2 = spec.filter, spec.w_std ** 2 / spec.filter ** 2, spec.b_std ** 2, spec.head_std ** 2
    na, nb = xa.shape[0], xb.shape[0]
    h, w, chans = xa.shape[1:]
    pa, pb = _patches(xa, f), -_patches(xb, f)
    if spec.pool == "gap":
        dims, axes, side_a = "aijklb", [(2, 4), (3, 5)], (lambda g: g[:, :, :, None, None, None])
        shape = (na, h, w, h, w, nb)
        ii, jj = np.indices((h, w)).reshape(2, -1)
        equal = lambda i, j: (i, ii, jj, ii, jj, j)               # noqa: E731
    else:
        dims, axes, side_a = "aijb", [(2,), (3,)], (lambda g: g[:, :, :, None])
        shape = (na, h, w, nb)
        equal = lambda i, j: (i, slice(None), slice(None), j)     # noqa: E731
    same = [] if diag is None else [equal(i, i + diag) for i in range(na) if 0 <= i + diag < nb]
    mt, tmp, sin, rest = np.empty((2,) + shape), np.empty((2,) + shape), np.empty(shape), np.empty(shape)
    m, t = mt                                          # one array: both get their box in one call
    # -C box(K_0): the patches' dot products (einsum, not BLAS: multithreaded OpenBLAS on such thin products,
    # from two threads of ours on a busy machine, was measured 100x slower)
    if spec.pool == "gap":
        np.einsum("aijf,fklb->aijklb", pa, np.ascontiguousarray(pb.transpose(3, 1, 2, 0)), out=m)
    else:
        np.einsum("aijc,bijc->aijb", pa, pb, out=m)
    tau = s2 / chans                                   # K_1 = -tau m + b^2
    if b2:
        m -= b2 / tau
    np.negative(m, out=t)                              # Theta_1 = K_1
    qb = [np.ascontiguousarray(q.transpose(1, 2, 0)) for q in qb]      # (H, W, nb), as the arrays
    for l in range(spec.depth):
        np.multiply(side_a(qa[l] / tau ** 2), qb[l], out=sin)   # Q / tau^2
        np.multiply(m, m, out=rest)
        np.subtract(sin, rest, out=sin)
        np.maximum(sin, 0.0, out=sin)                  # round-off can leave K^2 a few ulp above Q
        np.sqrt(sin, out=sin)                          # S / tau
        for idx in same:
            sin[idx] = 0.0
        np.arctan2(sin, m, out=rest)                   # pi - a = 2 pi Kdot (K = 0, a zero variance: any angle)
        if l == spec.depth - 1:
            break
        m *= rest
        m -= sin                                       # -2 pi Ktilde / tau
        t *= rest
        t -= m                                         # 2 pi (Theta Kdot + Ktilde) / tau
        _box(mt, f // 2, axes, tmp)
        tau *= s2 / (2 * np.pi)
        if b2:
            m -= b2 / tau
            t += b2 / tau
        if tau < 1e-50:                                # deep nets: keep m, t and their squares in range
            m *= tau
            t *= tau
            tau = 1.0
    scale = h2 * tau / (2 * np.pi * (m.size // (na * nb)))   # head^2 / (2 pi) and the mean over pixel pairs
    sigma = scale * (np.einsum(f"{dims}->ab", sin) - np.einsum(f"{dims},{dims}->ab", rest, m)) + b2
    return scale * np.einsum(f"{dims},{dims}->ab", t, rest) + sigma, sigma   # head^2 mean(Theta Kdot) + sigma


def _native(spec, x1: np.ndarray, x2: np.ndarray, symmetric: bool, block_size: int | None) -> Kernels:
    """The kernels by tiles of ``na x nb`` image pairs (``_block``), on up to two threads; symmetric: the
    tiles on and above the diagonal, mirrored (the square part of a diagonal tile from its upper triangle,
    so the result is exactly symmetric)."""
    hw = x1.shape[1] * x1.shape[2]
    per_pair = hw * hw if spec.pool == "gap" else hw
    q1 = _variances(spec, x1)
    q2 = q1 if symmetric else _variances(spec, x2)
    n1, n2 = x1.shape[0], x2.shape[0]
    nb = min(n2, block_size or max(1, BLOCK_ENTRIES // per_pair))         # images of x2 per tile
    na = min(n1, max(1, BLOCK_ENTRIES // (per_pair * nb)))                 # images of x1 per tile
    if symmetric:
        na = min(na, nb)    # a tile's rows lie within its first columns: its square part is mirrored in place
    theta, sigma = np.empty((n1, n2)), np.empty((n1, n2))
    tiles = [(i, j) for i in range(0, n1, na) for j in range(i if symmetric else 0, n2, nb)]

    def fill(tile):
        i, j = tile
        a, b = slice(i, i + na), slice(j, j + nb)
        with np.errstate(over="ignore", invalid="ignore"):     # an overflow is reported once, by kernels()
            t, s = _block(spec, x1[a], x2[b], [q[a] for q in q1], [q[b] for q in q2],
                          i - j if symmetric and i == j else None)
        if not symmetric:
            theta[a, b], sigma[a, b] = t, s
            return
        sq = t.shape[0] if i == j else 0                       # the square x1[a] x x1[a] part of the tile
        for out, v in ((theta, t), (sigma, s)):
            out[a, j + sq:j + v.shape[1]] = v[:, sq:]
            out[j + sq:j + v.shape[1], a] = v[:, sq:].T
            if sq:
                out[a, a] = np.triu(v[:, :sq]) + np.triu(v[:, :sq], 1).T

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if len(tiles) > 1 and cores > 1:
        with ThreadPoolExecutor(min(2, cores)) as pool:
            list(pool.map(fill, tiles))   # list(): re-raises a worker's exception here
    else:
        for tile in tiles:
            fill(tile)
    return Kernels(theta, sigma)


# --------------------------------------------------------------------------- neural-tangents
def _nt(spec, x1: np.ndarray, x2: np.ndarray, rows: int | None) -> Kernels:
    """neural-tangents' kernels, ``rows`` images of ``x1`` per call (default: each of its
    ``(rows, n2, pixel pairs)`` arrays within ``NT_ENTRIES`` floats).

    Not jitted: under ``jax.jit`` (whole or per layer) XLA's fused ReLU map evaluates the cosine of a pixel
    with itself as ``1 - O(eps)``, and the angle ``O(sqrt(eps))`` costs half the digits on the diagonal of a
    symmetric kernel (measured 1.7e-9 relative with flattening, depth 4); op by op it agrees with the native
    recursion to 1e-13, at about half the speed (with pooling)."""
    from .precision import x64

    hw = x1.shape[1] * x1.shape[2]
    per_pair = hw * hw if spec.pool == "gap" else hw
    rows = min(x1.shape[0], rows or max(1, NT_ENTRIES // (x2.shape[0] * per_pair)))
    _, _, kernel_fn = spec.replace(channels=1, out_dim=1).stax()   # both irrelevant to the kernel
    theta, sigma = np.empty((x1.shape[0], x2.shape[0])), np.empty((x1.shape[0], x2.shape[0]))
    with x64():
        for i in range(0, x1.shape[0], rows):
            k = kernel_fn(x1[i:i + rows], x2, ("ntk", "nngp"))
            theta[i:i + rows], sigma[i:i + rows] = np.asarray(k.ntk), np.asarray(k.nngp)
    return Kernels(theta, sigma)
