"""Checks on a finite net's empirical kernels that stop training before it returns a wrong answer.

A finite run can return numbers that mean nothing without any step failing: an inner loop
whose step is past the stability edge multiplies the error by ``|1 - lr e| > 1`` per step
(test MSE 214 instead of 0.57, measured), and a net whose every hidden unit is dead on some
points has a zero Jacobian there, so it predicts zeros it can neither train nor adapt away.
Both are read off the net's empirical kernels (``nb.kernels.empirical``, exact layer-wise
sums, cheap at any width) and raise :class:`~ntk_bridge.errors.NotComputable` naming the
cause and the fix.

The inner kernel of a task is the empirical ``Sigma`` (head-only inner loop: ANIL in
training, MTL and ANIL at test time) or ``Theta`` (MAML, FOMAML) on the points it adapts on;
discrete steps of size ``lr`` diverge when ``lr * lambda_max > 2`` (theory.md §2).  With
``out_dim > 1`` the kernels are averaged over outputs: exact for ``Sigma`` (``Sigma ⊗ I``),
for ``Theta`` up to its ``O(width^-1/2)`` cross-output blocks.
"""
from __future__ import annotations

import numpy as np

from ..errors import NotComputable
from ..kernels import empirical
from .problem import Problem

EDGE = 2.0        # discrete GD on a quadratic diverges beyond lr * lambda_max = 2
DEAD_REL = 1e-6   # a point whose NTK diagonal is below this fraction of the median has a zero Jacobian


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
    """Raise :class:`NotComputable` when the inner loop of ``cfg`` on ``x`` is past the stability edge.

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
        raise NotComputable(
            f"{label}: the inner loop diverges on {where} (task {i}): inner step {cfg.inner_lr:.4g} x "
            f"lambda_max {float(lam[i]):.4g} of the net's empirical {kernel} = {edge:.4g} > {EDGE:g}, so every "
            f"step multiplies the error by more than 1; {fix}")
    return edge


def check_alive(spec, params, point_sets: dict, *, label: str) -> None:
    """Raise :class:`NotComputable` when the net's Jacobian vanishes on every point of some task.

    ``point_sets``: ``{name: x (tasks, p, d)}`` (the points each task trains or adapts on).  With
    ``b_std = 0`` a point where every last-layer feature is zero (every ReLU dead) has
    ``Theta(x, x) = 0``; a task with no live point can neither be fitted nor adapted to, and the
    net returns its initial output there (zeros, centered) whatever it is trained on.  Dead
    single points of a narrow net are part of its finite-width error and pass.
    """
    names = list(point_sets)
    xs = [np.asarray(point_sets[k]) for k in names]
    diag = np.asarray(empirical(spec, params, np.concatenate([_flat(x) for x in xs])).theta,
                      dtype=np.float64).diagonal()
    dead = diag <= DEAD_REL * max(float(np.median(diag)), 0.0)
    found, offset = [], 0
    for name, x in zip(names, xs):
        n, p = x.shape[:2]
        tasks = np.flatnonzero(dead[offset:offset + n * p].reshape(n, p).all(axis=1))
        offset += n * p
        if tasks.size:
            found.append(f"{tasks.size} of the {n} {name} (tasks {tasks.tolist()[:5]})")
    if found:
        raise NotComputable(
            f"{label}: the net is degenerate at width {spec.width}: its Jacobian is zero (every hidden unit "
            f"dead) on every point of {', '.join(found)}, so its outputs there cannot move from their initial "
            f"value whatever it is trained or adapted on; use a wider net")
