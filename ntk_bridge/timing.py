"""Wall time per outer training step of the finite engine (claim C4): the one timing harness.

Every method is timed the same way: one full-batch outer step of
``nb.finite.train_steps`` (MTL: first-order joint training on support ∪ query; ANIL/MAML:
second order through the inner loop; FOMAML: first order) after a jit warm-up call, with
``block_until_ready``; ``repeats`` timed calls of ``n_steps`` steps each, the time per step of
each call kept (``time_outer_step``).  ``time_methods`` times ``METHODS`` side by
side on the same tasks and gives each one's ratio to MTL per repeat.  Used by
``ntk_bridge.experiments.cost`` and ``benchmarks/train_cost.py``.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from . import validate
from .predict import Adaptation
from .spec import MLPSpec
from .tasks import TaskSet

METHODS = ("mtl-shared", "anil", "fomaml", "maml")  # the methods claim C4 compares, MTL first
_clock = time.perf_counter  # the clock (a test replaces it)


def _run_steps(cfg, momentum, n_steps, delta, state, lr, base, data):
    """``n_steps`` outer steps, waited for (a test replaces it)."""
    from . import finite

    out = finite.train_steps(cfg, momentum, n_steps, delta, state, lr, base, data)
    jax.block_until_ready(out)
    return out


def time_outer_step(spec: MLPSpec, train: TaskSet, method, adapt: Adaptation, *, n_steps: int, repeats: int,
                    device: str | None = None) -> dict:
    """Median wall time of one full-batch outer step of ``method`` (a name or ``Method``), after a warm-up call.

    Returns ``{"per_step_s": median, "per_step_all_s": [repeats], "warmup_s", "device"}``.
    """
    from . import finite
    from .finite import initial, net

    validate.instance("spec", spec, MLPSpec)
    validate.instance("train", train, TaskSet)
    validate.instance("adapt", adapt, Adaptation)
    n_steps, repeats = validate.integer("n_steps", n_steps, 1), validate.integer("repeats", repeats, 1)
    if device is not None:
        validate.choice("device", device, ("cpu", "gpu"))
    m = finite.resolve(method)
    dev = jax.devices(device)[0] if device else jax.devices()[0]
    with jax.default_device(dev):
        prep = jax.device_put(initial.prepare(spec, train, train, method=m), dev)
        cfg = finite.problem(spec, m, adapt)
        delta = jax.tree_util.tree_map(jnp.zeros_like, prep.base)
        state = net.sgd(0.7).init(delta)
        lr = jnp.asarray(1e-3, prep.train["y_out"].dtype)  # small: the cost does not depend on it
        t0 = _clock()
        delta, state, _ = _run_steps(cfg, 0.7, n_steps, delta, state, lr, prep.base, prep.train)  # compile + steps
        warm = _clock() - t0
        times = []
        for _ in range(repeats):
            t0 = _clock()
            delta, state, _ = _run_steps(cfg, 0.7, n_steps, delta, state, lr, prep.base, prep.train)
            times.append((_clock() - t0) / n_steps)
    return {"per_step_s": float(np.median(times)), "per_step_all_s": times, "warmup_s": warm,
            "device": f"{dev.platform} ({dev.device_kind})"}


def time_methods(spec: MLPSpec, train: TaskSet, adapt: Adaptation, *, n_steps: int, repeats: int,
                 device: str | None = None, methods=METHODS) -> dict:
    """``time_outer_step`` of every method in ``methods`` (the first is the reference), side by side.

    Returns ``{method: {..., "ratio_all": [per repeat: this method's time / the reference's in
    the same repeat], "ratio": per_step_s / reference per_step_s}}``.
    """
    out = {m: time_outer_step(spec, train, m, adapt, n_steps=n_steps, repeats=repeats, device=device)
           for m in methods}
    ref = out[methods[0]]
    for row in out.values():
        row["ratio_all"] = (np.asarray(row["per_step_all_s"]) / np.asarray(ref["per_step_all_s"])).tolist()
        row["ratio"] = row["per_step_s"] / ref["per_step_s"]
    return out
