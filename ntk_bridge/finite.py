"""Finite-width nets actually trained: MTL and GBML (ANIL, MAML, FOMAML), theory.md §3–5.

The same :class:`MLPSpec` as the closed forms (NTK parameterization), trained in pure JAX +
optax, so this module never imports neural-tangents and runs on any recent JAX, GPU included.

* **Centered nets** (default): the net computes ``f(x; p) - f(x; p0)``, exactly zero at init
  (same Jacobian), so one trained net estimates the infinite-width *mean* predictor.  With
  ``centered=False``, average ``n_ensemble`` seeds instead.
* **GBML** meta-training differentiates through the inner loop (true second order); FOMAML
  stops the gradient of each inner update, so the outer gradient is the query-loss gradient
  at the adapted parameters.  ANIL adapts the head only, MAML/FOMAML every parameter.
* **MTL**: shared body, one head per training task (``mtl-shared``: all start at ``w0``;
  ``mtl-independent``: drawn afresh), first-order training on support ∪ query.  Test time:
  the trained body with the common initial head ``w0`` (independent heads: a fresh head,
  drawn independently of the training heads; its infinite-width limit is the no-transfer
  baseline, theory.md §4), then head-only fine-tuning on the test support (the ANIL loop).
* **Inner loop**: ``adapt.steps`` full-batch GD steps of size ``adapt.lr`` on
  ``0.5 * sum sq. err``; ``adapt.flow=True`` approximates gradient flow for time
  ``lr * steps`` by ``flow_substeps`` times as many steps of size ``lr / flow_substeps``.
* **Outer loop**: full-batch heavy-ball GD (``optax.sgd``, momentum 0.7; GD with momentum
  stays in the span of the gradients, so in the linear regime it converges to the same
  ``t = infinity`` solution as gradient flow) with learning rate ``lr_scale / lambda_max``,
  ``lambda_max`` the largest eigenvalue of the infinite-width (meta-)NTK in output space
  (:func:`analytic_lambda_max`; or of the net's own, ``J_F J_F^T``, by power iteration).
  In NTK parameterization these eigenvalues grow with the number of points, so a fixed lr
  would not do.  Training stops when the loss falls below ``tol * initial loss`` or after
  ``outer_steps``; float32 by default (float32 and float64 predictions agree to ~1e-7
  relative, measured), ``dtype="float64"`` for proof-grade checks.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import metrics
from .kernels import empirical
from .predict import SPLITS, Adaptation
from .spec import MLPSpec
from .tasks import TaskSet


def x64(enabled: bool = True):
    """Context manager switching JAX's 64-bit mode: ``jax.enable_x64`` (JAX >= 0.8; the
    ``jax.experimental`` managers are gone from 0.10), else ``jax.experimental.enable_x64/disable_x64``."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(enabled)
    from jax.experimental import disable_x64, enable_x64

    return enable_x64() if enabled else disable_x64()


METHODS = ("mtl-shared", "mtl-independent", "anil", "maml", "fomaml")
DTYPES = ("float32", "float64")
DEVICES = (None, "cpu", "gpu")
MAX_HALVINGS = 8  # outer-step halvings (a step 256x smaller) before training gives up


@dataclasses.dataclass(frozen=True)
class Problem:
    """Static (hashable) description of one training problem, a ``jit`` static argument."""

    spec: MLPSpec
    method: str
    inner_lr: float      # per inner step (flow: adapt.lr / flow_substeps)
    inner_steps: int     # number of inner steps (flow: adapt.steps * flow_substeps)

    @property
    def mtl(self) -> bool:
        return self.method.startswith("mtl")

    @property
    def head_only(self) -> bool:
        """Head-only inner loop: ANIL in training; ANIL and MTL at test time."""
        return self.method != "maml" and self.method != "fomaml"


def problem(spec: MLPSpec, method: str, adapt: Adaptation, flow_substeps: int = 20) -> Problem:
    """The :class:`Problem` of ``method``; flow: ``flow_substeps * steps`` steps of ``lr / flow_substeps``."""
    sub = flow_substeps if adapt.flow else 1
    return Problem(spec, method, float(adapt.lr) / sub, int(adapt.steps) * sub)


class Prepared(NamedTuple):
    """Initial net and the data it trains and is tested on (arrays in ``dtype``).

    The trained parameters are ``base + delta`` with ``base = p0`` fixed and ``delta``
    trained from zero: in float32 a small update ``delta`` keeps its full relative precision
    instead of being rounded against ``|p0| ~ 1`` at every step.

    ``base``: ``{"body", "head"}`` (GBML) or ``{"body", "heads"}`` with ``heads = (W (N, width, k),
    b (N, k))`` (MTL); ``test_base``: the net the test tasks start from before training
    (GBML: ``base``; MTL: the initial body with the test head); ``train`` / ``test``: dicts of
    ``x_in, y_in, off_in, x_out, y_out, off_out``, each ``(tasks, points, d|k)``; ``off_*`` are
    the initial net's outputs ``f(x; p0)`` (centered) or zeros.
    """

    base: dict
    test_base: dict
    train: dict
    test: dict


# --------------------------------------------------------------------------- pure pieces
def _sq(r):
    return 0.5 * jnp.sum(r * r)


def _add(base, delta):
    return jax.tree_util.tree_map(jnp.add, base, delta)


def _inner(cfg: Problem, base, delta, x, y, off, first_order: bool):
    """``inner_steps`` GD steps of size ``inner_lr`` on ``0.5 ||f(x) - off - y||^2`` (head or all)."""
    spec = cfg.spec
    if cfg.head_only:
        phi = spec.features(_add(base["body"], delta["body"]), x)

        def loss(dq):
            return _sq(spec.head_apply(_add(base["head"], dq), phi) - off - y)

        start = delta["head"]
    else:
        def loss(dq):
            return _sq(spec.apply(_add(base, dq), x) - off - y)

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
    return cfg.spec.apply(_add(base, adapted), x_out) - off_out


def _tasks_adapt_predict(cfg: Problem, base, delta, data, first_order: bool):
    """:func:`_adapt_predict` vmapped over the tasks of ``data``: ``(tasks, out points, k)``."""
    fn = functools.partial(_adapt_predict, cfg, first_order=first_order)
    return jax.vmap(fn, in_axes=(None, None, 0, 0, 0, 0, 0))(
        base, delta, data["x_in"], data["y_in"], data["off_in"], data["x_out"], data["off_out"])


def _mtl_raw(spec: MLPSpec, params, x):
    """Uncentered MTL outputs: task ``i``'s head on its points, ``(N, m, k)``."""
    return jax.vmap(spec.head_apply)(params["heads"], spec.features(params["body"], x))


def _outputs(cfg: Problem, base, delta, data, first_order: bool):
    """Training outputs ``F`` compared with ``y_out``: MTL outputs on ``D_i``, or GBML meta-outputs."""
    if cfg.mtl:
        return _mtl_raw(cfg.spec, _add(base, delta), data["x_out"]) - data["off_out"]
    return _tasks_adapt_predict(cfg, base, delta, data, first_order)


def _loss(cfg: Problem, delta, base, data):
    """Outer loss ``0.5 * sum_i ||F_i - Y_out,i||^2`` (FOMAML: first-order ``F``)."""
    return _sq(_outputs(cfg, base, delta, data, cfg.method == "fomaml") - data["y_out"])


@functools.partial(jax.jit, static_argnames=("cfg",))
def _loss_jit(cfg, delta, base, data):
    return _loss(cfg, delta, base, data)


@functools.partial(jax.jit, static_argnames=("cfg", "iters"))
def _lambda_max(cfg: Problem, base, delta, data, u0, iters: int):
    """Largest eigenvalue (in modulus) of the output-space (meta-)NTK ``J_F J_F1^T`` by power iteration."""
    _, vjp = jax.vjp(lambda d: _outputs(cfg, base, d, data, cfg.method == "fomaml"), delta)

    def op(u):
        return jax.jvp(lambda d: _outputs(cfg, base, d, data, False), (delta,), vjp(u))[1]

    def power_step(_, u):
        v = op(u)
        return v / jnp.linalg.norm(v)

    u = jax.lax.fori_loop(0, iters, power_step, u0 / jnp.linalg.norm(u0))
    return jnp.linalg.norm(op(u))


@functools.lru_cache(maxsize=8)
def _sgd(momentum: float) -> optax.GradientTransformation:
    # Learning rate 1: the step is scaled by a traced lr in train_steps, so one compiled
    # trainer serves every lr (a new optax object per call would recompile every call).
    return optax.sgd(1.0, momentum=momentum or None)


@functools.partial(jax.jit, static_argnames=("cfg", "momentum", "n_steps"))
def train_steps(cfg: Problem, momentum: float, n_steps: int, delta, opt_state, lr, base, data):
    """``n_steps`` full-batch outer steps ``delta <- delta + lr * sgd_update(grad)`` (jitted ``lax.scan``).

    Returns the new ``delta``, optimizer state and the losses before each step ``(n_steps,)``.
    ``cfg`` from :func:`problem`; ``base``/``data`` from :func:`prepare`; ``opt_state`` from
    ``optax.sgd(1.0, momentum).init(delta)``.
    """
    opt = _sgd(momentum)

    def step(carry, _):
        d, s = carry
        loss, g = jax.value_and_grad(_loss, argnums=1)(cfg, d, base, data)
        upd, s = opt.update(g, s, d)
        d = jax.tree_util.tree_map(lambda a, u: a + lr * u, d, upd)
        return (d, s), loss

    (delta, opt_state), losses = jax.lax.scan(step, (delta, opt_state), None, length=n_steps)
    return delta, opt_state, losses


@functools.partial(jax.jit, static_argnames=("cfg",))
def _predict_jit(cfg: Problem, base, delta, data):
    """Test-time adaptation on each test support, centered outputs on its query ``(tasks, q, k)``."""
    return _tasks_adapt_predict(cfg, base, delta, data, False)


@functools.partial(jax.jit, static_argnames=("cfg",))
def _init_max_abs(cfg: Problem, base, test_base, train, test):
    """``max |f(x; p0) - off(x)|`` over every train and test point: 0 for a centered net."""
    spec = cfg.spec
    if cfg.mtl:
        outs = [_mtl_raw(spec, base, train["x_out"]) - train["off_out"]]
    else:
        outs = [spec.apply(base, train[x]) - train[o] for x, o in (("x_in", "off_in"), ("x_out", "off_out"))]
    outs += [spec.apply(test_base, test[x]) - test[o] for x, o in (("x_in", "off_in"), ("x_out", "off_out"))]
    return jnp.max(jnp.stack([jnp.max(jnp.abs(o)) for o in outs]))


_raw_jit = jax.jit(lambda spec, params, x: spec.apply(params, x), static_argnums=0)
_mtl_raw_jit = jax.jit(_mtl_raw, static_argnums=0)


# --------------------------------------------------------------------------- set-up
def prepare(spec: MLPSpec, train: TaskSet, test: TaskSet, *, method: str = "anil", split: str = "disjoint",
            seed: int = 0, centered: bool = True, dtype: str = "float32") -> Prepared:
    """Draw the initial net (seeded) and lay out train/test data with the centering offsets.

    GBML: inner set = support (``split="disjoint"``) or support ∪ query (``"same"``), outer
    set = query or support ∪ query.  MTL: outputs on ``D_i`` = support ∪ query (``split``
    has no effect).  Test tasks: inner set = test support, outputs on the test query.
    Call under :func:`x64` for ``dtype="float64"``.
    """
    for name, value, options in (("method", method, METHODS), ("split", split, SPLITS), ("dtype", dtype, DTYPES)):
        if value not in options:
            raise ValueError(f"{name} must be one of {options}, got {value!r}")
    dt = jnp.dtype(dtype)
    cast = functools.partial(jax.tree_util.tree_map, lambda a: jnp.asarray(a, dt))
    with x64(False):  # draw in float32 whatever the dtype: one seed, one net, in both dtypes
        key_init, key_heads, key_test = jax.random.split(jax.random.PRNGKey(seed), 3)
        p0 = spec.init(key_init, train.dim)
        heads, test_head = _draw_heads(spec, key_heads, train.n_tasks), _draw_heads(spec, key_test, 1)
    p0 = cast(p0)
    n = train.n_tasks
    if method.startswith("mtl"):
        if method == "mtl-shared":
            heads = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (n,) + a.shape), p0["head"])
            test_head = p0["head"]
        else:
            heads = cast(heads)
            test_head = cast(jax.tree_util.tree_map(lambda a: a[0], test_head))
        base = {"body": p0["body"], "heads": heads}
        x_out, y_out = (jnp.asarray(a, dt) for a in train.merged())
        train_data = {"x_in": x_out, "y_in": y_out, "x_out": x_out, "y_out": y_out,
                      "off_out": _mtl_raw_jit(spec, base, x_out)}
        train_data["off_in"] = train_data["off_out"]
        test_base = {"body": p0["body"], "head": test_head}
    else:
        base = test_base = p0
        if split == "same":
            x_in, y_in = train.merged()
            x_out, y_out = x_in, y_in
        else:
            x_in, y_in, x_out, y_out = train.xs, train.ys, train.xq, train.yq
        x_in, y_in, x_out, y_out = (jnp.asarray(a, dt) for a in (x_in, y_in, x_out, y_out))
        train_data = {"x_in": x_in, "y_in": y_in, "x_out": x_out, "y_out": y_out,
                      "off_in": _raw_jit(spec, p0, x_in), "off_out": _raw_jit(spec, p0, x_out)}
    xs, ys, xq, yq = (jnp.asarray(a, dt) for a in (test.xs, test.ys, test.xq, test.yq))
    test_data = {"x_in": xs, "y_in": ys, "x_out": xq, "y_out": yq,
                 "off_in": _raw_jit(spec, test_base, xs), "off_out": _raw_jit(spec, test_base, xq)}
    if not centered:
        for d in (train_data, test_data):
            d["off_in"], d["off_out"] = jnp.zeros_like(d["y_in"]), jnp.zeros_like(d["y_out"])
    return Prepared(base, test_base, train_data, test_data)


def _draw_heads(spec: MLPSpec, key, n: int):
    """``n`` standard-normal heads ``(W (n, width, k), b (n, k))``, as :meth:`MLPSpec.init` draws one."""
    kw, kb = jax.random.split(key)
    return (jax.random.normal(kw, (n, spec.width, spec.out_dim)), jax.random.normal(kb, (n, spec.out_dim)))


def _check(spec, train, test, method, adapt, split, seed, centered, n_ensemble, dtype, device, outer_steps,
           lr_scale, momentum, tol, flow_substeps):
    if not isinstance(spec, MLPSpec):
        raise ValueError(f"spec must be an MLPSpec, got {type(spec).__name__}")
    for name, ts in (("train", train), ("test", test)):
        if not isinstance(ts, TaskSet):
            raise ValueError(f"{name} must be a TaskSet, got {type(ts).__name__}")
    train.check_compatible(test, "test")
    if train.out_dim != spec.out_dim:
        raise ValueError(f"train.ys has out_dim {train.out_dim}, spec.out_dim is {spec.out_dim}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not isinstance(adapt, Adaptation):
        raise ValueError(f"adapt must be an Adaptation, got {type(adapt).__name__}")
    if not isinstance(centered, bool):
        raise ValueError(f"centered must be a bool, got {centered!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    for name, value, low in (("n_ensemble", n_ensemble, 1), ("outer_steps", outer_steps, 0),
                             ("flow_substeps", flow_substeps, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not (isinstance(lr_scale, (int, float)) and 0 < lr_scale < math.inf):
        raise ValueError(f"lr_scale must be a finite number > 0, got {lr_scale!r}")
    if not (isinstance(momentum, (int, float)) and 0 <= momentum < 1):
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if not (isinstance(tol, (int, float)) and 0 <= tol < 1):
        raise ValueError(f"tol must be in [0, 1), got {tol!r}")


def _device(name: str | None):
    try:
        return jax.devices(name)[0] if name else jax.devices()[0]
    except RuntimeError as exc:
        raise ValueError(f"device={name!r} is not available to JAX: {exc}") from None


# --------------------------------------------------------------------------- public API
def fit_predict(spec: MLPSpec, train: TaskSet, test: TaskSet, *, method: str = "anil",
                adapt: Adaptation = Adaptation(), split: str = "disjoint", seed: int = 0, centered: bool = True,
                n_ensemble: int = 1, outer_steps: int = 3000, tol: float = 1e-7, lr_scale: float = 2.0,
                momentum: float = 0.7, flow_substeps: int = 20, dtype: str = "float32", device: str | None = None,
                lr_from: str = "analytic", power_iters: int = 20, chunk: int = 25, target_scale: float = 1.0,
                progress: bool = False, return_info: bool = False):
    """Train finite nets of ``spec`` on ``train`` with ``method``, adapt on each test support, predict its query.

    The finite-width counterpart of ``nb.predict.gbml`` / ``nb.predict.mtl`` (theory.md §3–5):
    same shapes in and out.  ``n_ensemble`` nets (seeds ``seed, seed+1, ...``) are averaged.

    Args:
      method: ``"mtl-shared" | "mtl-independent" | "anil" | "maml" | "fomaml"``.
      split: GBML data setting (theory.md §6); MTL always trains on support ∪ query.
      centered: train ``f(x; p) - f(x; p0)`` (exactly zero at init).
      outer_steps, tol: stop at ``loss <= tol * initial loss`` or after ``outer_steps``.
      lr_scale, momentum: outer step ``lr_scale / lambda_max`` of heavy-ball GD.
      lr_from: ``lambda_max`` of the infinite-width (meta-)NTK (``"analytic"``: the same step
        for every seed, width and dtype) or of the finite net's own, by ``power_iters`` power
        iterations (``"power"``).
      dtype: ``"float32"`` (default) or ``"float64"`` (in JAX's 64-bit mode, :func:`x64`).
      device: ``"cpu" | "gpu" | None`` (JAX's default).
      target_scale: train on ``s * Y`` (train and test targets) and return predictions ``/ s``.
        Every closed form is linear in ``Y``, so its prediction is unchanged, while a finite
        net's distance from its linearization shrinks like ``s`` (the lazy-training scale of
        Chizat, Oyallon & Bach 2019): ``s < 1`` isolates the kernel's width fluctuations.
        Losses in ``info`` are in scaled units.
    Returns:
      ``(test tasks, query, out_dim)`` NumPy float64; with ``return_info``, also a dict with
      ``final_loss, initial_loss, steps, converged, outer_lr`` (initial step), ``lr_halvings,
      lambda_max, wall_s, device, dtype, init_output_max_abs, history`` (of the first member) and
      ``members`` (one dict per net).
    Raises:
      ValueError: naming the bad argument; or when training produces non-finite values.
    """
    _check(spec, train, test, method, adapt, split, seed, centered, n_ensemble, dtype, device, outer_steps,
           lr_scale, momentum, tol, flow_substeps)
    if not isinstance(chunk, int) or chunk < 1 or not isinstance(power_iters, int) or power_iters < 1:
        raise ValueError(f"chunk and power_iters must be integers >= 1, got {chunk!r}, {power_iters!r}")
    if lr_from not in ("analytic", "power"):
        raise ValueError(f"lr_from must be 'analytic' or 'power', got {lr_from!r}")
    if not (isinstance(target_scale, (int, float)) and 0 < target_scale < math.inf):
        raise ValueError(f"target_scale must be a finite number > 0, got {target_scale!r}")
    if target_scale != 1:
        train, test = (TaskSet(t.xs, t.ys * target_scale, t.xq, t.yq * target_scale) for t in (train, test))
    cfg = problem(spec, method, adapt, flow_substeps)
    lam = analytic_lambda_max(spec, train, method=method, adapt=adapt, split=split) if lr_from == "analytic" else None
    test_cfg = dataclasses.replace(cfg, method="anil" if cfg.head_only else "maml")
    dev = _device(device)
    ctx = x64() if dtype == "float64" else contextlib.nullcontext()
    preds, members = [], []
    with ctx, jax.default_device(dev):
        for member in range(n_ensemble):
            pred, info = _fit_one(cfg, test_cfg, train, test, split, seed + member, centered, dtype, dev,
                                  outer_steps, tol, lr_scale, momentum, chunk, lam, power_iters, progress)
            preds.append(pred)
            members.append(info)
    pred = np.mean(preds, axis=0) / target_scale
    if not return_info:
        return pred
    info = {key: members[0][key] for key in ("initial_loss", "outer_lr", "lr_halvings", "lambda_max", "device", "dtype",
                                             "history")}
    info.update(final_loss=max(m["final_loss"] for m in members), steps=max(m["steps"] for m in members),
                converged=all(m["converged"] for m in members), wall_s=sum(m["wall_s"] for m in members),
                init_output_max_abs=max(m["init_output_max_abs"] for m in members), members=members)
    return pred, info


def _fit_one(cfg, test_cfg, train, test, split, seed, centered, dtype, dev, outer_steps, tol, lr_scale,
             momentum, chunk, lam, power_iters, progress):
    """Train one net (``lam``: the outer step's ``lambda_max``, ``None``: power iteration); predictions, info."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    prep = jax.device_put(prepare(cfg.spec, train, test, method=cfg.method, split=split, seed=seed,
                                  centered=centered, dtype=dtype), dev)
    base, data = prep.base, prep.train
    delta = jax.tree_util.tree_map(jnp.zeros_like, base)
    init_abs = float(_init_max_abs(cfg, base, prep.test_base, data, prep.test))
    if lam is None:
        u0 = jax.random.normal(jax.random.PRNGKey(seed + 1), data["y_out"].shape, data["y_out"].dtype)
        lam = float(_lambda_max(cfg, base, delta, data, u0, power_iters))
    if not (math.isfinite(lam) and lam > 0):
        raise ValueError(f"the (meta-)NTK's largest eigenvalue is {lam}: the inner loop diverges or the "
                         f"net is degenerate; lower adapt.lr")
    lr = jnp.asarray(lr_scale / lam, data["y_out"].dtype)
    opt_state = _sgd(momentum).init(delta)
    loss0 = float(_loss_jit(cfg, delta, base, data))
    history, steps, best, halvings = [], 0, loss0, 0
    bar = tqdm(total=outer_steps, disable=not progress, desc=f"{cfg.method} width={cfg.spec.width}")
    while steps < outer_steps:
        n = min(chunk, outer_steps - steps)
        new_delta, new_state, losses = train_steps(cfg, momentum, n, delta, opt_state, lr, base, data)
        losses = np.asarray(losses)
        # Two guards, each halving the step (step sizes do not change the linear regime's limit):
        # a diverging chunk (the analytic lambda_max can underestimate a narrow net's) is undone;
        # a chunk that does not improve the best loss by 1% has stalled, as GD with a fixed step
        # can cycle around the kinks of ReLU near the optimum (FOMAML's update, not a gradient,
        # most of all).  After MAX_HALVINGS, divergence raises and a stall stops training.
        diverged = not (np.all(np.isfinite(losses)) and losses[-1] <= 10 * losses[0])
        if diverged or losses.min() > 0.99 * best:
            lr, halvings = lr / 2, halvings + 1
            if halvings > MAX_HALVINGS and diverged:
                raise ValueError(f"{cfg.method}: outer training diverges even with the step "
                                 f"{2 ** MAX_HALVINGS}x smaller; lower lr_scale or adapt.lr")
            if halvings > MAX_HALVINGS:
                break
            if diverged:
                continue
        delta, opt_state = new_delta, new_state
        history.append(losses)
        steps += n
        bar.update(n)
        best = min(best, float(losses.min()))
        if losses[-1] <= tol * loss0:
            break
    bar.close()
    final = float(_loss_jit(cfg, delta, base, data))
    # MTL: the trained body with the untrained test head (theory.md §4).
    test_delta = delta if not cfg.mtl else {"body": delta["body"], "head": jax.tree_util.tree_map(
        jnp.zeros_like, prep.test_base["head"])}
    pred = np.asarray(_predict_jit(test_cfg, prep.test_base, test_delta, prep.test), dtype=np.float64)
    if not (math.isfinite(final) and np.all(np.isfinite(pred))):
        raise ValueError(f"{cfg.method}: non-finite loss or predictions; lower lr_scale or adapt.lr")
    return pred, {"final_loss": final, "initial_loss": loss0, "steps": steps, "converged": final <= tol * loss0,
                  "outer_lr": lr_scale / lam, "lr_halvings": halvings, "lambda_max": lam,
                  "wall_s": time.perf_counter() - start,
                  "device": f"{dev.platform}:{dev.id} ({dev.device_kind})", "dtype": dtype,
                  "init_output_max_abs": init_abs,
                  "history": np.concatenate(history) if history else np.zeros(0)}


def analytic_lambda_max(spec: MLPSpec, train: TaskSet, *, method: str = "anil", adapt: Adaptation = Adaptation(),
                        split: str = "disjoint") -> float:
    """Largest ``|eigenvalue|`` of the infinite-width kernel the outer loop descends (native kernels, float64).

    MTL: ``Theta_MTL(D, D)`` (theory.md §4); GBML: the meta-NTK ``Phi`` (FOMAML: the
    non-symmetric ``Psi``), ``nb.predict.meta_ntk``.
    """
    from . import predict

    kernel_fn = predict.analytic(spec)
    if method.startswith("mtl"):
        x, _ = train.merged()
        n, m = x.shape[:2]
        k = kernel_fn(x.reshape(n * m, -1))
        same_task = np.kron(np.eye(n), np.ones((m, m)))
        mat = same_task * k.theta if method == "mtl-independent" else k.theta_body + same_task * k.sigma
    else:
        mat = predict.meta_ntk(kernel_fn, train, algo=method, adapt=adapt, split=split).phi
    return float(np.max(np.abs(np.linalg.eigvals(mat))))


# --------------------------------------------------------------------------- width studies
def closed_form(spec: MLPSpec, train: TaskSet, test: TaskSet, *, method: str = "anil",
                adapt: Adaptation = Adaptation(), split: str = "disjoint", ridge: float = 0.0) -> np.ndarray:
    """The infinite-width predictor ``nb.predict`` gives for ``method`` (native kernels, float64)."""
    from . import predict

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method.startswith("mtl"):
        return predict.mtl(spec, train, test, heads=method[4:], adapt=adapt, ridge=ridge)
    return predict.gbml(spec, train, test, algo=method, adapt=adapt, split=split, ridge=ridge)


def width_convergence(spec: MLPSpec, train: TaskSet, test: TaskSet, widths, *, methods=METHODS,
                      seeds=(0,), adapt: Adaptation = Adaptation(), split: str = "disjoint",
                      max_width: dict | None = None, **fit_kw) -> dict:
    """``rel_gap(finite, closed form)`` per method, width and seed, and the fitted rate.

    Fits ``gap ~ c * width^-r`` (``nb.metrics.fit_power_law``, seeds resampled for the
    interval); ``slope = -r`` should be near ``-1/2`` (theory.md §5).  ``max_width`` caps
    the widths of some methods (e.g. ``{"maml": 2048}``: second-order MAML is the costly one).

    Returns a JSON-ready dict ``{"widths", "seeds", "split", "methods": {m: {"widths", "gap"
    (seeds x widths), "mean_gap", "final_loss", "steps", "wall_s", "slope", "fit"}}}``.
    """
    widths = sorted(int(w) for w in widths)
    if len(widths) < 2 or widths[0] < 1:
        raise ValueError(f"widths needs >= 2 positive widths, got {widths!r}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must list at least one seed")
    out = {"widths": widths, "seeds": seeds, "split": split, "depth": spec.depth,
           "adapt": dataclasses.asdict(adapt), "fit_kw": {k: v for k, v in fit_kw.items() if k != "progress"},
           "methods": {}}
    for method in methods:
        ref = closed_form(spec, train, test, method=method, adapt=adapt, split=split)
        ws = [w for w in widths if w <= (max_width or {}).get(method, math.inf)]
        gap, loss, steps, wall = (np.zeros((len(seeds), len(ws))) for _ in range(4))
        for j, width in enumerate(ws):
            for i, seed in enumerate(seeds):
                pred, info = fit_predict(spec.replace(width=width), train, test, method=method, adapt=adapt,
                                         split=split, seed=seed, return_info=True, **fit_kw)
                gap[i, j] = metrics.rel_gap(pred, ref)
                out["device"] = info["device"]
                loss[i, j], steps[i, j], wall[i, j] = info["final_loss"], info["steps"], info["wall_s"]
        fit = metrics.fit_power_law(ws, gap) if len(ws) >= 2 else None
        out["methods"][method] = {"widths": ws, "gap": gap.tolist(), "mean_gap": gap.mean(0).tolist(),
                                  "final_loss": loss.tolist(), "steps": steps.tolist(), "wall_s": wall.tolist(),
                                  "slope": None if fit is None else -fit["r"], "fit": fit}
    return out


def cross_head_kernel(spec: MLPSpec, x, *, seed: int = 0) -> dict:
    """Cross-head body kernel of two independently drawn heads on one body, relative to the same-head one.

    ``Theta_cross(x, x') = sum_{body params} df_1(x)/dp . df_2(x')/dp`` for heads ``w_1, w_2``
    (``nb.kernels.empirical`` with ``head2``); MTL with independent heads couples tasks only
    through it, and it vanishes like ``width^-1/2`` (theory.md §4).  Float64.

    Returns ``{"cross": (n, n), "body": (n, n) same-head Theta_body, "ratio": ||cross|| / ||body||}``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (points, dim), got {x.shape}")
    with x64(False):
        key_init, key_head = jax.random.split(jax.random.PRNGKey(seed))
        p = spec.init(key_init, x.shape[1])
        head2 = jax.tree_util.tree_map(lambda a: a[0], _draw_heads(spec, key_head, 1))
    with x64():
        p, head2 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), (p, head2))
        body = empirical(spec, p, x).theta_body
        cross = empirical(spec, p, x, head2=head2).theta
    return {"cross": np.asarray(cross), "body": np.asarray(body),
            "ratio": float(np.linalg.norm(cross) / np.linalg.norm(body))}


def time_outer_step(spec: MLPSpec, train: TaskSet, method: str, adapt: Adaptation, *, n_steps: int,
                    repeats: int, device: str | None = None) -> dict:
    """Median wall time of one full-batch outer step of ``method`` (claim C4), after a warm-up call.

    ``n_steps`` steps per timed call (``block_until_ready``), ``repeats`` timed calls.
    """
    dev = jax.devices(device)[0] if device else jax.devices()[0]
    with jax.default_device(dev):
        prep = jax.device_put(prepare(spec, train, train, method=method, seed=0), dev)
        cfg = problem(spec, method, adapt)
        delta = jax.tree_util.tree_map(jax.numpy.zeros_like, prep.base)
        state = optax.sgd(1.0, momentum=0.7).init(delta)
        lr = jax.numpy.asarray(1e-3, prep.train["y_out"].dtype)  # small: the cost does not depend on it

        def run(delta, state):
            out = train_steps(cfg, 0.7, n_steps, delta, state, lr, prep.base, prep.train)
            jax.block_until_ready(out)
            return out

        t0 = time.perf_counter()
        delta, state, _ = run(delta, state)  # compile + first steps
        warm = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            delta, state, _ = run(delta, state)
            times.append((time.perf_counter() - t0) / n_steps)
    return {"per_step_s": float(np.median(times)), "per_step_all_s": times, "warmup_s": warm,
            "device": f"{dev.platform} ({dev.device_kind})"}
