"""Task-conditioned networks as multi-task kernels on ``(input, task)`` pairs (issue #16).

A multi-task net is a function ``f(x, i)`` of an input ``x`` (``d`` dims) and a task index
``i`` in ``0..N-1``.  How the task enters decides, in the kernel regime, a multi-task NTK
``Theta((x,i),(x',j))`` and NNGP ``Sigma((x,i),(x',j))``; trained jointly to convergence, the
tasks transfer to each other exactly through the cross-task blocks ``i != j``.  Notation of
theory.md §1: ``L`` hidden ReLU layers, NTK parameterization, ``w = w_std``, ``b = b_std``,
``s_l = w`` for ``l < L`` and ``s_L = head_std``; ``c = task_scale``; ``delta_ij = [i == j]``;
``e_i`` the one-hot vector of task ``i``.  Hidden layer ``l`` has pre-activation ``h_l`` and
activation ``a_l = relu(h_l)``; the output is ``f = h_{L+1}``.

Every architecture runs the arc-cosine recursion of theory.md §1 on pairs ``(x,i)``: with the
pre-activation kernels ``K_l`` (NNGP of ``h_l``) and ``T_l`` (NTK of ``h_l``), the angle ``a`` of
``K_l`` and ``g = sqrt(K_l(x,x) K_l(x',x'))``::

    E_l   = E[relu(u) relu(v)]   = g / (2 pi) (sin a + (pi - a) cos a)
    D_l   = E[relu'(u) relu'(v)] = (pi - a) / (2 pi)
    K_{l+1} = s_l^2 m_l E_l + b^2
    T_{l+1} = s_l^2 m_l T_l D_l + K_{l+1} + s_l^2 c^2 delta_ij E_l [gate on layer l]

with ``m_l = 1`` except below a multiplicative gate; ``Sigma = K_{L+1}``, ``Theta = T_{L+1}``.

``"concat"`` — input ``z = [x, c e_i]`` in ``R^(d+N)``, first-layer fan-in ``d + N``, one
shared output: the plain MLP kernel of ``z``, i.e. the recursion started from
``K_1 = T_1 = w^2 (<x,x'> + c^2 delta_ij) / (d + N) + b^2``.

``"additive"`` — ``h_l = (s/sqrt(fan_in)) W a_{l-1} + b beta + c E e_i`` at hidden layer
``l = layer`` (``E`` is ``width x N``, trainable, ``N(0,1)`` entries; the first layer keeps fan-in
``d``).  ``c E e_i`` is a per-task bias: it adds ``c^2 delta_ij`` to the NNGP (variance of its
entries) and the same to the NTK (its gradient is ``c e_i``)::

    K_l <- K_l + c^2 delta_ij,   T_l <- T_l + c^2 delta_ij

**Additive = concat.**  At ``layer = 1`` the concat pre-activation is
``(w/sqrt(d+N)) (W_x x + c W_e e_i) + b beta``: that is the additive net on inputs
``x sqrt(d/(d+N))`` with ``E = W_e`` and scale ``c' = w c / sqrt(d+N)`` — parameter for
parameter, gradient for gradient, so the two NTKs agree at every width, not only in the limit
(``concat_as_additive`` gives the map; tested at 1e-10).

``"multiplicative"`` — a trainable gate per task on hidden layer ``l = layer``:
``a_l = relu(h_l) * (1 + c G e_i)`` elementwise, ``G`` (``width x N``, ``N(0,1)``, trainable).
The gate ``gamma_i = 1 + c G e_i`` is independent of ``h_l`` with
``E[gamma_i gamma_j] = 1 + c^2 delta_ij =: m_ij``.  Then (``next = h_{l+1}``)

* NNGP: ``K_{l+1} = s_l^2 m_ij E_l + b^2`` (the mean of ``a_l a_l'`` factorizes);
* NTK, parameters below the gate: ``s_l^2 m_ij T_l D_l`` (the back-propagated signal carries
  ``gamma_i gamma_j``); the next layer's own weights and bias: ``K_{l+1}``; the gate entries
  ``G_{k i}``: ``d next / d G_{k i} = (s_l/sqrt(n)) W_{. k} c relu(h_l^k)`` is shared by
  ``(x,i)`` and ``(x',j)`` only if ``i = j``, giving ``s_l^2 c^2 delta_ij E_l``.

So the cross-task kernel is the single-task kernel's, while the same-task kernel gains
``c^2 (...)``: ``c = 0`` pools the tasks into one function, ``c -> inf`` decouples them.

``"multi-head-shared"``, ``"multi-head-independent"`` — a shared body and one head per task
(theory.md §4): ``Theta = rho_ij Theta_body + delta_ij Sigma`` with the head-init correlation
``rho_ij = 1`` (every head starts from one vector) or ``delta_ij`` (heads drawn independently:
at infinite width distinct heads are distinct output units).  ``"independent"`` — one whole
net per task, nothing shared: ``Theta = delta_ij Theta``, ``Sigma = delta_ij Sigma``.  The two
last coincide at infinite width (tested); at finite width the multi-head cross-task kernel is
``O(width^-1/2)``.

``sigma`` in the returned ``Kernels`` is the readout's contribution to
the NTK (so ``theta_body = theta - sigma`` keeps its meaning).  With one shared readout it is
the output NNGP; with multi-head it is ``delta_ij Sigma``, while the output NNGP of shared head
init is ``Sigma`` for every pair (identical heads).

Joint training (``mtl``): all tasks trained on their supports ``S = U_i S_i`` by gradient
flow from the zero mean function to ``t = inf``; with per-point loss weights ``W`` (diagonal)
and ``ridge`` the weighted kernel ridge regression
``min_f 0.5 sum_p W_p (f(p) - y_p)^2 + 0.5 ridge |f|_H^2`` gives
``pred(x,i) = K((x,i), S) (K(S,S) + ridge W^-1)^-1 Y_S``.  Without ridge the weighting cannot
change the limit: the flow ``df_S/dt = -K W (f_S - Y)`` interpolates ``Y`` for any positive
``W``, and the function off the supports is then ``K(., S) K^-1 Y`` (it only changes the
*path*, i.e. finite-time predictions).  With ridge, weight ``W_p`` acts as a per-point ridge
``ridge / W_p``: up-weighting a task fits it more tightly.  ``weights="data"`` is ``W = 1`` (every
point counts the same, tasks in proportion to their data); ``weights="uniform"`` gives each task
the same total weight, ``W_p = |S| / (N |S_i|)`` (the course notes' "sample tasks uniformly,
regardless of their data quantity"); both average to 1 over ``S``, so ``ridge`` keeps its scale
and the two coincide when the support sizes are equal.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import numpy as np

from . import validate
from .errors import NotComputable
from .kernels import Kernels, check_points
from .predict.device import backend
from .predict.outer_solve import OuterSolve
from .predict.spec_level import check_out_dim
from .spec import MLPSpec, dense
from .tasks import TaskSet

ARCHITECTURES = ("concat", "additive", "multiplicative", "multi-head-shared", "multi-head-independent",
                 "independent")
WEIGHTS = ("uniform", "data")


# ------------------------------------------------------------------------ analytic kernels
def kernel(spec: MLPSpec, x1, t1, x2=None, t2=None, *, architecture: str = "concat", task_scale: float = 1.0,
           layer: int = 1, n_tasks: int | None = None) -> Kernels:
    """Infinite-width multi-task NTK and readout kernel between pairs ``(x1, t1)`` and ``(x2, t2)``.

    Args:
      spec: the base MLP (``width`` ignored).
      x1: inputs ``(n1, d)``.
      t1: task indices of ``x1``, ``(n1,)``, integers in ``[0, n_tasks)``.
      x2: inputs ``(n2, d)``; ``None`` means ``(x2, t2) = (x1, t1)``.
      t2: task indices of ``x2``, ``(n2,)``; given exactly when ``x2`` is.
      architecture: one of ``ARCHITECTURES`` (module docstring: definitions and kernels).
      task_scale: ``c >= 0`` (concat, additive, multiplicative; ignored by the others).
      layer: hidden layer ``1..depth`` that additive/multiplicative conditioning acts on.
      n_tasks: ``N``, the number of training tasks (concat's one-hot length, part of its
        fan-in ``d + N``); ``None``: ``1 + max`` task index seen.  Pass it explicitly when
        kernel blocks are computed separately, so that they agree.
    Returns:
      ``Kernels`` ``(theta, sigma)``, each ``(n1, n2)`` float64, finite.
    Raises:
      ValueError: naming the bad argument: ``t2`` without ``x2``, task ids that are not a non-empty 1-d
        integer array ``>= 0`` or not one per point, inputs of different dims, ``n_tasks`` not above
        every task id, an unknown ``architecture``, ``layer`` outside ``1..depth``.
      NotComputable: entries past float64's range: they grow like ``task_scale^2``, and the
        message gives the largest usable ``task_scale`` for these inputs and ``spec``.

    Examples:
      Multi-head nets share the body's kernel across tasks and the head's only within a task; with
      ``c = 0`` a multiplicative gate pools the tasks into the single-task NTK:

      >>> import numpy as np, ntk_bridge as nb
      >>> spec = nb.MLPSpec(depth=2)
      >>> x, t = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 0, 1, 1])
      >>> plain = nb.kernels.kernels(spec, x)                         # one task
      >>> k = nb.conditioning.kernel(spec, x, t, architecture="multi-head-shared")
      >>> k.theta.shape, bool(np.isclose(k.theta[0, 2], plain.theta_body[0, 2]))
      ((4, 4), True)
      >>> float(nb.conditioning.kernel(spec, x, t, architecture="independent").theta[0, 2])
      0.0
      >>> gated = nb.conditioning.kernel(spec, x, t, architecture="multiplicative", task_scale=0.0)
      >>> bool(np.allclose(gated.theta, plain.theta))
      True
    """
    validate.instance("spec", spec, MLPSpec)
    architecture = validate.choice("architecture", architecture, ARCHITECTURES)
    task_scale = validate.nonnegative("task_scale", task_scale)
    layer = validate.integer("layer", layer, 1, spec.depth)
    x1, t1 = check_points(x1, "x1"), _task_ids(t1, "t1")
    if x2 is None:
        if t2 is not None:
            raise ValueError("t2 given without x2: pass both, or neither for (x2, t2) = (x1, t1)")
        x2, t2 = x1, t1
    else:
        x2, t2 = check_points(x2, "x2"), _task_ids(t2, "t2")
    for x, t, name in ((x1, t1, "t1"), (x2, t2, "t2")):
        if t.shape[0] != x.shape[0]:
            raise ValueError(f"{name} has {t.shape[0]} task ids for {x.shape[0]} points")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x2 has input dim {x2.shape[1]}, x1 has {x1.shape[1]}")
    seen = 1 + int(max(t1.max(), t2.max()))
    n_tasks = seen if n_tasks is None else validate.integer("n_tasks", n_tasks, seen)
    out = _finite_or_none(spec, x1, t1, x2, t2, architecture, task_scale, layer, n_tasks)
    if out is None:
        c_max = _max_task_scale(spec, np.concatenate([x1, x2]), architecture, layer, n_tasks, task_scale)
        if c_max == 0.0:
            raise NotComputable(f"the {architecture!r} kernel of these inputs overflows float64 even at task_scale=0: "
                                f"rescale the inputs, e.g. to the unit sphere, or lower spec.w_std / spec.head_std")
        raise NotComputable(f"task_scale={task_scale:g} makes the {architecture!r} kernel overflow float64 (it grows "
                            f"like task_scale^2): use 0 <= task_scale <= {c_max:.3g} for these inputs and spec")
    return out


def _finite_or_none(spec, x1, t1, x2, t2, architecture, c, layer, n_tasks) -> Kernels | None:
    """``_pair_kernels``, or ``None`` where an entry overflows float64 (inf or nan)."""
    with np.errstate(over="ignore", invalid="ignore"):   # overflow is the caller's error, not a warning
        out = _pair_kernels(spec, x1, t1, x2, t2, architecture, c, layer, n_tasks)
    return out if np.isfinite(out.theta).all() and np.isfinite(out.sigma).all() else None


def _max_task_scale(spec, x, architecture, layer, n_tasks, too_big: float) -> float:
    """The largest ``task_scale`` below ``too_big`` (to 1%) at which the kernels of the points ``x`` are finite.

    Every intermediate of the recursion is bounded by its diagonal's (the kernels are PSD), and
    the diagonal grows with ``|x|^2`` and, affinely, with ``task_scale^2``: the kernels are finite
    iff those of the longest point with itself are, and finiteness is monotone in ``task_scale``,
    so a geometric bisection on that ``1 x 1`` kernel finds the edge.  ``0.0`` if even
    ``task_scale = 0`` overflows.
    """
    p, t = x[[int(np.argmax(np.einsum("ij,ij->i", x, x)))]], np.zeros(1, dtype=np.int64)

    def finite(c):
        return _finite_or_none(spec, p, t, p, t, architecture, c, layer, n_tasks) is not None

    if not finite(0.0):
        return 0.0
    lo, hi = np.finfo(np.float64).tiny, too_big          # tiny^2 underflows: the same kernel as 0
    while hi > 1.01 * lo:
        mid = math.sqrt(lo) * math.sqrt(hi)
        lo, hi = (mid, hi) if finite(mid) else (lo, mid)
    return lo


def concat_as_additive(spec: MLPSpec, x, task_scale: float, n_tasks: int):
    """``(x', c')`` such that additive at layer 1 on ``x'`` with scale ``c'`` is concat on ``x`` with ``task_scale``.

    ``x' = x sqrt(d / (d+N))``, ``c' = w_std task_scale / sqrt(d+N)``; with ``E = W_e`` (the
    one-hot rows of concat's first weight matrix) the two nets are the same function of the
    same parameters, so their kernels agree at every width.

    Args:
      spec: the base MLP (its ``w_std`` enters ``c'``).
      x: inputs ``(n, d)``.
      task_scale: concat's ``c >= 0``.
      n_tasks: ``N >= 1``, the length of concat's one-hot task code.

    Returns:
      ``(x', c')``: the rescaled inputs ``(n, d)`` float64 and the additive net's ``task_scale`` (a float).

    Raises:
      ValueError: inputs that ``check_points`` refuses, a negative ``task_scale`` or ``n_tasks < 1``.

    Examples:
      >>> import numpy as np, ntk_bridge as nb
      >>> spec = nb.MLPSpec(depth=2)
      >>> x, t = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 1, 0, 1])
      >>> x_add, c_add = nb.conditioning.concat_as_additive(spec, x, task_scale=1.5, n_tasks=2)
      >>> round(c_add, 4)                                              # sqrt(2) * 1.5 / sqrt(3 + 2)
      0.9487
      >>> concat = nb.conditioning.kernel(spec, x, t, architecture="concat", task_scale=1.5, n_tasks=2)
      >>> additive = nb.conditioning.kernel(spec, x_add, t, architecture="additive", task_scale=c_add, layer=1)
      >>> bool(np.allclose(concat.theta, additive.theta)), bool(np.allclose(concat.sigma, additive.sigma))
      (True, True)
    """
    x = check_points(x, "x")
    task_scale = validate.nonnegative("task_scale", task_scale)
    n_tasks = validate.integer("n_tasks", n_tasks, 1)
    fan = x.shape[1] + n_tasks
    return x * math.sqrt(x.shape[1] / fan), spec.w_std * task_scale / math.sqrt(fan)


def _pair_kernels(spec, x1, t1, x2, t2, architecture, c, layer, n_tasks) -> Kernels:
    same_task = t1[:, None] == t2[None, :]
    ident = _same_rows(x1, x2)   # pairs whose pre-activations are one process: cos = 1 exactly
    d, w2, b2, c2 = x1.shape[1], spec.w_std ** 2, spec.b_std ** 2, c * c
    if architecture == "concat":
        fan = d + n_tasks
        k = w2 * (x1 @ x2.T + c2 * same_task) / fan + b2
        kd1 = w2 * (np.einsum("ij,ij->i", x1, x1) + c2) / fan + b2
        kd2 = w2 * (np.einsum("ij,ij->i", x2, x2) + c2) / fan + b2
        ident &= same_task
    else:
        k = w2 * (x1 @ x2.T) / d + b2
        kd1 = w2 * np.einsum("ij,ij->i", x1, x1) / d + b2
        kd2 = w2 * np.einsum("ij,ij->i", x2, x2) / d + b2
    t = k.copy()
    for l in range(1, spec.depth + 1):               # k, t: kernels of the pre-activation h_l
        s2 = w2 if l < spec.depth else spec.head_std ** 2
        if architecture == "additive" and l == layer:
            k, t, kd1, kd2 = k + c2 * same_task, t + c2 * same_task, kd1 + c2, kd2 + c2
            ident &= same_task
        gate = architecture == "multiplicative" and l == layer
        k, t, kd1, kd2 = relu_dense(k, t, kd1, kd2, ident, s2, b2, gate_scale2=c2 if gate else None,
                                    same_task=same_task)
        if gate:
            ident &= same_task
    theta, sigma = t, k
    if architecture in ("multi-head-shared", "multi-head-independent", "independent"):
        delta = same_task.astype(np.float64)
        rho = 1.0 if architecture == "multi-head-shared" else delta
        if architecture == "independent":
            theta = delta * theta                    # one net per task: nothing crosses tasks
        else:
            theta = rho * (theta - sigma) + delta * sigma
        sigma = delta * sigma
    return Kernels(theta, sigma)


def relu_dense(k, t, kd1, kd2, ident, s2: float, b2: float, *, gate_scale2: float | None = None, same_task=None):
    """One ReLU layer then Dense: pre-activation kernels of ``h_l`` to those of ``h_{l+1}``.

    With ``g = sqrt(kd1 kd2')``, ``cos a = k / g``: ``E = g (sin a + (pi - a) cos a) / (2 pi)``,
    ``D = (pi - a) / (2 pi)``, then ``k' = s2 m E + b2``, ``t' = s2 m t D + k'`` (``+ s2 c^2 delta_ij E``
    with a gate), diagonals ``s2 m_d kd / 2 + b2``; ``m = 1 + c^2 delta_ij``, ``m_d = 1 + c^2`` with a gate,
    else 1.  The generic per-layer map of theory.md §1, kept reusable here.

    Args:
      k: NNGP of ``h_l`` on pairs, ``(n1, n2)`` float64.
      t: NTK of ``h_l`` on pairs, ``(n1, n2)``.
      kd1: NNGP diagonal of the first points, ``K_l(x1, x1)``, ``(n1,)``.
      kd2: NNGP diagonal of the second points, ``(n2,)``.
      ident: boolean ``(n1, n2)``, pairs known to be the same process (``cos = 1`` set exactly:
        ``arccos`` at ``1 - eps`` loses half the digits).
      s2: the Dense layer's ``W_std^2``.
      b2: the Dense layer's ``b_std^2``.
      gate_scale2: ``c^2`` of a multiplicative gate ``1 + c G e_i`` on this layer's activations (module
        docstring); ``None``: no gate.
      same_task: boolean ``(n1, n2)``, ``delta_ij``; needed with ``gate_scale2`` only.

    Returns:
      ``(k, t, kd1, kd2)`` of ``h_{l+1}``: ``(n1, n2)``, ``(n1, n2)``, ``(n1,)``, ``(n2,)`` float64.

    Examples:
      From the first layer's kernels ``K_1 = T_1 = w_std^2 <x, x'> / d``, one ReLU + head is the depth-1 NTK:

      >>> import numpy as np, ntk_bridge as nb
      >>> from ntk_bridge.conditioning import relu_dense
      >>> x = np.random.default_rng(0).standard_normal((4, 3))
      >>> k1 = 2.0 * x @ x.T / 3
      >>> kd = np.diag(k1).copy()
      >>> k, t, kd1, kd2 = relu_dense(k1, k1.copy(), kd, kd, np.eye(4, dtype=bool), s2=1.0, b2=0.0)
      >>> ref = nb.kernels.kernels(nb.MLPSpec(depth=1), x)
      >>> bool(np.allclose(k, ref.sigma)), bool(np.allclose(t, ref.theta)), bool(np.allclose(kd1, np.diag(k)))
      (True, True, True)
    """
    g = np.sqrt(np.multiply.outer(kd1, kd2))
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(g > 0, k / np.where(g > 0, g, 1.0), 1.0)   # zero-variance units: relu = 0 anyway
    np.clip(cos, -1.0, 1.0, out=cos)                # round-off can leave |cos| a few ulp above 1
    cos[ident] = 1.0
    sin = np.sqrt((1.0 - cos) * (1.0 + cos))
    angle = np.arctan2(sin, cos)
    e_relu = g / (2 * np.pi) * (sin + (np.pi - angle) * cos)
    e_step = (np.pi - angle) / (2 * np.pi)
    m, md = 1.0, 1.0
    if gate_scale2 is not None:
        m, md = 1.0 + gate_scale2 * same_task, 1.0 + gate_scale2
    k_next = s2 * m * e_relu + b2
    t_next = s2 * m * t * e_step + k_next
    if gate_scale2 is not None:
        t_next = t_next + s2 * gate_scale2 * same_task * e_relu
    return k_next, t_next, s2 * md * kd1 / 2 + b2, s2 * md * kd2 / 2 + b2


def _same_rows(x1, x2) -> np.ndarray:
    if x1 is x2:
        return np.eye(x1.shape[0], dtype=bool)
    return np.all(x1[:, None, :] == x2[None, :, :], axis=-1) if x1.size * x2.shape[0] <= 1 << 24 else \
        np.array([[np.array_equal(a, b) for b in x2] for a in x1])


def _task_ids(t, name: str) -> np.ndarray:
    if t is None:
        raise ValueError(f"{name} (task ids) is required")
    arr = np.asarray(t)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        raise ValueError(f"{name} must be a non-empty 1-d array of integer task ids, got {arr.dtype} {arr.shape}")
    if arr.min() < 0:
        raise ValueError(f"{name} must hold task ids >= 0, got {int(arr.min())}")
    return arr.astype(np.int64)


# ------------------------------------------------------------------------ joint training, t = inf
def mtl(spec: MLPSpec, tasks: TaskSet, *, architecture: str = "multi-head-shared", task_scale: float = 1.0,
        layer: int = 1, ridge: float = 0.0, weights: str = "uniform", support_sizes=None) -> np.ndarray:
    """All tasks trained jointly to convergence on their supports; predictions on their queries.

    ``pred_i(x) = K((x,i), S) (K(S,S) + ridge W^-1)^-1 Y_S`` with ``K`` the conditioned NTK
    (``kernel``), ``S`` the union of the supports, ``W`` the loss weights (module docstring).

    Args:
      spec: the base MLP of the conditioned net (``kernel``); its ``out_dim`` is the tasks'.
      tasks: ``N`` tasks; task ``i`` trains on its support and is scored on its query.
      architecture: one of ``ARCHITECTURES`` (``kernel``).
      task_scale: ``c >= 0`` (``kernel``).
      layer: the hidden layer that additive/multiplicative conditioning acts on (``kernel``).
      ridge: ``>= 0``, kernel ridge (the flow's limit with an L2 pull toward the initial parameters).
      weights: ``"uniform"`` (each task the same total weight) or ``"data"`` (each point the
        same); changes the result only when ``ridge > 0`` and support sizes differ.
      support_sizes: ``N`` integers ``1..tasks.n_support``: task ``i`` trains on its first
        ``support_sizes[i]`` support points (unequal data per task); ``None``: all.
    Returns:
      ``(N, n_query, out_dim)`` float64.
    Raises:
      ValueError: bad arguments (``spec.out_dim`` must be the tasks' output dimension).
      NotComputable: a singular, indefinite or ill-conditioned ``K + ridge W^-1`` (the message
        suggests ``ridge``), as ``ntk_bridge.predict.mtl``; a kernel past float64's range
        (``kernel``).

    Examples:
      Without ridge, joint training interpolates every support (query = support gives the targets back):

      >>> import numpy as np, ntk_bridge as nb
      >>> spec, tasks = nb.MLPSpec(depth=2), nb.tasks.shared_feature(3, 4, 4, dim=3, seed=0)
      >>> nb.conditioning.mtl(spec, tasks, architecture="concat").shape
      (3, 4, 1)
      >>> same = nb.TaskSet(tasks.xs, tasks.ys, tasks.xs, tasks.ys)
      >>> bool(np.allclose(nb.conditioning.mtl(spec, same), tasks.ys))
      True
    """
    check_out_dim(spec, tasks, "tasks")
    ridge = validate.nonnegative("ridge", ridge)
    weights = validate.choice("weights", weights, WEIGHTS)
    n = tasks.n_tasks
    sizes = (tasks.n_support,) * n if support_sizes is None else \
        validate.integers("support_sizes", support_sizes, 1, tasks.n_support)
    if len(sizes) != n:
        raise ValueError(f"support_sizes must have one entry per task ({n}), got {len(sizes)}")
    xs = np.concatenate([tasks.xs[i, :s] for i, s in enumerate(sizes)])
    ys = np.concatenate([tasks.ys[i, :s] for i, s in enumerate(sizes)])
    ts = np.repeat(np.arange(n), sizes)
    xq = tasks.xq.reshape(-1, tasks.dim)
    tq = np.repeat(np.arange(n), tasks.n_query)
    opts = dict(architecture=architecture, task_scale=task_scale, layer=layer, n_tasks=n)
    k_train = kernel(spec, xs, ts, **opts).theta
    k_query = kernel(spec, xq, tq, xs, ts, **opts).theta
    w = np.ones(len(ts)) if weights == "data" else len(ts) / (n * np.asarray(sizes, dtype=np.float64)[ts])
    k_train[np.diag_indices(len(ts))] += ridge / w           # per-point ridge ridge / W_p
    solver = OuterSolve(k_train, ys, be=backend("numpy"), name=f"conditioned NTK ({architecture!r})", consume=True,
                        fix=", or remove repeated training points")
    return (k_query @ solver.coef(None)).reshape(n, tasks.n_query, tasks.out_dim)


# ------------------------------------------------------------------------ finite conditioned nets
@dataclasses.dataclass(frozen=True)
class ConditionedNet:
    """A finite ``spec``-width net with task conditioning, pure JAX, NTK parameterization.

    Parameters (``init``): ``{"body": [(W, b)] * depth, "head": (W, b)}`` plus ``"embed"`` (``E``,
    ``width x N``, additive) or ``"gate"`` (``G``, ``width x N``, multiplicative); multi-head nets
    carry heads of shape ``(N, width, k), (N, k)``; ``"independent"`` stacks ``N`` whole nets
    (every leaf gets a leading task axis).  ``apply(params, x, t) -> (n, out_dim)``: row ``p`` is
    ``f(x_p, t_p)``.  The readout's parameters are the ``"head"`` leaves.  Fields are checked on
    construction (``ValueError`` naming the field; ``NotComputable`` for a non-NTK ``spec``).

    Attributes:
      spec: the base ``MLPSpec`` (depth, width, ``w_std``, ...), NTK parameterization.
      architecture: how the task enters, one of ``ARCHITECTURES`` (module docstring).
      n_tasks: ``N``, the number of tasks (task ids ``0..N-1``).
      in_dim: ``d``, the input dimension (without concat's one-hot code).
      task_scale: ``c >= 0``, the scale of the task code, embedding or gate.
      layer: the hidden layer ``1..depth`` that additive/multiplicative conditioning acts on.

    Examples:
      >>> import jax, numpy as np, ntk_bridge as nb
      >>> cnet = nb.conditioning.ConditionedNet(nb.MLPSpec(depth=1, width=64), "additive", n_tasks=3, in_dim=2)
      >>> params = cnet.init(jax.random.PRNGKey(0))
      >>> sorted(params), params["embed"].shape                       # E: width x N
      (['body', 'embed', 'head'], (64, 3))
      >>> x, t = np.ones((4, 2), np.float32), np.array([0, 1, 2, 0])
      >>> out = cnet.apply(params, x, t)
      >>> out.shape, bool(np.array_equal(out[0], out[3]))             # rows 0 and 3: the same (x, task)
      ((4, 1), True)
      >>> cnet.kernel(x, t).theta.shape                               # its infinite-width kernel
      (4, 4)
    """

    spec: MLPSpec
    architecture: str
    n_tasks: int
    in_dim: int
    task_scale: float = 1.0
    layer: int = 1

    def __post_init__(self):
        validate.instance("spec", self.spec, MLPSpec)
        self.spec.require_ntk("a task-conditioned net (its kernel and its finite net)")
        validate.choice("architecture", self.architecture, ARCHITECTURES)
        object.__setattr__(self, "n_tasks", validate.integer("n_tasks", self.n_tasks, 1))
        object.__setattr__(self, "in_dim", validate.integer("in_dim", self.in_dim, 1))
        object.__setattr__(self, "task_scale", validate.nonnegative("task_scale", self.task_scale))
        object.__setattr__(self, "layer", validate.integer("layer", self.layer, 1, self.spec.depth))

    def init(self, key) -> dict:
        """Standard-normal parameters (the dtype JAX is in; draw under ``x64(False)`` and cast for one net per seed)."""
        import jax

        spec, n, arch = self.spec, self.n_tasks, self.architecture
        k_base, k_extra = jax.random.split(key)
        if arch == "independent":
            return jax.vmap(lambda kk: spec.init(kk, self.in_dim))(jax.random.split(k_base, n))
        fan_in = self.in_dim + n if arch == "concat" else self.in_dim
        params = spec.init(k_base, fan_in)
        if arch in ("additive", "multiplicative"):
            params["embed" if arch == "additive" else "gate"] = jax.random.normal(k_extra, (spec.width, n))
        elif arch == "multi-head-shared":
            params["head"] = jax.tree_util.tree_map(lambda a: jax.numpy.stack([a] * n), params["head"])
        elif arch == "multi-head-independent":
            kw, kb = jax.random.split(k_extra)
            params["head"] = (jax.random.normal(kw, (n, spec.width, spec.out_dim)),
                              jax.random.normal(kb, (n, spec.out_dim)))
        return params

    def apply(self, params: dict, x, t):
        """Outputs ``f(x_p, t_p)``, shape ``(n, out_dim)``; ``t``: integer task ids ``(n,)``."""
        import jax
        import jax.numpy as jnp

        spec, arch, c = self.spec, self.architecture, self.task_scale
        onehot = jax.nn.one_hot(t, self.n_tasks, dtype=x.dtype)
        if arch == "independent":
            outs = jax.vmap(lambda p: spec.apply(p, x))(params)          # (N, n, k): every net on every point
            return jnp.einsum("pi,ipk->pk", onehot, outs)
        h = jnp.concatenate([x, c * onehot], axis=1) if arch == "concat" else x
        for l, (w, b) in enumerate(params["body"], start=1):
            pre = dense(h, w, b, spec.w_std, spec.b_std)
            if arch == "additive" and l == self.layer:
                pre = pre + c * onehot @ params["embed"].T
            h = jnp.maximum(pre, 0.0)
            if arch == "multiplicative" and l == self.layer:
                h = h * (1.0 + c * onehot @ params["gate"].T)
        if arch.startswith("multi-head"):
            w, b = params["head"]                                           # (N, width, k), (N, k)
            outs = jax.vmap(lambda wi, bi: spec.head_apply((wi, bi), h))(w, b)
            return jnp.einsum("pi,ipk->pk", onehot, outs)
        return spec.head_apply(params["head"], h)

    def kernel(self, x1, t1, x2=None, t2=None) -> Kernels:
        """The infinite-width kernel of this net (``kernel``)."""
        return kernel(self.spec, x1, t1, x2, t2, architecture=self.architecture, task_scale=self.task_scale,
                      layer=self.layer, n_tasks=self.n_tasks)


def net(spec: MLPSpec, architecture: str, *, n_tasks: int, in_dim: int, task_scale: float = 1.0,
        layer: int = 1) -> ConditionedNet:
    """The finite conditioned net (``ConditionedNet``).

    Args:
      spec: the base ``MLPSpec`` (NTK parameterization).
      architecture: one of ``ARCHITECTURES``.
      n_tasks: ``N >= 1``.
      in_dim: the input dimension ``d``.
      task_scale: ``c >= 0``.
      layer: the hidden layer of additive/multiplicative conditioning, ``1..depth``.

    Returns:
      ``ConditionedNet(spec, architecture, n_tasks, in_dim, task_scale, layer)``.

    Raises:
      ValueError: naming the field (``ConditionedNet``'s checks).
      NotComputable: a ``spec`` with a parameterization other than ``"ntk"``.

    Examples:
      >>> import ntk_bridge as nb
      >>> cnet = nb.conditioning.net(nb.MLPSpec(depth=2, width=32), "concat", n_tasks=2, in_dim=3)
      >>> cnet == nb.conditioning.ConditionedNet(nb.MLPSpec(depth=2, width=32), "concat", 2, 3)
      True
      >>> nb.conditioning.net(nb.MLPSpec(depth=2), "concat", n_tasks=2, in_dim=3, layer=3)
      Traceback (most recent call last):
      ...
      ValueError: layer must be an integer in [1, 2], got 3
    """
    return ConditionedNet(spec, architecture, n_tasks, in_dim, task_scale, layer)


def empirical(cnet: ConditionedNet, params, x1, t1, x2=None, t2=None) -> Kernels:
    """Empirical NTK of a finite conditioned net from its Jacobians, and the readout's part of it.

    ``theta = sum_p df(x1,t1)/dp df(x2,t2)/dp`` over every parameter, ``sigma`` over the
    ``"head"`` leaves only; traced over outputs and divided by ``out_dim``.  Computed in the
    dtype of ``params`` (use ``precision.x64()`` and float64 parameters for proof-grade checks).

    Args:
      cnet: the ``ConditionedNet``.
      params: its parameters (``cnet.init``).
      x1: inputs ``(n1, d)``.
      t1: integer task ids of ``x1``, ``(n1,)``.
      x2: inputs ``(n2, d)``; ``None``: ``(x1, t1)`` (then ``t2`` is ignored).
      t2: integer task ids of ``x2``, ``(n2,)``.

    Returns:
      ``Kernels`` ``(theta, sigma)``, each ``(n1, n2)`` NumPy arrays in the dtype of ``params``.

    Raises:
      ValueError: ``cnet`` not a ``ConditionedNet``, or task ids that are not a non-empty 1-d integer
        array ``>= 0``.

    Examples:
      Independent nets share no parameter across tasks; a wide multi-head net is near its limit (``kernel``):

      >>> import jax, numpy as np, ntk_bridge as nb
      >>> x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
      >>> t = np.array([0, 0, 1, 1])
      >>> cnet = nb.conditioning.net(nb.MLPSpec(depth=1, width=32), "independent", n_tasks=2, in_dim=3)
      >>> k = nb.conditioning.empirical(cnet, cnet.init(jax.random.PRNGKey(0)), x, t)
      >>> k.theta.shape, k.theta.dtype, float(k.theta[0, 2]), float(k.sigma[1, 3])
      ((4, 4), dtype('float32'), 0.0, 0.0)
      >>> wide = nb.conditioning.net(nb.MLPSpec(depth=1, width=4096), "multi-head-shared", n_tasks=2, in_dim=3)
      >>> k, limit = nb.conditioning.empirical(wide, wide.init(jax.random.PRNGKey(0)), x, t), wide.kernel(x, t)
      >>> bool(np.linalg.norm(k.theta - limit.theta) / np.linalg.norm(limit.theta) < 0.1)
      True
    """
    import jax.numpy as jnp

    validate.instance("cnet", cnet, ConditionedNet)
    same = x2 is None
    x1, t1 = jnp.asarray(x1), jnp.asarray(_task_ids(t1, "t1"))
    j1 = _jacobian_fn(cnet)(params, x1, t1)
    j2 = j1 if same else _jacobian_fn(cnet)(params, jnp.asarray(x2), jnp.asarray(_task_ids(t2, "t2")))
    return Kernels(*(np.asarray(a) for a in _contract(j1, j2, cnet.spec.out_dim)))


@functools.lru_cache(maxsize=32)
def _jacobian_fn(cnet: ConditionedNet):
    import jax

    return jax.jit(jax.jacrev(cnet.apply))


def _contract(j1, j2, out_dim: int):
    import jax
    import jax.numpy as jnp

    def dot(a, b):   # (n1, k, *leaf), (n2, k, *leaf) -> (n1, n2)
        return jnp.einsum("akp,bkp->ab", a.reshape(a.shape[0], a.shape[1], -1), b.reshape(b.shape[0], b.shape[1], -1))

    def total(tree1, tree2):
        return sum(dot(a, b) for a, b in zip(jax.tree_util.tree_leaves(tree1), jax.tree_util.tree_leaves(tree2)))

    heads = ("head",)
    theta = total(j1, j2) / out_dim
    sigma = total({k: v for k, v in j1.items() if k in heads}, {k: v for k, v in j2.items() if k in heads}) / out_dim
    return theta, sigma
