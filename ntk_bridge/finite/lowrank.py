"""Exact, fast GBML meta-outputs: each task's adapted weights as the shared weights minus a low-rank factor.

In an MLP, the inner-loop gradient of a Dense layer ``h = c * a @ W + b_std * b`` (``c = std /
sqrt(fan_in)``) over the ``m`` inner points of a task is a sum of ``m`` outer products,
``dL/dW = c * A^T G`` with ``A`` the layer's inputs ``(m, fan_in)`` and ``G = dL/dh`` ``(m, fan_out)``.
After ``s`` inner steps of size ``lr`` a task's adapted weight is therefore

.. math::

    W_i = W - U_i^T V_i, \\qquad U_i = [A_1; \\dots; A_s] \\; (ms, \\text{fan\\_in}), \\quad
    V_i = \\text{lr}\\, c\\, [G_1; \\dots; G_s] \\; (ms, \\text{fan\\_out}),

of rank at most ``r = m s``, and a forward pass through the adapted weights of every task is one
GEMM shared by all tasks' points plus thin per-task corrections:
``a @ W_i = a @ W - (a @ U_i^T) @ V_i``.  ``G`` comes from autodiff of the task losses with
respect to an additive zero perturbation of each pre-activation, so the ReLU derivative is the one
``jnp.maximum`` gives the reference, and second-order autodiff (MAML's outer gradient, the jvp of
the power iteration) flows through the factors: this is plain autodiff through the inner loop,
rearranged, not an approximation.  FOMAML stops the gradient of ``A`` and ``G`` (the whole inner
update), exactly as ``ntk_bridge.finite.net._inner`` stops the gradient of the update.

Memory per task and layer: ``r * (fan_in + fan_out)`` instead of ``fan_in * fan_out``.  A layer is
kept **dense per task** (``W_i`` materialized, as the reference does) when that is smaller, i.e.
``r * (fan_in + fan_out) >= fan_in * fan_out``: the input layer (``fan_in = d``), the head
(``fan_out = k``), and hidden layers of long inner loops (``flow=True``: ``r = m * steps *
flow_substeps``).  Layers the inner loop does not adapt (ANIL's body) are computed once per
point set, shared by all tasks.

Entry point: ``meta_outputs``, the drop-in counterpart of the reference
``net._tasks_adapt_predict`` (same arguments and result); ``layer_kinds`` says which form each
layer takes.  Short inner loops (``steps <= UNROLL_MAX``) are unrolled with factors growing by
``m`` rows per step; longer ones run in ``lax.scan`` with preallocated factors (unused rows are
zeros and contribute exactly zero).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import validate
from .problem import Problem

MODES = ("auto", "lowrank", "dense")  # per-layer form: chosen by memory, or forced (tests)
KINDS = ("shared", "dense", "lowrank")
UNROLL_MAX = 8  # inner loops up to this many steps are unrolled (factors grow); longer ones scan


def layer_kinds(cfg: Problem, n_inner: int, in_dim: int, mode: str = "auto") -> tuple:
    """The form of each layer (``depth`` hidden layers, then the head) in ``meta_outputs``.

    ``"shared"``: not adapted by the inner loop (ANIL's body); ``"dense"``: a ``(tasks, fan_in,
    fan_out)`` weight per task; ``"lowrank"``: the shared weight minus ``U_i^T V_i`` of rank
    ``r = n_inner * cfg.inner_steps``.  ``mode="auto"`` picks low rank where it stores less,
    ``r * (fan_in + fan_out) < fan_in * fan_out``; ``"lowrank"``/``"dense"`` force every adapted layer.
    """
    validate.choice("mode", mode, MODES)
    spec = cfg.spec
    sizes = [in_dim] + [spec.width] * spec.depth + [spec.out_dim]
    rank = n_inner * cfg.inner_steps
    kinds = []
    for l in range(spec.depth + 1):
        fi, fo = sizes[l], sizes[l + 1]
        if cfg.head_only and l < spec.depth:
            kinds.append("shared")
        elif mode == "lowrank" or (mode == "auto" and rank * (fi + fo) < fi * fo):
            kinds.append("lowrank")
        else:
            kinds.append("dense")
    return tuple(kinds)


def _layers(spec, params):
    """``[(W, b, c)]`` for the hidden layers then the head, ``c = spec.multiplier(l, fan_in)`` (NTK:
    ``std / sqrt(fan_in)``)."""
    layers = list(params["body"]) + [params["head"]]
    return [(w, b, spec.multiplier(l, w.shape[0])) for l, (w, b) in enumerate(layers)]


def _init_state(layers, kinds, n_tasks: int, rank_cap: int):
    """Per-layer per-task state: ``None`` (shared), ``(W_i, b_i)`` (dense) or ``(U_i, V_i, b_i)`` (low rank)."""
    state = []
    for (w, b, _), kind in zip(layers, kinds):
        b_t = jnp.broadcast_to(b, (n_tasks,) + b.shape)
        if kind == "shared":
            state.append(None)
        elif kind == "dense":
            state.append((jnp.broadcast_to(w, (n_tasks,) + w.shape), b_t))
        else:
            state.append((jnp.zeros((n_tasks, rank_cap, w.shape[0]), w.dtype),
                          jnp.zeros((n_tasks, rank_cap, w.shape[1]), w.dtype), b_t))
    return state


def _layer(spec, layer, kind, s, a):
    """Pre-activations of one layer for every task's points ``a (tasks, p, fan_in)``."""
    w, b, c = layer
    if kind == "shared":
        return c * (a @ w) + spec.b_std * b
    if kind == "dense":
        return c * jnp.einsum("tpi,tio->tpo", a, s[0]) + spec.b_std * s[1][:, None, :]
    u, v, b_t = s
    h = a @ w  # one GEMM over all tasks' points
    if u.shape[1]:  # minus the thin per-task correction (a U_i^T) V_i
        h = h - jnp.einsum("tpr,tro->tpo", jnp.einsum("tpi,tri->tpr", a, u), v)
    return c * h + spec.b_std * b_t[:, None, :]


def _forward(spec, layers, kinds, state, start: int, a, eps=None):
    """Outputs from layer ``start`` on (``a``: its inputs), with the inputs of every layer from ``start``."""
    acts = []
    for l in range(start, len(layers)):
        acts.append(a)
        h = _layer(spec, layers[l], kinds[l], state[l], a)
        if eps is not None:
            h = h + eps[l - start]
        a = jnp.maximum(h, 0.0) if l < spec.depth else h
    return a, acts


def _prefix(spec, layers, kinds, x):
    """The leading shared layers (ANIL's body), computed once: ``(first adapted layer, its inputs)``."""
    start, a = 0, x
    while kinds[start] == "shared":
        a = jnp.maximum(_layer(spec, layers[start], "shared", None, a), 0.0)
        start += 1
    return start, a


def meta_outputs(cfg: Problem, base, delta, data, first_order: bool, mode: str = "auto"):
    """Every task adapted on ``(x_in, y_in)``, centered outputs on ``x_out``: ``(tasks, out points, k)``.

    Same arguments, result and autodiff as the reference ``net._tasks_adapt_predict`` (GBML: ANIL,
    MAML, FOMAML): ``cfg.inner_steps`` GD steps of size ``cfg.inner_lr`` on ``0.5 ||f(x_in) - off_in -
    y_in||^2`` from ``base + delta``; ``first_order`` stops the gradient of each inner update.
    ``mode``: ``layer_kinds``.
    """
    spec = cfg.spec
    x_in, y_in, off_in, x_out = data["x_in"], data["y_in"], data["off_in"], data["x_out"]
    n_tasks, m = x_in.shape[:2]
    kinds = layer_kinds(cfg, m, x_in.shape[-1], mode)
    layers = _layers(spec, jax.tree_util.tree_map(jnp.add, base, delta))
    start, a_in = _prefix(spec, layers, kinds, x_in)
    target = off_in + y_in
    steps, lr = cfg.inner_steps, cfg.inner_lr
    unrolled = steps <= UNROLL_MAX

    def step(state, t):
        eps = [jnp.zeros(a_in.shape[:2] + (w.shape[1],), a_in.dtype) for w, _, _ in layers[start:]]

        def task_losses(e):  # the sum of the tasks' inner losses: its gradient in e_i is task i's G
            out, acts = _forward(spec, layers, kinds, state, start, a_in, e)
            r = out - target
            return 0.5 * jnp.sum(r * r), acts

        gs, acts = jax.grad(task_losses, has_aux=True)(eps)
        if first_order:  # FOMAML: the update is a constant of the outer gradient
            gs, acts = jax.lax.stop_gradient((gs, acts))
        new = list(state)
        for j, (a, g) in enumerate(zip(acts, gs)):
            l = start + j
            _, _, c = layers[l]
            db = lr * spec.b_std * jnp.sum(g, axis=1)
            if kinds[l] == "dense":
                w_t, b_t = state[l]
                new[l] = (w_t - (lr * c) * jnp.einsum("tmi,tmo->tio", a, g), b_t - db)
            else:
                u, v, b_t = state[l]
                if unrolled:
                    u, v = jnp.concatenate([u, a], axis=1), jnp.concatenate([v, (lr * c) * g], axis=1)
                else:
                    u = jax.lax.dynamic_update_slice_in_dim(u, a, t * m, axis=1)
                    v = jax.lax.dynamic_update_slice_in_dim(v, (lr * c) * g, t * m, axis=1)
                new[l] = (u, v, b_t - db)
        return new

    state = _init_state(layers, kinds, n_tasks, 0 if unrolled else m * steps)
    if unrolled:
        for t in range(steps):
            state = step(state, t)
    else:
        state = jax.lax.scan(lambda s, t: (step(s, t), None), state, jnp.arange(steps))[0]
    _, a_out = _prefix(spec, layers, kinds, x_out)
    out, _ = _forward(spec, layers, kinds, state, start, a_out)
    return out - data["off_out"]
