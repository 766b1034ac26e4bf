"""The pure, jitted pieces of finite training: inner loop, outer loss, outer steps, test-time prediction.

Parameters are ``base + delta`` (``Prepared``): ``base = p0``
is fixed and ``delta`` is trained from zero.  ``data`` dicts hold ``x_in, y_in, off_in, x_out,
y_out, off_out``, each ``(tasks, points, d|k)``; ``off_*`` are the initial net's outputs
(centered nets) or zeros.  ``cfg`` is the static ``Problem``.
Loss convention: ``0.5 * sum of squared errors`` (theory.md §2).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from ..spec import MLPSpec
from . import lowrank
from .problem import Problem


def _sq(r):
    return 0.5 * jnp.sum(r * r)


def add(base, delta):
    """``base + delta`` leaf by leaf."""
    return jax.tree_util.tree_map(jnp.add, base, delta)


def _inner(cfg: Problem, base, delta, x, y, off, first_order: bool):
    """``inner_steps`` GD steps of size ``inner_lr`` on ``0.5 ||f(x) - off - y||^2`` (head or all)."""
    spec = cfg.spec
    if cfg.head_only:
        phi = spec.features(add(base["body"], delta["body"]), x)

        def loss(dq):
            return _sq(spec.head_apply(add(base["head"], dq), phi) - off - y)

        start = delta["head"]
    else:
        def loss(dq):
            return _sq(spec.apply(add(base, dq), x) - off - y)

        start = delta

    def step(dq, _):
        g = jax.grad(loss)(dq)
        if first_order:  # FOMAML: the update direction is a constant, d q_{t+1} / d q_t = I
            g = jax.lax.stop_gradient(g)
        return jax.tree_util.tree_map(lambda a, b: a - cfg.inner_lr * b, dq, g), None

    dq, _ = jax.lax.scan(step, start, None, length=cfg.inner_steps)
    return {"body": delta["body"], "head": dq} if cfg.head_only else dq


def _adapt_predict(cfg: Problem, base, delta, x_in, y_in, off_in, x_out, off_out, first_order: bool):
    """One task: adapt on ``(x_in, y_in)``, return the centered outputs on ``x_out``."""
    adapted = _inner(cfg, base, delta, x_in, y_in, off_in, first_order)
    return cfg.spec.apply(add(base, adapted), x_out) - off_out


def _tasks_adapt_predict(cfg: Problem, base, delta, data, first_order: bool):
    """Every task of ``data`` adapted on its inner set, centered outputs on its outer set: ``(tasks, out points, k)``.

    MAML/FOMAML (the inner loop adapts every layer): ``.lowrank.meta_outputs``, each task's
    adapted weights as the shared ones minus a low-rank factor (exact: the same autodiff, rearranged;
    agrees with ``reference_adapt_predict`` to rounding, tests/test_finite_lowrank.py).  ANIL
    (head only) and conv nets (``ConvSpec``: no low-rank form): the reference.
    """
    if not cfg.head_only and isinstance(cfg.spec, MLPSpec):
        return lowrank.meta_outputs(cfg, base, delta, data, first_order)
    return reference_adapt_predict(cfg, base, delta, data, first_order)


def reference_adapt_predict(cfg: Problem, base, delta, data, first_order: bool):
    """The reference: ``_adapt_predict`` vmapped over the tasks of ``data``, ``(tasks, out points, k)``.

    Every task materializes its own adapted parameters (``O(width^2)`` per layer and task).
    """
    fn = functools.partial(_adapt_predict, cfg, first_order=first_order)
    return jax.vmap(fn, in_axes=(None, None, 0, 0, 0, 0, 0))(
        base, delta, data["x_in"], data["y_in"], data["off_in"], data["x_out"], data["off_out"])


def mtl_raw(spec: MLPSpec, params, x):
    """Uncentered MTL outputs: task ``i``'s head on its points, ``(N, m, k)``."""
    return jax.vmap(spec.head_apply)(params["heads"], spec.features(params["body"], x))


def _outputs(cfg: Problem, base, delta, data, first_order: bool):
    """Training outputs ``F`` compared with ``y_out``: MTL outputs on ``D_i``, or GBML meta-outputs."""
    if cfg.mtl:
        return mtl_raw(cfg.spec, add(base, delta), data["x_out"]) - data["off_out"]
    return _tasks_adapt_predict(cfg, base, delta, data, first_order)


def loss(cfg: Problem, delta, base, data):
    """Outer loss ``0.5 * sum_i ||F_i - Y_out,i||^2`` (FOMAML: first-order ``F``).

    ``F`` are the training outputs of the net ``base + delta``, centered by ``data["off_out"]``: MTL's
    task ``i``'s head on ``D_i``, or GBML's meta-outputs (each task adapted on its inner set, read on its
    outer set).  Not jitted (``loss_jit`` is, with ``cfg`` static); ``train_steps`` differentiates it.

    Args:
      cfg: the static ``Problem``.
      delta: the trained change of the parameters, a pytree like ``base`` (zeros at initialization).
      base: the initial parameters ``p0`` (``Prepared.base``).
      data: the training data, ``Prepared.train`` (``x_in, y_in, off_in, x_out, y_out, off_out``).

    Returns:
      A scalar JAX array in the data's dtype.

    Examples:
      A centered MTL net outputs zero at ``delta = 0``: the loss is ``0.5 * sum Y^2``.

      >>> import jax, jax.numpy as jnp, numpy as np, ntk_bridge as nb
      >>> from ntk_bridge.finite import net
      >>> spec, adapt = nb.MLPSpec(depth=1, width=16), nb.Adaptation(lr=0.1, steps=2)
      >>> train = nb.tasks.shared_feature(3, 2, 4, dim=3, seed=0)
      >>> test = nb.tasks.shared_feature(1, 2, 4, dim=3, seed=1)
      >>> prep = nb.finite.prepare(spec, train, test, method="mtl-shared")
      >>> cfg = nb.finite.problem(spec, "mtl-shared", adapt)
      >>> delta = jax.tree_util.tree_map(jnp.zeros_like, prep.base)
      >>> value = net.loss(cfg, delta, prep.base, prep.train)
      >>> value.shape, bool(np.isclose(value, 0.5 * np.sum(np.asarray(prep.train["y_out"]) ** 2)))
      ((), True)
    """
    return _sq(_outputs(cfg, base, delta, data, cfg.first_order) - data["y_out"])


loss_jit = jax.jit(loss, static_argnames=("cfg",))


def power_lambda_max(cfg: Problem, base, delta, data, u0, iters: int):
    """Largest eigenvalue (in modulus) of the output-space (meta-)NTK ``J_F J_F1^T`` by power iteration."""
    return power_iteration(cfg, base, delta, data, u0, iters)[0]


@functools.partial(jax.jit, static_argnames=("cfg",))
def power_iteration(cfg: Problem, base, delta, data, u0, iters):
    """``(lambda_max, u)``: ``power_lambda_max`` and its unit vector (to warm-start the next estimate).

    ``iters`` is traced: one compiled program serves the first estimate and every re-check (for
    second-order MAML this program takes seconds to compile).
    """
    _, vjp = jax.vjp(lambda d: _outputs(cfg, base, d, data, cfg.first_order), delta)

    def op(u):
        return jax.jvp(lambda d: _outputs(cfg, base, d, data, False), (delta,), vjp(u))[1]

    return dominant_eig(op, u0, iters)


def dominant_eig(op, u0, iters):
    """``(|lambda|, u)``: the dominant eigenvalue (modulus) and unit eigenvector of the linear map ``op``
    by ``iters`` power steps from ``u0`` (traceable: ``iters`` may be a traced integer).

    ``op`` appears once in the program (the estimate is the last of ``iters + 1`` products): for
    second-order MAML it is the costly part to compile.
    """
    def step(_, carry):
        v = op(carry[1])
        lam = jnp.linalg.norm(v)
        return lam, v / lam

    u0 = u0 / jnp.linalg.norm(u0)
    return jax.lax.fori_loop(0, iters + 1, step, (jnp.zeros((), u0.dtype), u0))


@functools.lru_cache(maxsize=8)
def sgd(momentum: float) -> optax.GradientTransformation:
    """Heavy-ball GD with learning rate 1 (the step is scaled by a traced lr in ``train_steps``,
    so one compiled trainer serves every lr; a new optax object per call would recompile every call)."""
    return optax.sgd(1.0, momentum=momentum or None)


@functools.partial(jax.jit, static_argnames=("cfg", "momentum", "n_steps"))
def train_steps(cfg: Problem, momentum: float, n_steps: int, delta, opt_state, lr, base, data):
    """``n_steps`` full-batch outer steps ``delta <- delta + lr * sgd_update(grad)`` (jitted ``lax.scan``).

    ``sgd_update`` is optax's ``sgd(1.0, momentum)`` (heavy ball; plain GD at ``momentum = 0``) of the
    gradient of ``loss(cfg, delta, base, data)``; ``fit_predict`` calls it in chunks between the
    schedule's checks.  Compiled once per ``(cfg, momentum, n_steps)``.

    Args:
      cfg: the static ``Problem`` (``problem``).
      momentum: heavy-ball momentum in ``[0, 1)`` (static).
      n_steps: steps taken, an integer ``>= 1`` (static).
      delta: the change of the parameters so far, a pytree like ``base``.
      opt_state: ``sgd(momentum).init(delta)``, or the state this function returned last.
      lr: the step size (``lr_scale / lambda_max`` in ``fit_predict``), a scalar.
      base: the initial parameters ``p0`` (``Prepared.base``).
      data: the training data, ``Prepared.train``.

    Returns:
      ``(delta, opt_state, losses)``: the new change, the optimizer state and the loss before each step,
      ``(n_steps,)`` in the data's dtype.

    Examples:
      Three steps from ``delta = 0``: the first loss is the initial one, and a small step lowers it.

      >>> import jax, jax.numpy as jnp, numpy as np, ntk_bridge as nb
      >>> from ntk_bridge.finite import net
      >>> spec, adapt = nb.MLPSpec(depth=1, width=16), nb.Adaptation(lr=0.1, steps=2)
      >>> train = nb.tasks.shared_feature(3, 2, 4, dim=3, seed=0)
      >>> test = nb.tasks.shared_feature(1, 2, 4, dim=3, seed=1)
      >>> prep = nb.finite.prepare(spec, train, test, method="mtl-shared")
      >>> cfg = nb.finite.problem(spec, "mtl-shared", adapt)
      >>> delta = jax.tree_util.tree_map(jnp.zeros_like, prep.base)
      >>> lr = 0.5 / nb.finite.analytic_lambda_max(spec, train, method="mtl-shared", adapt=adapt)
      >>> delta, state, losses = net.train_steps(cfg, 0.0, 3, delta, net.sgd(0.0).init(delta), lr, prep.base,
      ...                                        prep.train)
      >>> losses.shape, bool(np.isclose(losses[0], net.loss(cfg, jax.tree_util.tree_map(jnp.zeros_like, delta),
      ...                                                    prep.base, prep.train)))
      ((3,), True)
      >>> bool(net.loss(cfg, delta, prep.base, prep.train) < losses[0])
      True
    """
    opt = sgd(momentum)

    def step(carry, _):
        d, s = carry
        value, g = jax.value_and_grad(loss, argnums=1)(cfg, d, base, data)
        upd, s = opt.update(g, s, d)
        d = jax.tree_util.tree_map(lambda a, u: a + lr * u, d, upd)
        return (d, s), value

    (delta, opt_state), losses = jax.lax.scan(step, (delta, opt_state), None, length=n_steps)
    return delta, opt_state, losses


@functools.partial(jax.jit, static_argnames=("cfg",))
def predict(cfg: Problem, base, delta, data):
    """Test-time adaptation on each test support, centered outputs on its query ``(tasks, q, k)``."""
    return _tasks_adapt_predict(cfg, base, delta, data, False)


@functools.partial(jax.jit, static_argnames=("cfg",))
def init_max_abs(cfg: Problem, base, test_base, train, test):
    """``max |f(x; p0) - off(x)|`` over every train and test point: 0 for a centered net."""
    spec = cfg.spec
    if cfg.mtl:
        outs = [mtl_raw(spec, base, train["x_out"]) - train["off_out"]]
    else:
        outs = [spec.apply(base, train[x]) - train[o] for x, o in (("x_in", "off_in"), ("x_out", "off_out"))]
    outs += [spec.apply(test_base, test[x]) - test[o] for x, o in (("x_in", "off_in"), ("x_out", "off_out"))]
    return jnp.max(jnp.stack([jnp.max(jnp.abs(o)) for o in outs]))


raw_jit = jax.jit(lambda spec, params, x: spec.apply(params, x), static_argnums=0)
mtl_raw_jit = jax.jit(mtl_raw, static_argnums=0)
