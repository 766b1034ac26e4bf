"""Infinite-width kernels of an ``MLPSpec``, and the empirical kernels of a finite net.

Three kernels, all ``(n1, n2)`` float64, per output column (multi-output kernels are
``K ⊗ I_k``):

* ``theta``      — the NTK of all parameters, ``Theta(x, x')``;
* ``sigma``      — the head's contribution = the output NNGP kernel ``Sigma(x, x')``;
* ``theta_body`` — every parameter below the head, ``Theta - Sigma``.

Two independent backends with one signature: ``"nt"`` (neural-tangents ``kernel_fn``)
and ``"native"`` (the arc-cosine recursion of Cho & Saul 2009 in NumPy, no JAX needed).
"""
from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import code_maps, validate
from .kernel_values import BACKENDS, Kernels
from .spec import MLPSpec

_TILE = 32768  # entries per in-cache tile of the native recursion (4 float64 arrays ~ 1 MiB, fits L2)


def kernels(spec: MLPSpec, x1, x2=None, *, backend: str = "native", block_size: int = 1024) -> Kernels:
    """Analytic ``Theta`` and ``Sigma`` between point sets ``x1 (n1, d)`` and ``x2 (n2, d)``.

    A ``ConvSpec`` gives its CNTK (``ntk_bridge.cntk.kernels``: images, or flat
    rows through its ``image_shape``; ``block_size`` unused).

    Rows of ``x1`` are processed in blocks of ``block_size``, in parallel threads (one per
    CPU core; NumPy and XLA release the GIL).  A symmetric kernel (``x2`` omitted or equal
    to ``x1``) computes the upper block triangle only and mirrors it, and takes its
    diagonal from the exact closed-form recursion (``diagonal``): the arc-cosine
    recursion evaluates ``arccos`` at ``cos = 1 - O(eps)`` there, which loses half the
    digits (angle ``~ sqrt(eps) ~ 1e-8``) in either backend.

    Args:
      spec: the architecture, ``MLPSpec`` or ``ConvSpec`` (``width``/``channels`` are ignored: infinite width).
      x1: inputs ``(n1, d)`` (a ``ConvSpec``: images ``(n1, H, W, C)`` or flat rows).
      x2: inputs ``(n2, d)``; ``None`` means ``x2 = x1`` (the symmetric kernel).
      backend: ``"native"`` (arc-cosine recursion) or ``"nt"`` (neural-tangents).
      block_size: rows per block.  The native backend writes in place (memory: the two
        outputs); neural-tangents adds about ``3 * block_size * n2`` floats per thread.
    Returns:
      ``Kernels`` ``(theta, sigma)``, each ``(n1, n2)`` float64.
    Raises:
      ValueError: on an unknown backend, bad shapes, non-finite inputs, ``x1`` and ``x2`` of different
        input dims, or kernel values that overflow float64 (inputs too large: rescale them, e.g. to the
        unit sphere).
      NotComputable: an ``MLPSpec`` of another parameterization than ``"ntk"`` (no kernel limit here).
      ModuleNotFoundError: ``backend="nt"`` without an importable neural-tangents (``spec.neural_tangents``).

    Examples:
      With ``w_std = sqrt(2)`` and no biases every layer adds the head's kernel once on the diagonal,
      ``Theta(x, x) = (L + 1) Sigma(x, x)`` (``diagonal``), and both backends agree:

      >>> import numpy as np, ntk_bridge as nb
      >>> x = np.random.default_rng(0).standard_normal((4, 3))
      >>> k = nb.kernels.kernels(nb.MLPSpec(depth=3), x)
      >>> k.theta.shape
      (4, 4)
      >>> bool(np.allclose(np.diag(k.theta), 4 * np.diag(k.sigma)))
      True
    """
    from .spec import ConvSpec

    if isinstance(spec, ConvSpec):
        from . import cntk

        return cntk.kernels(spec, x1, x2, backend=backend)
    spec.require_ntk("the infinite-width kernel")
    validate.choice("backend", backend, BACKENDS)
    block_size = validate.integer("block_size", block_size, 1)
    x1 = check_points(x1, "x1")
    x2 = x1 if x2 is None else check_points(x2, "x2")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x2 has input dim {x2.shape[1]}, x1 has {x1.shape[1]}")
    symmetric = x2 is x1 or (x2.shape == x1.shape and np.array_equal(x1, x2))
    block = _native_block if backend == "native" else _nt_block
    n1, n2 = x1.shape[0], x2.shape[0]
    theta, sigma = np.empty((n1, n2)), np.empty((n1, n2))

    def fill(i):
        rows = slice(i, i + block_size)
        cols = slice(i, None) if symmetric else slice(None)
        with np.errstate(over="ignore", invalid="ignore"):   # an overflow is reported once, below
            block(spec, x1[rows], x2[cols], theta[rows, cols], sigma[rows, cols])
        if symmetric:  # mirror into the strip below this block (no other block writes there)
            below = slice(i + block_size, None)
            theta[below, rows], sigma[below, rows] = theta[rows, below].T, sigma[rows, below].T

    starts = range(0, n1, block_size)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = min(len(starts), cores)
    if workers == 1:
        for i in starts:
            fill(i)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(fill, starts))  # list(): re-raises a worker's exception here
    if symmetric:
        theta_diag, sigma_diag = diagonal(spec, x1)
        np.fill_diagonal(theta, theta_diag)
        np.fill_diagonal(sigma, sigma_diag)
    return _check_finite(Kernels(theta, sigma), spec, x1, x2)


def diagonal(spec: MLPSpec, x) -> Kernels:
    """Exact ``Theta(x, x)`` and ``Sigma(x, x)`` per point, each ``(n,)`` float64.

    At ``cos = 1`` the arc-cosine expectations are ``E[relu(u)^2] = q / 2`` and
    ``E[relu'(u)^2] = 1 / 2``, so ``q_{l+1} = s_l^2 q_l / 2 + b^2`` and
    ``Theta_{l+1} = s_l^2 Theta_l / 2 + q_{l+1}`` (``q_0 = Theta_0 = w^2 |x|^2 / d + b^2``;
    ``s_l = w_std``, ``head_std`` for the head).  Hence ``Theta(x,x) = (L+1) Sigma(x,x)``
    for ``w_std = sqrt(2)``, ``b_std = 0``.

    Args:
      spec: an ``MLPSpec`` in the NTK parameterization (``width`` ignored).
      x: inputs ``(n, d)``.

    Returns:
      ``Kernels`` ``(theta, sigma)`` of the diagonal, each ``(n,)`` float64.

    Raises:
      NotComputable: a parameterization other than ``"ntk"``.
      ValueError: inputs that ``check_points`` refuses, or values that overflow float64.

    Examples:
      >>> import numpy as np, ntk_bridge as nb
      >>> x = np.random.default_rng(0).standard_normal((4, 3))
      >>> spec = nb.MLPSpec(depth=2, b_std=0.1)
      >>> bool(np.allclose(nb.kernels.diagonal(spec, x).theta, np.diag(nb.kernels.kernels(spec, x).theta)))
      True
    """
    spec.require_ntk("the infinite-width kernel")
    x = check_points(x, "x")
    b2 = spec.b_std ** 2
    q = spec.w_std ** 2 * np.sum(x * x, axis=1) / x.shape[1] + b2
    theta = q
    with np.errstate(over="ignore"):   # an overflow is reported by _check_finite
        for s2 in _layer_scales(spec):
            q = s2 * q / 2 + b2
            theta = s2 * theta / 2 + q
    return _check_finite(Kernels(theta, q), spec, x)


def _layer_scales(spec: MLPSpec) -> list[float]:
    """``s_l^2`` of the Dense layer after each ReLU: ``w_std^2`` then ``head_std^2``."""
    return [spec.w_std ** 2] * (spec.depth - 1) + [spec.head_std ** 2]


def check_points(x, name: str) -> np.ndarray:
    """Kernel inputs ``x`` as a ``(points, dim)`` float64 array; ``ValueError`` naming ``name`` if they cannot be.

    Refused: a non-numeric, non-2-d or empty array, NaN or inf, and norms whose square overflows float64.

    Args:
      x: array-like of real numbers, ``(points, dim)``.
      name: what the error message calls ``x`` (``"x1"``, ...).

    Returns:
      ``x`` as a float64 ndarray ``(points, dim)`` (no copy when it already is one).

    Raises:
      ValueError: when ``x`` is not numeric, not 2-d, has a zero dimension, contains NaN or inf, or has a
        row whose squared norm overflows float64.

    Examples:
      >>> from ntk_bridge.kernels import check_points
      >>> check_points([[1, 2], [3, 4]], "x").dtype
      dtype('float64')
      >>> check_points([1.0, 2.0], "x1")
      Traceback (most recent call last):
      ...
      ValueError: x1 must have shape (points, dim) with both >= 1, got (2,)
      >>> check_points([[1e200, 0.0]], "x2")
      Traceback (most recent call last):
      ...
      ValueError: x2: input norms overflow float64 (largest |entry| 1e+200); ...
    """
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers: {exc}") from exc
    if x.ndim != 2 or min(x.shape) == 0:
        raise ValueError(f"{name} must have shape (points, dim) with both >= 1, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")
    with np.errstate(over="ignore"):
        sq = np.einsum("ij,ij->i", x, x)
    if not np.all(np.isfinite(sq)):   # |x|^2 overflows float64: every kernel value would be inf
        raise ValueError(f"{name}: input norms overflow float64 (largest |entry| {np.max(np.abs(x)):.3g}); the kernels "
                         f"would be inf; rescale the inputs, e.g. to the unit sphere")
    return x


def _check_finite(k: Kernels, spec: MLPSpec, *xs: np.ndarray) -> Kernels:
    """Raise ``ValueError`` if a kernel value overflowed (large inputs, ``w_std``/``head_std`` and depth)."""
    for name, mat in zip(("theta", "sigma"), k):
        if not np.all(np.isfinite(mat)):
            with np.errstate(over="ignore"):
                norm = max(float(np.sqrt(np.max(np.einsum("ij,ij->i", x, x)))) for x in xs)
            raise ValueError(f"kernel values overflow: {name} has non-finite entries (largest input norm {norm:.3g}, "
                             f"w_std={spec.w_std}, head_std={spec.head_std}, depth={spec.depth}); rescale the "
                             f"inputs, e.g. to the unit sphere")
    return k


def _native_block(spec: MLPSpec, x1: np.ndarray, x2: np.ndarray, theta: np.ndarray, sigma: np.ndarray):
    """Arc-cosine recursion (Cho & Saul 2009; Jacot et al. 2018) for one block, into ``theta, sigma``.

    With pre-activation variances ``q_l`` (see ``diagonal``), ``g_l = sqrt(q_l)``, the
    normalized kernels ``c_l = K_l / (g_l g_l')`` (cosine of the angle ``a_l``) and
    ``t_l = Theta_l / (g_l g_l')`` obey, for ``K_{l+1} = s^2 E[relu(u) relu(v)] + b^2``,
    ``Theta_{l+1} = s^2 Theta_l E[relu'(u) relu'(v)] + K_{l+1}``::

        R = s^2 / (2 pi) * (g_l / g_{l+1}) (g_l' / g_{l+1}'),   B = b^2 / (g_{l+1} g_{l+1}')
        c_{l+1} = R (sin a + (pi - a) cos a) + B
        t_{l+1} = R (pi - a) t_l + c_{l+1}

    Without bias ``R = 1 / pi`` and ``B = 0``: the recursion is purely elementwise.  The
    angle is ``atan2(sqrt((1-c)(1+c)), c)`` (faster than ``arccos`` in NumPy, as accurate).
    Everything runs in place, tile by tile (``_TILE`` entries, in cache), in the output
    views: no block-sized temporaries (fresh memory costs page faults).
    """
    b2 = spec.b_std ** 2
    q1 = spec.w_std ** 2 * np.sum(x1 * x1, axis=1) / x1.shape[1] + b2
    q2 = spec.w_std ** 2 * np.sum(x2 * x2, axis=1) / x2.shape[1] + b2
    g1, g2, ratio1, ratio2, bias1, bias2 = [np.sqrt(q1)], [np.sqrt(q2)], [], [], [], []
    for s2 in _layer_scales(spec):
        q1, q2 = s2 * q1 / 2 + b2, s2 * q2 / 2 + b2
        g1.append(np.sqrt(q1))
        g2.append(np.sqrt(q2))
        if b2 > 0:  # then every q > 0
            ratio1.append(math.sqrt(s2 / (2 * np.pi)) * g1[-2] / g1[-1])
            ratio2.append(math.sqrt(s2 / (2 * np.pi)) * g2[-2] / g2[-1])
            bias1.append(spec.b_std / g1[-1])
            bias2.append(spec.b_std / g2[-1])
    # A zero-variance pre-activation (zero input, no bias) is a constant 0: its kernels
    # vanish whatever the angle (the final g is 0), so any cosine works; 0 avoids 0/0.
    inv1 = np.divide(math.sqrt(spec.w_std ** 2 / x1.shape[1]), g1[0], out=np.zeros_like(q1), where=g1[0] > 0)
    inv2 = np.divide(math.sqrt(spec.w_std ** 2 / x2.shape[1]), g2[0], out=np.zeros_like(q2), where=g2[0] > 0)
    a1, a2 = x1 * inv1[:, None], x2 * inv2[:, None]
    step = max(1, _TILE // x2.shape[0])
    sin, angle = np.empty((step, x2.shape[0])), np.empty((step, x2.shape[0]))
    for i in range(0, x1.shape[0], step):
        rows = slice(i, i + step)
        c, t = sigma[rows], theta[rows]
        s, p = sin[:c.shape[0]], angle[:c.shape[0]]
        np.matmul(a1[rows], a2.T, out=c)                     # c_0 = K_0 / (g_0 g_0')
        if b2 > 0:
            np.multiply.outer(spec.b_std / g1[0][rows], spec.b_std / g2[0], out=s)
            c += s
        np.copyto(t, c)
        for l in range(spec.depth):
            np.clip(c, -1.0, 1.0, out=c)                     # round-off can leave |c| a few ulp above 1
            np.subtract(1.0, c, out=s)
            np.add(1.0, c, out=p)
            s *= p
            np.sqrt(s, out=s)                                # sin a = sqrt((1 - c)(1 + c))
            np.arctan2(s, c, out=p)
            np.subtract(np.pi, p, out=p)                     # pi - a
            c *= p
            c += s                                           # sin a + (pi - a) cos a
            t *= p
            t += c
            if b2 > 0:
                np.multiply.outer(ratio1[l][rows], ratio2[l], out=s)
                c *= s
                t *= s
                np.multiply.outer(bias1[l][rows], bias2[l], out=s)
                c += s
                t += s
            else:
                c *= 1 / np.pi
                t *= 1 / np.pi
        np.multiply.outer(g1[-1][rows], g2[-1], out=s)      # undo the normalization
        c *= s
        t *= s


@functools.lru_cache(maxsize=32)
def _nt_kernel_fn(spec: MLPSpec):
    """``spec.stax()``'s kernel function, composed layer by layer from jitted neural-tangents layers.

    Jitting the whole ``serial`` kernel function compiles in time growing steeply with
    depth (over 30 s at depth 32 on 2 cores, again for every block shape); per layer, the
    compile cost does not depend on depth, and run time equals the whole-graph jit.
    """
    import jax

    from .spec import neural_tangents

    stax = neural_tangents().stax   # ModuleNotFoundError naming the "nt" extra when it is missing
    b_std = spec.nt_b_std()
    first = jax.jit(stax.Dense(1, W_std=spec.w_std, b_std=b_std)[2])
    hidden = jax.jit(stax.serial(stax.Relu(), stax.Dense(1, W_std=spec.w_std, b_std=b_std))[2])
    head = jax.jit(stax.serial(stax.Relu(), stax.Dense(1, W_std=spec.head_std, b_std=b_std))[2])

    def kernel_fn(x1, x2):
        kernel = first(x1, x2)
        for _ in range(spec.depth - 1):
            kernel = hidden(kernel)
        return head(kernel)

    return kernel_fn


def _nt_block(spec: MLPSpec, x1: np.ndarray, x2: np.ndarray, theta: np.ndarray, sigma: np.ndarray):
    """neural-tangents' analytic kernels for one block, into ``theta, sigma``."""
    from .precision import x64

    with x64():
        out = _nt_kernel_fn(spec.replace(width=1, out_dim=1))(x1, x2)  # both irrelevant to the kernel
        theta[...], sigma[...] = out.ntk, out.nngp


# ------------------------------------------------------------------------ finite nets
def empirical(spec: MLPSpec, params, x1, x2=None, *, head2=None) -> Kernels:
    """Empirical ``Theta`` and ``Sigma`` of the finite net ``params``, averaged over outputs.

    Uses the exact layer-wise form of an MLP's NTK,
    ``Theta(x, x') = sum_l [m_l^2 <a_{l-1}(x), a_{l-1}(x')> + b^2] <delta_l(x), delta_l(x')>``
    over the hidden layers and the head, with ``m_l = spec.multiplier(l, n_{l-1})`` (NTK:
    ``s_l / sqrt(n_{l-1})``), ``delta_l = df / dh_l`` (back-propagated by hand, cheap at any width;
    ``1`` at the head, whose term is ``Sigma = m_head^2 <a_L(x), a_L(x')> + b^2``).  With
    ``head2`` the second argument is read out by another head: the cross-head kernel of
    two task heads on one body (multi-task learning with independent heads); then
    ``sigma`` is zero because the two heads share no parameter.

    A ``ConvSpec``'s net: from its parameter Jacobians (``.jacobian_kernels``).

    Args:
      spec: the architecture of the net (``MLPSpec`` of any parameterization, or ``ConvSpec``).
      params: its parameters ``{"body": [(W, b)] * depth, "head": (W, b)}`` (``spec.init``).
      x1: inputs ``(n1, d)`` (JAX or NumPy, best in the dtype of ``params``).
      x2: inputs ``(n2, d)``; ``None`` means ``x2 = x1``.
      head2: another head ``(W, b)`` that reads out ``x2`` (the cross-head kernel); ``None``: ``params["head"]``.

    Returns:
      ``Kernels`` ``(theta, sigma)``, each ``(n1, n2)`` in the dtype of ``params`` (trace over outputs
      divided by ``out_dim``, as neural-tangents' ``trace_axes=(-1,)``); ``sigma`` is zero with ``head2``.

    Raises:
      ValueError: kernel values that overflow the dtype (non-finite entries: rescale the inputs).

    Examples:
      The empirical kernel of a wide net at initialization is near the infinite-width one (theory.md §7):

      >>> import jax, numpy as np, ntk_bridge as nb
      >>> spec = nb.MLPSpec(depth=2, width=4096)
      >>> x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
      >>> params = spec.init(jax.random.PRNGKey(0), in_dim=3)
      >>> emp, inf = nb.kernels.empirical(spec, params, x), nb.kernels.kernels(spec, x)
      >>> bool(np.linalg.norm(emp.theta - inf.theta) / np.linalg.norm(inf.theta) < 0.1)
      True
    """
    from .spec import ConvSpec

    if isinstance(spec, ConvSpec):    # no layer-wise form: from the parameter Jacobians
        from . import jacobian_kernels

        k = jacobian_kernels.empirical(spec, params, x1, x2, head2=head2)
        return _check_finite(k, spec, np.asarray(x1), np.asarray(x1 if x2 is None else x2))
    x2 = x1 if x2 is None else x2
    cross_head = head2 is not None
    code_maps.ensure_headroom()
    theta, sigma = _empirical_fn(spec, cross_head)(
        params["body"], params["head"], head2 if cross_head else params["head"], x1, x2)
    return _check_finite(Kernels(np.asarray(theta), np.asarray(sigma)), spec, np.asarray(x1), np.asarray(x2))


@functools.lru_cache(maxsize=64)
def _empirical_fn(spec: MLPSpec, cross_head: bool):
    """The jitted layer-wise kernel sum for one architecture (compiled once per shapes)."""
    import jax
    import jax.numpy as jnp

    def fn(body, head1, head2, x1, x2):
        acts1, deltas1 = _forward_backward(spec, body, head1, x1)
        acts2, deltas2 = _forward_backward(spec, body, head2, x2)
        b2 = spec.b_std ** 2
        theta_body = 0.0
        for l in range(spec.depth):
            a1, a2 = acts1[l], acts2[l]
            scale = spec.multiplier(l, a1.shape[-1]) ** 2
            dd = jnp.einsum("ick,jck->ij", deltas1[l], deltas2[l]) / spec.out_dim
            theta_body = theta_body + (scale * a1 @ a2.T + b2) * dd
        last1, last2 = acts1[-1], acts2[-1]
        sigma = spec.multiplier(spec.depth, last1.shape[-1]) ** 2 * last1 @ last2.T + b2
        if cross_head:
            sigma = jnp.zeros_like(sigma)
        return theta_body + sigma, sigma

    return jax.jit(fn)


def _forward_backward(spec: MLPSpec, body, head, x):
    """Layer inputs ``a_0..a_L`` and ``delta_l = df_c/dh_l`` of shape ``(n, width, k)``."""
    import jax.numpy as jnp

    acts, pre = [x], []
    for l, (w, b) in enumerate(body):
        h = spec.multiplier(l, w.shape[0]) * (acts[-1] @ w) + spec.b_std * b
        pre.append(h)
        acts.append(jnp.maximum(h, 0.0))
    w_head = head[0]
    grad_a = jnp.broadcast_to(spec.multiplier(spec.depth, w_head.shape[0]) * w_head, (x.shape[0],) + w_head.shape)
    deltas = [None] * spec.depth
    for l in reversed(range(spec.depth)):
        deltas[l] = grad_a * (pre[l] > 0)[..., None]
        w = body[l][0]
        grad_a = spec.multiplier(l, w.shape[0]) * jnp.einsum("ij,njk->nik", w, deltas[l])
    return acts, deltas
