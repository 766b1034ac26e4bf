"""Finite task-conditioned nets trained jointly on every task: the finite-width ``conditioning.mtl`` (#16).

The net is ``ConditionedNet`` (concat, additive, multiplicative,
multi-head, independent; NTK parameterization), **centered** (theory.md §5):
``g(x, i; p0 + delta) = f(x, i; p0 + delta) - f(x, i; p0)``, exactly zero at initialization,
so one trained net estimates the infinite-width mean predictor.  Training: full-batch GD on

    loss(delta) = 0.5 * sum_p W_p (g(x_p, t_p) - y_p)^2          over the union S of the supports

(``W``: the loss weights of ``conditioning.mtl``, ``"uniform"`` or ``"data"``; ridge 0) from
``delta = 0``, under the one kernel-regime schedule of every trainer (``.schedule``,
docs/theory.md §8): step ``lr_scale / lambda_max`` of the net's own empirical NTK in output
space (``J W J^T``, power iteration), momentum 0, ``lambda_max`` re-estimated before every chunk
(warm-started) and the step lowered when the kernel sharpens; a chunk whose loss rises by more
than ``RISE_TOL`` in a step is undone and retried at half the step, a stalled one continues at
half the step; every rise is recorded (``loss_monitor``) and a run that kept one
is flagged ``left_kernel_regime``.  Training stops at ``loss <= tol * initial loss``.  In the kernel
regime this converges to ``K((x,i), S) K(S,S)^-1 Y_S`` with the net's empirical NTK, which
tends to ``conditioning.mtl`` with error ``O(width^-1/2)`` (tested).

Pure functions of static ``(cnet, weighted)`` arguments, jitted once per shape.
"""
from __future__ import annotations

import contextlib
import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from .. import code_maps, conditioning, validate
from ..errors import NotComputable
from ..precision import x64
from ..spec import MLPSpec
from ..tasks import TaskSet
from .net import dominant_eig
from .problem import DTYPES

__all__ = ["fit_predict", "loss"]  # the jitted trainer and power iteration are fit_predict's inner steps
from .schedule import Schedule



# --------------------------------------------------------------------------- pure pieces
def _outputs(cnet, base, delta, x, t, off):
    """Centered outputs ``f(x, t; base + delta) - off``, ``(P, k)``."""
    return cnet.apply(jax.tree_util.tree_map(jnp.add, base, delta), x, t) - off


def loss(cnet, delta, base, data):
    """``0.5 * sum_p W_p ||g(x_p, t_p) - y_p||^2`` over the supports (``data``: ``x, t, y, off, w``).

    ``g(x, t) = f(x, t; base + delta) - off`` is the centered net; ``train_steps`` differentiates this.

    Args:
      cnet: the ``ConditionedNet`` (a static argument under ``jit``).
      delta: the trained change of the parameters, a pytree like ``base``.
      base: the initial parameters ``p0`` (``cnet.init``).
      data: a dict of ``x (P, d)``, integer task ids ``t (P,)``, targets ``y (P, k)``, the initial outputs
        ``off (P, k)`` (centering) and the loss weights ``w (P,)``.

    Returns:
      A scalar JAX array in the dtype of the data.

    Examples:
      At ``delta = 0`` the centered net outputs zero, so the loss is ``0.5 sum_p w_p y_p^2``:

      >>> import jax, jax.numpy as jnp, ntk_bridge as nb
      >>> from ntk_bridge.finite import conditioned
      >>> cnet = nb.conditioning.net(nb.MLPSpec(depth=1, width=16), "concat", n_tasks=2, in_dim=3)
      >>> base = cnet.init(jax.random.PRNGKey(0))
      >>> x, t = jnp.ones((4, 3)), jnp.array([0, 0, 1, 1])
      >>> data = {"x": x, "t": t, "y": jnp.full((4, 1), 2.0), "off": cnet.apply(base, x, t), "w": jnp.ones(4)}
      >>> delta = jax.tree_util.tree_map(jnp.zeros_like, base)
      >>> float(conditioned.loss(cnet, delta, base, data))          # 0.5 * 4 points * 2^2
      8.0
    """
    r = _outputs(cnet, base, delta, data["x"], data["t"], data["off"]) - data["y"]
    return 0.5 * jnp.sum(data["w"][:, None] * r * r)


@functools.partial(jax.jit, static_argnames=("cnet",))
def power_iteration(cnet, base, delta, data, u0, iters):
    """``(lambda_max, u)`` of the output-space operator ``u -> J (J^T (W u))`` (eigenvalues of ``K W``).

    ``iters`` is traced (one compilation serves the initial estimate and the warm-started rechecks).
    """
    def f(d):
        return _outputs(cnet, base, d, data["x"], data["t"], data["off"])

    _, vjp = jax.vjp(f, delta)

    def op(u):
        return jax.jvp(f, (delta,), vjp(data["w"][:, None] * u))[1]

    return dominant_eig(op, u0, iters)


@functools.partial(jax.jit, static_argnames=("cnet", "n_steps"))
def train_steps(cnet, n_steps: int, delta, lr, base, data):
    """``n_steps`` full-batch GD steps ``delta <- delta - lr grad loss`` (``lax.scan``).

    Returns the new ``delta``, the losses before each step ``(n_steps,)`` and the loss after the last.
    """
    def step(d, _):
        value, g = jax.value_and_grad(loss, argnums=1)(cnet, d, base, data)
        return jax.tree_util.tree_map(lambda a, b: a - lr * b, d, g), value

    delta, losses = jax.lax.scan(step, delta, None, length=n_steps)
    return delta, losses, loss(cnet, delta, base, data)


@functools.partial(jax.jit, static_argnums=0)
def _apply(cnet, params, x, t):
    return cnet.apply(params, x, t)


# --------------------------------------------------------------------------- public API
def fit_predict(spec: MLPSpec, tasks: TaskSet, *, architecture: str = "multi-head-shared", task_scale: float = 1.0,
                layer: int = 1, weights: str = "uniform", support_sizes=None, seed: int = 0,
                outer_steps: int = 20000, tol: float = 1e-8, lr_scale: float = 1.0, chunk: int = 100,
                power_iters: int = 20, target_scale: float = 1.0, dtype: str = "float32", return_info: bool = False):
    """Train one centered conditioned net of width ``spec.width`` on every task's support; predict every query.

    Same call shape and output as ``ntk_bridge.conditioning.mtl`` (with ``ridge = 0``), which
    it approaches as the width grows.

    Args:
      spec: the base ``MLPSpec`` of the conditioned net (``conditioning.net``); ``out_dim`` is the tasks'.
      tasks: ``N`` tasks; task ``i`` trains on its (first ``support_sizes[i]``) support points.
      architecture: one of ``conditioning.ARCHITECTURES``.
      task_scale: ``c >= 0``, the scale of the task code, embedding or gate.
      layer: the hidden layer of additive/multiplicative conditioning, ``1..depth``.
      weights: loss weights, ``"uniform"`` over tasks or ``"data"`` (per point); without ridge they
        change the path, not the limit.
      support_sizes: ``N`` integers ``1..tasks.n_support``: task ``i`` trains on its first
        ``support_sizes[i]`` support points; ``None``: all.
      seed: the initialization (parameters drawn in float32 whatever ``dtype``: one seed, one net).
      outer_steps: stop after this many GD steps.
      tol: stop once ``loss <= tol * initial loss``.
      lr_scale: step ``lr_scale / lambda_max`` of the net's empirical NTK (``<= 1`` stays in the kernel regime).
      chunk: steps per jitted chunk (the step is re-checked between chunks).
      power_iters: power iterations for the initial ``lambda_max``.
      target_scale: train on ``s * Y`` and return predictions ``/ s`` (as ``ntk_bridge.finite.fit_predict``):
        the closed form is linear in ``Y``, the net's drift from its linearization shrinks like ``s``.
      dtype: ``"float32"`` (default) or ``"float64"``.
      return_info: also return the dict ``info`` (below).
    Returns:
      ``(N, n_query, out_dim)`` float64; with ``return_info`` also a dict: ``initial_loss, final_loss,
      steps, converged, lambda_max, outer_lr, lr_halvings, undone_rises, wall_s, dtype`` and the loss
      monitor (``rises, max_step_ratio, max_loss_ratio, left_kernel_regime``), ``schedule``,
      ``architecture`` and ``width``.
    Raises:
      ValueError: naming a bad argument.
      NotComputable: a degenerate net (zero NTK), divergence even at a 256x smaller step, or
        non-finite losses or predictions.

    Examples:
      A wide net trained jointly lands near the infinite-width ``conditioning.mtl``:

      >>> import ntk_bridge as nb
      >>> from ntk_bridge.finite import conditioned
      >>> tasks = nb.tasks.shared_feature(3, 4, 4, dim=3, seed=0)
      >>> pred, info = conditioned.fit_predict(nb.MLPSpec(depth=1, width=1024), tasks, outer_steps=2000, tol=1e-5,
      ...                                      return_info=True)
      >>> closed = nb.conditioning.mtl(nb.MLPSpec(depth=1), tasks)          # multi-head-shared, as here
      >>> pred.shape, info["converged"], bool(nb.metrics.rel_gap(pred, closed) < 0.25)
      ((3, 4, 1), True, True)
    """
    validate.instance("spec", spec, MLPSpec)
    validate.instance("tasks", tasks, TaskSet)
    if tasks.out_dim != spec.out_dim:
        raise ValueError(f"tasks.ys has out_dim {tasks.out_dim}, spec.out_dim is {spec.out_dim}")
    weights = validate.choice("weights", weights, conditioning.WEIGHTS)
    n = tasks.n_tasks
    sizes = (tasks.n_support,) * n if support_sizes is None else \
        validate.integers("support_sizes", support_sizes, 1, tasks.n_support)
    if len(sizes) != n:
        raise ValueError(f"support_sizes must have one entry per task ({n}), got {len(sizes)}")
    seed = validate.integer("seed", seed, 0)
    outer_steps = validate.integer("outer_steps", outer_steps, 0)
    tol = validate.real("tol", tol, 0.0, 1.0, high_open=True)
    lr_scale = validate.positive("lr_scale", lr_scale)
    chunk = validate.integer("chunk", chunk, 1)
    power_iters = validate.integer("power_iters", power_iters, 1)
    target_scale = validate.positive("target_scale", target_scale)
    dtype = validate.choice("dtype", dtype, DTYPES)
    return_info = validate.flag("return_info", return_info)
    cnet = conditioning.net(spec, architecture, n_tasks=n, in_dim=tasks.dim, task_scale=task_scale, layer=layer)

    xs = np.concatenate([tasks.xs[i, :s] for i, s in enumerate(sizes)])
    ys = target_scale * np.concatenate([tasks.ys[i, :s] for i, s in enumerate(sizes)])
    ts = np.repeat(np.arange(n), sizes)
    w = np.ones(len(ts)) if weights == "data" else len(ts) / (n * np.asarray(sizes, dtype=np.float64)[ts])
    xq, tq = tasks.xq.reshape(-1, tasks.dim), np.repeat(np.arange(n), tasks.n_query)

    code_maps.ensure_headroom()
    start = time.perf_counter()
    with x64(False):
        p0 = cnet.init(jax.random.PRNGKey(seed))
        u0 = jax.random.normal(jax.random.PRNGKey(seed + 1), ys.shape, jnp.float32)
    ctx = x64() if dtype == "float64" else contextlib.nullcontext()
    with ctx:
        f = jnp.float64 if dtype == "float64" else jnp.float32
        base = jax.tree_util.tree_map(lambda a: jnp.asarray(a, f), p0)
        # supports and queries through the net in one call (one compiled shape): initial outputs, then trained
        x_all = jnp.asarray(np.concatenate([xs, xq]), f)
        t_all = jnp.asarray(np.concatenate([ts, tq]), jnp.int32)
        off = _apply(cnet, base, x_all, t_all)
        p = len(ts)
        data = {"x": x_all[:p], "t": t_all[:p], "y": jnp.asarray(ys, f), "off": off[:p], "w": jnp.asarray(w, f)}
        delta, info = _train(cnet, base, data, jnp.asarray(u0, f), outer_steps, tol, lr_scale, chunk, power_iters)
        trained = _apply(cnet, jax.tree_util.tree_map(jnp.add, base, delta), x_all, t_all)
        pred = np.asarray(trained[p:] - off[p:], dtype=np.float64).reshape(n, tasks.n_query, tasks.out_dim)
    pred = pred / target_scale
    if not np.all(np.isfinite(pred)):
        raise NotComputable(f"conditioned {architecture!r} net: non-finite predictions after training")
    info.update(wall_s=time.perf_counter() - start, dtype=dtype, architecture=architecture, width=spec.width)
    return (pred, info) if return_info else pred


def _train(cnet, base, data, u, outer_steps, tol, lr_scale, chunk, power_iters):
    """GD under the kernel-regime schedule (``Schedule``, as ``.fit``); ``(delta, info)``."""
    label = f"conditioned {cnet.architecture!r} net (width {cnet.spec.width})"
    sched = Schedule(lr_scale=lr_scale)
    delta = jax.tree_util.tree_map(jnp.zeros_like, base)
    # a centered net outputs exactly 0 at delta = 0, so the initial loss is 0.5 sum W y^2
    loss0 = float(0.5 * np.sum(np.asarray(data["w"], np.float64)[:, None] * np.asarray(data["y"], np.float64) ** 2))
    lam, u = power_iteration(cnet, base, delta, data, u, power_iters)
    lam = float(lam)
    if not (math.isfinite(lam) and lam > 0):
        raise NotComputable(f"{label}: its empirical NTK has largest eigenvalue {lam}: the net is degenerate "
                            f"(every unit dead?); use a wider net")
    dt = data["y"].dtype
    state = sched.init(lam, loss0, str(dt))
    history, steps, after = [], 0, loss0
    while steps < outer_steps and after > tol * loss0:
        if steps:
            lam_now, u = power_iteration(cnet, base, delta, data, u, sched.recheck_iters)
            state = sched.track(state, float(lam_now))
        k = min(chunk, outer_steps - steps)
        new_delta, losses, new_after = train_steps(cnet, k, delta, jnp.asarray(state.lr, dt), base, data)
        losses, new_after = np.asarray(losses), float(new_after)
        state, verdict = sched.update(state, losses, new_after)
        if verdict == "diverged":
            raise NotComputable(f"{label}: training diverges even with the step {2 ** sched.max_halvings}x "
                                f"smaller; lower lr_scale")
        if verdict == "stop":
            break   # stalled or still rising at the smallest step: keep what we have (reported as not converged)
        if verdict == "retry":
            continue
        delta, after = new_delta, new_after
        history.append(losses)
        steps += k
    hist = np.concatenate(history) if history else np.zeros(0)
    info = {"initial_loss": loss0, "final_loss": after, "steps": steps, "converged": after <= tol * loss0,
            "lambda_max": lam, "outer_lr": lr_scale / lam, "lr_halvings": state.halvings, "undone_rises": state.undone,
            "schedule": sched.name, **sched.monitor(hist, after if history else None)}
    return delta, info
