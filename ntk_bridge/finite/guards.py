"""Checks on a finite net's empirical kernels that stop training before it returns a wrong answer.

A finite run can return numbers that mean nothing without any step failing: an inner loop
whose step is past the stability edge multiplies the error by ``|1 - lr e| > 1`` per step
(test MSE 214 instead of 0.57, measured), and a net whose every hidden unit is dead on some
points has a zero Jacobian there, so it predicts zeros it can neither train nor adapt away
("dead" in absolute terms: every last-layer ReLU off, not a kernel small next to other points).
Both are read off the net (``nb.kernels.empirical``, exact layer-wise sums, cheap at any
width) and raise ``NotComputable`` naming the cause and the fix.
Inputs whose kernel the dtype cannot hold raise ``ValueError`` naming their field;
``targets_note`` measures targets against the net's output scale, for the diagnoses of a
run that leaves its linearization (``fit._diverges``).

The inner kernel of a task is the empirical ``Sigma`` (head-only inner loop: ANIL in
training, MTL and ANIL at test time) or ``Theta`` (MAML, FOMAML) on the points it adapts on;
discrete steps of size ``lr`` diverge when ``lr * lambda_max > 2`` (theory.md §2).  With
``out_dim > 1`` the kernels are averaged over outputs: exact for ``Sigma`` (``Sigma ⊗ I``),
for ``Theta`` up to its ``O(width^-1/2)`` cross-output blocks.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..errors import NotComputable
from ..kernels import empirical
from .problem import Problem

EDGE = 2.0  # discrete GD on a quadratic diverges beyond lr * lambda_max = 2


def _flat(x):
    return np.asarray(x).reshape(-1, np.asarray(x).shape[-1])


def _per_task(spec, params, x, kernel: str) -> np.ndarray:
    """Task-diagonal blocks ``(tasks, p, p)`` (float64) of the empirical ``kernel`` on ``x (tasks, p, d)``."""
    n, p = x.shape[:2]
    k = empirical(spec, params, _flat(x))
    k = np.asarray(getattr(k, kernel), dtype=np.float64).reshape(n, p, n, p)
    return np.einsum("iaib->iab", k)


def inner_lambda_max(spec, params, x, inner: str) -> np.ndarray:
    """Largest eigenvalue ``(tasks,)`` of each task's empirical inner kernel on its points ``x (tasks, p, d)``."""
    blocks = _per_task(spec, params, x, "sigma" if inner == "head" else "theta")
    return np.linalg.eigvalsh(blocks)[:, -1]


def check_inner_loop(cfg: Problem, params, x, *, where: str, label: str, flow: bool, flow_substeps: int,
                     raises: bool = True) -> float:
    """Raise ``NotComputable`` when the inner loop of ``cfg`` on ``x`` is past the stability edge.

    ``params``: the net whose kernel the inner loop descends (``{"body", "head"}``); ``where``:
    which points, for the message.  Returns the largest ``inner_lr * lambda_max`` over tasks
    (``raises=False``: only that).
    """
    lam = inner_lambda_max(cfg.spec, params, x, cfg.inner)
    i = int(np.argmax(lam))
    edge = cfg.inner_lr * float(lam[i])
    if raises and edge > EDGE:
        kernel = "Sigma (head-only inner loop)" if cfg.head_only else "Theta (all parameters adapt)"
        if flow:
            fix = (f"raise flow_substeps above {int(np.ceil(flow_substeps * edge / EDGE))} (the flow is "
                   f"approximated by steps of adapt.lr / flow_substeps)")
        else:
            fix = f"lower adapt.lr below {EDGE / float(lam[i]):.4g}, or use Adaptation(..., flow=True)"
        norm = float(np.max(np.linalg.norm(np.asarray(x[i], dtype=np.float64), axis=-1)))
        raise NotComputable(
            f"{label}: the inner loop diverges on {where} (task {i}, inputs up to |x| = {norm:.3g}): inner step "
            f"{cfg.inner_lr:.4g} x lambda_max {float(lam[i]):.4g} of the net's empirical {kernel} = {edge:.4g} > "
            f"{EDGE:g}, so every step multiplies the error by more than 1; {fix}, or rescale the inputs "
            f"(lambda_max grows like |x|^2)")
    return edge


def check_inputs(spec, params, fitted: dict, queried: dict, *, label: str) -> dict:
    """Check the net's Jacobian ``J(x)`` on every input; return the net's output scale on each point set.

    ``fitted``: ``{fields: x (tasks, p, d)}``, the points each task trains or adapts on;
    ``queried``: the points only predicted on.  ``Theta(x, x) = |J(x)|^2`` (the empirical NTK,
    in the dtype of ``params``) must be a normal number wherever a last-layer unit is live, else
    the inputs' scale is out of the dtype's range: ``ValueError`` naming the point set (on an
    overflow, ``nb.kernels.empirical``'s message).  ``J(x) = 0`` exactly where every last-layer
    ReLU is off and ``b_std = 0``: a task of ``fitted`` with no live point can neither be fitted
    nor adapted to, and the net returns its initial output there (zeros, centered) whatever it
    is trained on.  Dead single points of a narrow net are part of its finite-width error and pass.

    Returns ``{fields: sqrt(mean_x Theta(x, x))}``: how far outputs move per unit parameter
    displacement, the scale targets are measured against (``targets_note``).
    """
    sets = {**fitted, **queried}
    names = list(sets)
    xs = [np.asarray(sets[k]) for k in names]
    flat = np.concatenate([_flat(x) for x in xs])
    try:
        diag = np.asarray(empirical(spec, params, flat).theta).diagonal()
    except ValueError as exc:  # its kernel overflows (nb.kernels.empirical): name the set of the largest inputs
        norms = [float(np.max(np.linalg.norm(_flat(x), axis=-1))) for x in xs]
        raise ValueError(f"{label}: the net's kernel overflows on {names[int(np.argmax(norms))]} (inputs up to "
                         f"|x| = {max(norms):.3g}): {exc}") from exc
    dtype = diag.dtype
    diag = diag.astype(np.float64)
    off = np.asarray(jnp.all(spec.features(params["body"], flat) == 0, axis=-1))  # every last-layer ReLU off
    dead = off & (spec.b_std == 0)
    low = ~dead & (diag < np.finfo(dtype).tiny)
    cuts = np.cumsum([x.shape[0] * x.shape[1] for x in xs])[:-1]  # per-point arrays -> one per point set
    if low.any():
        where = [f"{int(lo.sum())} points of {name}" for name, lo in zip(names, np.split(low, cuts)) if lo.any()]
        norm = float(np.min(np.linalg.norm(flat[low], axis=-1)))
        raise ValueError(
            f"{label}: the net's kernel Theta(x, x) underflows {dtype} on {', '.join(where)} (inputs down to "
            f"|x| = {norm:.3g}, Theta(x, x) grows like |x|^2): rescale the inputs, e.g. to the unit sphere")
    found = []
    for name, x, d in zip(names, xs, np.split(dead, cuts)):
        if name not in fitted:
            continue
        n, p = x.shape[:2]
        tasks = np.flatnonzero(d.reshape(n, p).all(axis=1))
        if tasks.size:
            found.append(f"{tasks.size} of the {n} tasks of {name} (tasks {tasks.tolist()[:5]})")
    if found:
        raise NotComputable(
            f"{label}: the net is degenerate at width {spec.width}: its Jacobian is zero (every hidden unit "
            f"dead) on every point of {', '.join(found)}, so its outputs there cannot move from their initial "
            f"value whatever it is trained or adapted on; use a wider net")
    return {name: float(np.sqrt(np.mean(d))) for name, d in zip(names, np.split(diag, cuts))}


def targets_note(targets: dict, scale: float, target_scale: float) -> str:
    """The targets ``{fields: y}`` (already times ``target_scale``) against the net's output ``scale``, and the fix.

    The kernel regime needs outputs that move by about the net's output scale
    ``sqrt(Theta(x, x))`` (``check_inputs``): to reach targets ``r`` times larger the
    parameters move ``r`` times further, and the net leaves its linearization.
    """
    top = max(float(np.max(np.abs(y))) for y in targets.values())
    fields = ", ".join(targets)
    what = f"target_scale x {fields}" if target_scale != 1 else fields
    fix = f"lower target_scale (now {target_scale:g}) or standardize {fields}" if target_scale != 1 else \
        f"standardize {fields}"
    return (f"the targets ({what}, up to |y| = {top:.3g}) are {top / scale:.4g}x the net's output scale "
            f"sqrt(Theta(x, x)) = {scale:.3g} on their inputs; {fix}")
