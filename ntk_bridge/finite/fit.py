"""Train finite nets and predict the test queries: ``nb.finite.fit_predict`` (theory.md §5, §7).

The outer loop is full-batch GD (``train_steps``, heavy-ball
momentum optional) with learning rate ``lr_scale / lambda_max``, ``lambda_max`` the largest
eigenvalue of the net's own (meta-)NTK in output space (power iteration, the default
``SCHEDULE``: step ``1 / lambda_max``, momentum 0) or of the infinite-width one
(``analytic_lambda_max``).  The decisions (step tracking, halving, undoing rises, stalls)
are the schedule's (``.schedule``, shared with ``.conditioned``); the loss is monitored at
every step (``loss_monitor``); after ``MAX_HALVINGS`` divergence raises and a
stall stops.
Before training, ``guards`` checks the inputs against the dtype's range, the
net for dead points and the initial loss for the targets' range; before training and again on
the trained net, every inner loop against its stability edge.  Each failure names the quantity
that decides it (``_diverges`` for the outer loop).
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from .. import code_maps, validate
from ..errors import NotComputable
from .. import methods
from ..methods import Method
from ..precision import x64
from ..predict import Adaptation
from ..predict.spec_level import bound
from ..spec import MLPSpec
from ..tasks import TaskSet
from . import guards, net
from .initial import prepare, test_delta
from .movement import PROBE_POINTS, feature_movement, kernel_movement
from .problem import DEVICES, DTYPES, Problem, problem, resolve
from .schedule import MAX_HALVINGS, Schedule, loss_monitor

LR_FROM = ("analytic", "power")


@dataclasses.dataclass(frozen=True)
class Options:
    """The checked training options of ``fit_predict`` (plain Python values)."""

    seed: int
    centered: bool
    n_ensemble: int
    outer_steps: int
    tol: float
    lr_scale: float
    momentum: float
    flow_substeps: int
    dtype: str
    device: str | None
    lr_from: str
    power_iters: int
    chunk: int
    target_scale: float
    progress: bool
    both_heads: bool


def _check(spec, train, test, adapt, **kw) -> Options:
    """Every argument of ``fit_predict`` checked once, as plain values; ``ValueError`` names the field."""
    validate.instance("train", train, TaskSet)
    validate.instance("test", test, TaskSet)
    bound(spec, train)
    train.check_compatible(test, "test")
    if train.out_dim != spec.out_dim:
        raise ValueError(f"train.ys has out_dim {train.out_dim}, spec.out_dim is {spec.out_dim}")
    validate.instance("adapt", adapt, Adaptation)
    if kw["device"] is not None:
        validate.choice("device", kw["device"], DEVICES[1:])
    return Options(
        seed=validate.integer("seed", kw["seed"], 0), centered=validate.flag("centered", kw["centered"]),
        n_ensemble=validate.integer("n_ensemble", kw["n_ensemble"], 1),
        outer_steps=validate.integer("outer_steps", kw["outer_steps"], 0),
        tol=validate.real("tol", kw["tol"], 0.0, 1.0, high_open=True),
        lr_scale=validate.positive("lr_scale", kw["lr_scale"]),
        momentum=validate.real("momentum", kw["momentum"], 0.0, 1.0, high_open=True),
        flow_substeps=validate.integer("flow_substeps", kw["flow_substeps"], 1),
        dtype=validate.choice("dtype", kw["dtype"], DTYPES), device=kw["device"],
        lr_from=validate.choice("lr_from", kw["lr_from"], LR_FROM),
        power_iters=validate.integer("power_iters", kw["power_iters"], 1),
        chunk=validate.integer("chunk", kw["chunk"], 1),
        target_scale=validate.positive("target_scale", kw["target_scale"]),
        progress=validate.flag("progress", kw["progress"]), both_heads=validate.flag("both_heads", kw["both_heads"]))


def _device(name: str | None):
    try:
        return jax.devices(name)[0] if name else jax.devices()[0]
    except RuntimeError as exc:
        raise ValueError(f"device={name!r} is not available to JAX: {exc}") from None


# --------------------------------------------------------------------------- public API
def fit_predict(spec: MLPSpec, train: TaskSet, test: TaskSet, *, method="anil", adapt: Adaptation = Adaptation(),
                split: str | None = None, test_head: str | None = None, seed: int = 0, centered: bool = True,
                n_ensemble: int = 1, outer_steps: int = 3000, tol: float = 1e-7, lr_scale: float = 1.0,
                momentum: float = 0.0, flow_substeps: int = 20, dtype: str = "float32", device: str | None = None,
                lr_from: str = "power", power_iters: int = 20, chunk: int = 25, target_scale: float = 1.0,
                progress: bool = False, both_heads: bool = False, return_info: bool = False):
    """Train finite nets of ``spec`` on ``train`` with ``method``, adapt on each test support, predict its query.

    The finite-width counterpart of ``nb.predict.closed_form`` / ``nb.predict.gbml`` /
    ``nb.predict.mtl`` (theory.md §3–6): same shapes in and out.  ``n_ensemble`` nets (seeds
    ``seed, seed+1, ...``) are averaged.

    Args:
      spec: the architecture (``MLPSpec`` of any parameterization, or ``ConvSpec`` on image tasks); its
        ``out_dim`` is the tasks'.
      train: the training tasks (``TaskSet``).
      test: the test tasks: adapted on their supports, predicted on their queries.
      method: a ``Method`` or a name, ``"mtl-shared" | "mtl-independent" |
        "anil" | "maml" | "fomaml" | "no-transfer"`` (GBML names may end in ``-same``/``-disjoint``,
        any name in ``+fresh``; ``methods.parse``).
      split: GBML data setting (theory.md §6), overriding the method's (default ``"disjoint"``);
        MTL always trains on support ∪ query.
      test_head: ``"trained"`` (ANIL/MAML keep their meta-learned head, MTL uses the common initial
        head ``w0``) or ``"fresh"`` (the paper's protocol: a fresh random head of the seed, the same
        for every method, on the trained body; a centered net subtracts its initial output with it),
        overriding the method's; then the method's test-time inner loop (head only for MTL/ANIL).
      adapt: the inner loop (``Adaptation``), in meta-training and at test time.
      seed: the first net's initialization, an int ``>= 0`` (``prepare``).
      centered: train ``f(x; p) - f(x; p0)`` (exactly zero at init).
      n_ensemble: the number of nets (seeds ``seed, seed+1, ...``) whose predictions are averaged.
      outer_steps: stop after this many outer steps (``0``: no outer training; the initial net is still
        adapted on each test support).
      tol: stop once ``loss <= tol * initial loss``.
      lr_scale: the outer step is ``lr_scale / lambda_max``.  Default (``SCHEDULE``, theory.md §8):
        ``1 / lambda_max`` of the net's own (meta-)NTK, momentum 0, so that in the kernel regime the loss
        falls at every step.
      momentum: heavy-ball momentum in ``[0, 1)`` (it can overshoot even on a quadratic).
      flow_substeps: inner steps per step of ``adapt`` when ``adapt.flow`` (``problem``).
      lr_from: ``lambda_max`` of the finite net's own (meta-)NTK ``J_F J_F^T`` at initialization, by
        ``power_iters`` power iterations (``"power"``, default), or of the infinite-width one
        (``"analytic"``: the same step for every seed, width and dtype; it underestimates a deep
        narrow net's, measured: catapult rises up to 3.35x the initial loss at L = 16, n = 512).
      power_iters: power iterations for the initial ``lambda_max`` (``lr_from="power"``).
      chunk: outer steps per jitted chunk; the schedule re-checks the step between chunks.
      dtype: ``"float32"`` (default) or ``"float64"`` (switches JAX's 64-bit mode inside).
      device: ``"cpu" | "gpu" | None`` (JAX's default).
      target_scale: train on ``s * Y`` (train and test targets) and return predictions ``/ s``.
        Every closed form is linear in ``Y``, so its prediction is unchanged, while a finite
        net's distance from its linearization shrinks like ``s`` (the lazy-training scale of
        Chizat, Oyallon & Bach 2019): ``s < 1`` isolates the kernel's width fluctuations.
        Losses in ``info`` are in scaled units.
      progress: show a progress bar of the outer steps.
      both_heads: also read each trained net under the other test-time protocol (one training, both
        protocols): ``info["predictions"] = {"trained": ..., "fresh": ...}`` (the returned prediction is
        the method's own); a protocol other than the method's whose test-time loop is past its stability
        edge or predicts non-finite values gets ``None`` there and its reason in ``info["prediction_errors"]``.
      return_info: also return the dict ``info`` (below).
    Returns:
      ``(test tasks, query, out_dim)`` NumPy float64; with ``return_info``, also a dict with
      ``method`` (its label), ``final_loss, initial_loss, steps, converged, outer_lr`` (initial step),
      ``lr_halvings, lambda_max, inner_edge`` (``{"init"|"trained": {"train"|"test": inner lr *
      lambda_max}}`` of the net's empirical inner kernels: past 2 a discrete inner loop diverges),
      ``wall_s, device, dtype, init_output_max_abs, history``, ``body`` (the trained body's
      parameters, NumPy, for ``nb.probe.finite``), ``feature_movement`` (mean relative movement of the
      last hidden features on the test points, ``feature_movement``) and ``kernel_movement``
      (relative movement of the test net's empirical NTK on the first ``PROBE_POINTS`` test points,
      ``kernel_movement``) of the first member, the loss
      monitor (worst over members): ``rises`` (steps whose loss exceeded the previous one),
      ``max_step_ratio`` (max ``loss[t+1] / loss[t]``), ``max_loss_ratio`` (max ``loss / initial``),
      ``left_kernel_regime`` (a step ratio above ``RISE_TOL`` = 1.05, by more than ``RISE_FLOOR`` x the initial
      loss, in some member), ``undone_rises``
      (chunks undone and retried at half the step because their loss rose by more than ``RISE_TOL``), ``schedule`` and
      ``members`` (one dict per net).
    Raises:
      ValueError: naming the bad argument; inputs whose kernel over- or underflows the dtype (rescale them).
      NotComputable: an inner loop past its stability edge (lower ``adapt.lr`` or use ``flow=True``),
        a degenerate net (zero Jacobian on every point of a task: widen it), targets out of range
        (a non-finite initial loss or (meta-)NTK), outer training that diverges (past the step's edge:
        lower ``lr_scale``; within it: the targets against the net's output scale, or the width), or
        non-finite predictions within the test-time loop's edge (the test targets).

    Examples:
      A wide trained MTL net lands near its closed form (theory.md §7):

      >>> import ntk_bridge as nb
      >>> train = nb.tasks.shared_feature(3, 5, 5, dim=4, seed=0)
      >>> test = nb.tasks.shared_feature(2, 5, 5, dim=4, seed=1)
      >>> spec, adapt = nb.MLPSpec(depth=1, width=1024), nb.Adaptation(lr=0.1, steps=3)
      >>> pred, info = nb.finite.fit_predict(spec, train, test, method="mtl-shared", adapt=adapt,
      ...                                    outer_steps=1000, tol=1e-5, return_info=True)
      >>> closed = nb.predict.closed_form("mtl-shared", nb.predict.analytic(spec), train, test, adapt=adapt)
      >>> pred.shape, info["converged"], bool(nb.metrics.rel_gap(pred, closed) < 0.2)
      ((2, 5, 1), True, True)
    """
    m = resolve(method, split, test_head)
    opt = _check(spec, train, test, adapt, seed=seed, centered=centered, n_ensemble=n_ensemble,
                 outer_steps=outer_steps, tol=tol, lr_scale=lr_scale, momentum=momentum,
                 flow_substeps=flow_substeps, dtype=dtype, device=device, lr_from=lr_from, power_iters=power_iters,
                 chunk=chunk, target_scale=target_scale, progress=progress, both_heads=both_heads)
    return_info = validate.flag("return_info", return_info)
    spec = bound(spec, train)
    if opt.target_scale != 1:
        s = opt.target_scale
        train, test = (TaskSet(t.xs, t.ys * s, t.xq, t.yq * s) for t in (train, test))
    cfg = problem(spec, m, adapt, opt.flow_substeps)
    dev = _device(opt.device)
    analytic = {}  # the analytic lambda_max, computed once (after the first member's guards)
    ctx = x64() if opt.dtype == "float64" else contextlib.nullcontext()
    preds, members = [], []
    with ctx, jax.default_device(dev):
        for member in range(opt.n_ensemble):
            code_maps.ensure_headroom()
            pred, info = _fit_one(cfg, m, adapt, train, test, opt, opt.seed + member, dev, analytic)
            preds.append(pred)
            members.append(info)
    pred = np.mean(preds, axis=0) / opt.target_scale
    if not return_info:
        return pred
    info = {key: members[0][key] for key in ("initial_loss", "outer_lr", "lr_halvings", "lambda_max", "device",
                                             "dtype", "history", "body", "feature_movement",
                                             "kernel_movement")}
    info.update(method=m.label, final_loss=max(x["final_loss"] for x in members),
                steps=max(x["steps"] for x in members), converged=all(x["converged"] for x in members),
                wall_s=sum(x["wall_s"] for x in members),
                init_output_max_abs=max(x["init_output_max_abs"] for x in members),
                inner_edge=members[0]["inner_edge"], members=[{k: v for k, v in x.items() if k != "predictions"}
                                                              for x in members], schedule=_schedule(opt).name,
                rises=max(x["rises"] for x in members),
                max_step_ratio=max(x["max_step_ratio"] for x in members),
                max_loss_ratio=max(x["max_loss_ratio"] for x in members),
                undone_rises=sum(x["undone_rises"] for x in members),
                left_kernel_regime=any(x["left_kernel_regime"] for x in members))
    if opt.both_heads:
        info["predictions"], info["prediction_errors"] = {}, {}
        for head in methods.TEST_HEADS:
            per = [x["predictions"][head] for x in members]
            why = next((x["prediction_errors"][head] for x in members if head in x["prediction_errors"]), None)
            info["predictions"][head] = None if why else np.mean(per, axis=0) / opt.target_scale
            if why:
                info["prediction_errors"][head] = why
    return pred, info


def analytic_lambda_max(spec: MLPSpec, train: TaskSet, *, method="anil", adapt: Adaptation = Adaptation(),
                        split: str | None = None) -> float:
    """Largest ``|eigenvalue|`` of the infinite-width kernel the outer loop descends (native kernels, float64).

    MTL: ``Theta_MTL(D, D)`` on every task's support ∪ query (theory.md §4: ``Theta_body + delta_ij Sigma``
    with shared heads, ``delta_ij Theta`` with independent ones); GBML: the meta-NTK ``Phi`` (FOMAML: the
    non-symmetric ``Psi``), ``nb.predict.meta_ntk``.  The outer step of ``fit_predict(lr_from="analytic")``
    is ``lr_scale`` over it.

    Args:
      spec: the architecture (NTK parameterization: it has infinite-width kernels).
      train: the training tasks.
      method: a ``Method`` or a name (``resolve``).
      adapt: the inner loop (GBML's meta-NTK depends on it; MTL ignores it).
      split: GBML's ``"disjoint"``/``"same"``, overriding the method's.

    Returns:
      ``lambda_max``, a float ``>= 0``.

    Raises:
      ValueError: for the no-transfer baseline (nothing is trained), or a bad argument.
      NotComputable: a spec without infinite-width kernels (not ``"ntk"``), or a meta-NTK that cannot be
        formed (``nb.predict.meta_ntk``: an inner loop past its stability edge, non-finite kernels).

    Examples:
      Independent heads make ``Theta_MTL`` block diagonal, one block ``Theta(D_i, D_i)`` per task:

      >>> import numpy as np, ntk_bridge as nb
      >>> spec, train = nb.MLPSpec(depth=1), nb.tasks.shared_feature(3, 3, 3, dim=3, seed=0)
      >>> lam = nb.finite.analytic_lambda_max(spec, train, method="mtl-independent")
      >>> blocks = [np.linalg.eigvalsh(nb.kernels.kernels(spec, x).theta).max() for x in train.merged()[0]]
      >>> bool(np.isclose(lam, max(blocks)))
      True
      >>> nb.finite.analytic_lambda_max(spec, train, method="anil", adapt=nb.Adaptation(lr=0.1, steps=2)) > 0
      True
      >>> nb.finite.analytic_lambda_max(spec, train, method="no-transfer")
      Traceback (most recent call last):
      ...
      ValueError: analytic_lambda_max: the no-transfer baseline trains nothing
    """
    from .. import predict

    m = resolve(method, split)
    if m.kind == "none":
        raise ValueError("analytic_lambda_max: the no-transfer baseline trains nothing")
    kernel_fn = predict.analytic(spec)
    if m.kind == "mtl":
        x, _ = train.merged()
        n, p = x.shape[:2]
        k = kernel_fn(x.reshape(n * p, -1))
        same_task = np.kron(np.eye(n), np.ones((p, p)))
        mat = same_task * k.theta if m.heads == "independent" else k.theta_body + same_task * k.sigma
    else:
        mat = predict.meta_ntk(kernel_fn, train, algo=m.algo, adapt=adapt, split=m.split).phi
    return float(np.max(np.abs(np.linalg.eigvals(mat))))


# --------------------------------------------------------------------------- one net
def _guard(cfg: Problem, m: Method, adapt: Adaptation, flow_substeps: int, prep, delta, *, when: str,
           train_raises: bool = True) -> dict:
    """The inner-loop stability checks of ``guards`` on the net ``base + delta``: ``{where: lr * lambda_max}``.

    The test-time fine-tuning always raises past the edge (it makes the returned predictions);
    the training tasks' inner loops raise only when ``train_raises`` (before training: after it,
    meta-training has already compensated for whatever its inner loop did, and the edge is recorded).
    """
    kw = dict(label=f"{m.label} ({when})", flow=adapt.flow, flow_substeps=flow_substeps)
    edges = {}
    if cfg.outputs == "meta":
        edges["train"] = guards.check_inner_loop(cfg, net.add(prep.base, delta), prep.train["x_in"],
                                                 where="the training tasks' inner sets", raises=train_raises, **kw)
    edges["test"] = guards.check_inner_loop(cfg.for_test(), net.add(prep.test_base, test_delta(m, prep, delta)),
                                            prep.test["x_in"], where="the test supports (test-time fine-tuning)",
                                            **kw)
    return edges


def _fit_one(cfg: Problem, m: Method, adapt: Adaptation, train: TaskSet, test: TaskSet, opt: Options, seed: int,
             dev, analytic: dict):
    """Train one net of seed ``seed``; its test predictions and info."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    prep = prepare(cfg.spec, train, test, method=m, seed=seed, centered=opt.centered, dtype=opt.dtype)
    prep = jax.device_put(prep, dev)
    base, data = prep.base, prep.train
    delta = jax.tree_util.tree_map(jnp.zeros_like, base)
    init_abs = float(net.init_max_abs(cfg, base, prep.test_base, data, prep.test))
    sets = {}  # {which: (inputs' fields, inputs, targets)}: what each task trains or adapts on
    if cfg.outputs != "none":
        sets["train"] = ("train.xs, train.xq", np.concatenate([train.xs, train.xq], axis=1),
                         {"train.ys": train.ys, "train.yq": train.yq})
    sets["test"] = ("test.xs", test.xs, {"test.ys": test.ys})
    scale = guards.check_inputs(cfg.spec, prep.test_base, {f: x for f, x, _ in sets.values()}, {"test.xq": test.xq},
                                label=m.label)
    targets = {k: guards.targets_note(y, scale[f], opt.target_scale) for k, (f, _, y) in sets.items()}
    edge = {"init": _guard(cfg, m, adapt, opt.flow_substeps, prep, delta, when="at initialization")}
    loss0 = float(net.loss_jit(cfg, delta, base, data)) if cfg.outputs != "none" else 0.0
    if not math.isfinite(loss0):
        inner = ", and its inner loops within their edges" if cfg.outputs == "meta" else ""
        raise NotComputable(f"{m.label}: the initial outer loss is {loss0} in {opt.dtype}, with the net's kernel "
                            f"finite on every input{inner}: {targets['train']}")
    history, steps, halvings, lam, undone = [], 0, 0, math.nan, 0
    if cfg.outputs != "none":
        lam = _outer_lambda_max(cfg, m, adapt, train, opt, prep, delta, seed, analytic, targets["train"])
        delta, steps, halvings, history, undone = _train(cfg, m, adapt, opt, prep, delta, lam, loss0, tqdm, seed,
                                                         targets["train"])
    final = float(net.loss_jit(cfg, delta, base, data)) if cfg.outputs != "none" else 0.0
    if cfg.outputs != "none":  # training moves the kernels: check the trained net's inner loops again
        edge["trained"] = _guard(cfg, m, adapt, opt.flow_substeps, prep, delta, when="after training",
                                 train_raises=False)
    pred = np.asarray(net.predict(cfg.for_test(), prep.test_base, test_delta(m, prep, delta), prep.test),
                      dtype=np.float64)
    if not np.all(np.isfinite(pred)):  # its step is within the edge (_guard raised otherwise)
        within = edge["trained" if "trained" in edge else "init"]["test"]
        raise NotComputable(f"{m.label}: the test-time fine-tuning produced non-finite predictions with its step "
                            f"within the stability edge (inner lr x lambda_max = {within:.3g} <= {guards.EDGE:g}), "
                            f"so it leaves the net's linearization: {targets['test']}")
    out = {"predictions": {m.test_head: pred}, "prediction_errors": {}} if opt.both_heads else {}
    trained = net.add(base, delta)["body"]
    points = np.concatenate([test.xs, test.xq], 1).reshape(-1, test.dim)
    test_net = net.add(prep.test_base, test_delta(m, prep, delta))  # the net the test tasks start from
    if opt.both_heads:
        other = methods.parse(m, test_head="fresh" if m.test_head == "trained" else "trained")
        out["predictions"][other.test_head], why = _read_with(cfg, other, adapt, train, test, opt, seed, dev, delta)
        if why:
            out["prediction_errors"][other.test_head] = why
    return pred, {**out, "final_loss": final, "initial_loss": loss0, "steps": steps,
                  "converged": cfg.outputs == "none" or final <= opt.tol * loss0,
                  "outer_lr": opt.lr_scale / lam if cfg.outputs != "none" else 0.0, "lr_halvings": halvings,
                  "undone_rises": undone,
                  "lambda_max": lam if cfg.outputs != "none" else 0.0, "inner_edge": edge,
                  "wall_s": time.perf_counter() - start,
                  "device": f"{dev.platform}:{dev.id} ({dev.device_kind})", "dtype": opt.dtype,
                  "init_output_max_abs": init_abs,
                  "body": jax.tree_util.tree_map(np.asarray, trained),
                  # theory.md §12: the last hidden features' relative movement on the test points (trained body),
                  # and the empirical NTK's of the test net on the first PROBE_POINTS of them
                  "feature_movement": feature_movement(cfg.spec, base["body"], trained, points),
                  "kernel_movement": kernel_movement(cfg.spec, prep.test_base, test_net, points[:PROBE_POINTS]),
                  "history": np.concatenate(history) if history else np.zeros(0),
                  **loss_monitor(np.concatenate(history) if history else np.zeros(0),
                                 final if cfg.outputs != "none" and history else None)}


def _read_with(cfg: Problem, m: Method, adapt: Adaptation, train: TaskSet, test: TaskSet, opt: Options, seed: int,
               dev, delta):
    """The net ``p0 + delta`` trained for another protocol, read under ``m``'s test head (one training, both
    protocols): ``(prediction, None)``, or ``(None, reason)`` past the test-time loop's stability edge or non-finite."""
    prep = jax.device_put(prepare(cfg.spec, train, test, method=m, seed=seed, centered=opt.centered,
                                  dtype=opt.dtype), dev)
    tdelta = test_delta(m, prep, delta)
    try:
        guards.check_inner_loop(cfg.for_test(), net.add(prep.test_base, tdelta), prep.test["x_in"],
                                where="the test supports (test-time fine-tuning)", label=f"{m.label} (after training)",
                                flow=adapt.flow, flow_substeps=opt.flow_substeps)
    except NotComputable as exc:
        return None, str(exc)
    pred = np.asarray(net.predict(cfg.for_test(), prep.test_base, tdelta, prep.test), dtype=np.float64)
    if not np.all(np.isfinite(pred)):
        return None, f"{m.label}: the test-time fine-tuning produced non-finite predictions"
    return pred, None


def _outer_lambda_max(cfg, m, adapt, train, opt, prep, delta, seed, analytic: dict, targets: str) -> float:
    """``lambda_max`` of the outer step: analytic (computed once per ``fit_predict``) or power iteration.

    ``targets``: ``guards.targets_note`` of the training targets, for the message of a non-finite one.
    """
    if opt.lr_from == "analytic":
        if "lam" not in analytic:
            try:
                analytic["lam"] = analytic_lambda_max(cfg.spec, train, method=m, adapt=adapt)
            except ValueError as exc:
                raise NotComputable(f"{m.label}: the outer step comes from the infinite-width (meta-)NTK "
                                    f"(lr_from='analytic'), which cannot be formed here: {exc}; or use "
                                    f"lr_from='power' (the net's own kernel)") from exc
        lam = analytic["lam"]
    else:
        y = prep.train["y_out"]
        # drawn in float32 whatever the dtype (as the parameters): one seed, one start, one step in both dtypes
        u0 = jax.random.normal(jax.random.PRNGKey(seed + 1), y.shape, jnp.float32).astype(y.dtype)
        lam = float(net.power_lambda_max(cfg, prep.base, delta, prep.train, u0, opt.power_iters))
    if not (math.isfinite(lam) and lam > 0):
        cause = (f"the meta-outputs' Jacobian carries the inner loop's residuals: {targets}"
                 if cfg.outputs == "meta" and opt.lr_from == "power" else
                 "its sum over the training points overflows: rescale the inputs (the kernel grows like |x|^2)")
        raise NotComputable(f"{m.label}: the (meta-)NTK's largest eigenvalue is {lam} in {opt.dtype} although the "
                            f"net's kernel on every input and the initial loss are finite; {cause}")
    return lam


def _schedule(opt: Options) -> Schedule:
    """The outer schedule of ``opt`` (``.schedule``): tracked on the net's own kernel unless ``lr_from="analytic"``."""
    return Schedule(lr_scale=opt.lr_scale, momentum=opt.momentum, tracked=opt.lr_from == "power")


def _train(cfg, m, adapt: Adaptation, opt: Options, prep, delta, lam: float, loss0: float, tqdm, seed: int,
           targets: str):
    """The outer loop under the kernel-regime schedule (``Schedule``, docs/theory.md §8);
    ``(delta, steps, halvings, history, undone)``.

    Before every chunk (tracked schedule, ``lr_from="power"``) the largest eigenvalue of the net's
    *current* (meta-)NTK is re-estimated (warm-started power iterations: the kernel of a narrow deep
    net sharpens during training, measured: the loss of L = 16, n = 512 then oscillated with ratios
    up to 1.24 per step although the initial step was ``1 / lambda_max``); the schedule lowers the
    step, undoes rises and divergence at half the step and halves it on a stall.  Divergence at
    every step size raises ``_diverges``'s diagnosis (``targets``: the training targets'
    ``guards.targets_note``).
    """
    base, data = prep.base, prep.train
    sched = _schedule(opt)
    y = data["y_out"]
    state = sched.init(lam, loss0, str(y.dtype))
    opt_state = net.sgd(sched.momentum).init(delta)
    history, steps = [], 0
    u = jax.random.normal(jax.random.PRNGKey(seed + 1), y.shape, jnp.float32).astype(y.dtype)  # as above
    bar = tqdm(total=opt.outer_steps, disable=not opt.progress, desc=f"{m.label} width={cfg.spec.width}")
    while steps < opt.outer_steps:
        if sched.tracked and steps:
            lam_now, u = net.power_iteration(cfg, base, delta, data, u, sched.recheck_iters)
            state = sched.track(state, float(lam_now))
        n = min(opt.chunk, opt.outer_steps - steps)
        lr = jnp.asarray(state.lr, y.dtype)
        new_delta, new_state, losses = net.train_steps(cfg, sched.momentum, n, delta, opt_state, lr, base, data)
        losses = np.asarray(losses)
        after = float(net.loss_jit(cfg, new_delta, base, data))  # the loss after the chunk
        state, verdict = sched.update(state, losses, after)
        if verdict == "diverged":
            _diverges(cfg, m, adapt, opt, prep, delta, float(lr), u, targets)
        if verdict == "stop":
            break
        if verdict == "retry":
            continue
        delta, opt_state = new_delta, new_state
        history.append(losses)
        steps += n
        bar.update(n)
        if after <= opt.tol * loss0:  # the returned net's loss (not the one before the last step)
            break
    bar.close()
    return delta, steps, state.halvings, history, state.undone


def _diverges(cfg, m, adapt: Adaptation, opt: Options, prep, delta, step: float, u, targets: str):
    """Raise ``NotComputable`` for outer training that diverges at ``step``, naming what decides it.

    On the net's linearization at ``delta`` (the last net that trained) GD diverges iff
    ``step * lambda_max > 2``, ``lambda_max`` of its (meta-)NTK (power iteration from ``u``), or an
    inner loop is past its edge (``guards.check_inner_loop``, GBML); with both within, the
    loss rises because the net leaves its linearization, which targets large against the net's
    output scale drive (``targets``: ``guards.targets_note``), as does a narrow net.
    """
    lam = float(net.power_lambda_max(cfg, prep.base, delta, prep.train, u, opt.power_iters))
    head = f"{m.label}: outer training diverges even with the step {2 ** MAX_HALVINGS}x smaller"
    if step * lam > guards.EDGE:
        raise NotComputable(f"{head}: step {step:.4g} x lambda_max {lam:.4g} of the net's (meta-)NTK = "
                            f"{step * lam:.4g} > {guards.EDGE:g}, so the step itself diverges; lower lr_scale (at 1 "
                            f"the step is 1 / lambda_max)")
    if cfg.outputs == "meta":
        guards.check_inner_loop(cfg, net.add(prep.base, delta), prep.train["x_in"],
                                where="the training tasks' inner sets", label=f"{m.label} (during training)",
                                flow=adapt.flow, flow_substeps=opt.flow_substeps)
    x64 = "; or train in float64 (dtype='float64'): round-off in float32 can drive it" if opt.dtype == "float32" else ""
    raise NotComputable(f"{head}, although it is within the stability edge of the net's linearization (step x "
                        f"lambda_max = {step * lam:.3g} <= {guards.EDGE:g}"
                        f"{', and so are its inner loops' if cfg.outputs == 'meta' else ''}): the net leaves its "
                        f"linearization; {targets}, or widen the net ({_size(cfg.spec)}){x64}")


def _size(spec) -> str:
    """The finite net's size as its spec names it: ``width n`` (MLP) or ``channels C`` (conv)."""
    return f"channels {spec.channels}" if hasattr(spec, "channels") else f"width {spec.width}"
