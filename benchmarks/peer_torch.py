"""Second-order MAML outer step: ntk_bridge (JAX, low-rank exact path) beside plain PyTorch, in one run.

The PyTorch side is what learn2learn's ``MAML`` does: per task, a clone of the parameters is
adapted with ``torch.autograd.grad(..., create_graph=True)`` (every task materializes its own
adapted weights), the query loss is back-propagated through the inner loop and the meta-gradients
are accumulated task by task (``loss.backward()`` per task), then one SGD update.  It computes the
same thing as ntk_bridge's ``finite.train_steps`` with momentum 0: the same NTK-parameterized MLP
(``(std / sqrt(fan_in)) x @ W + b_std * b``, ReLU, linear head), the same initial weights (copied
from JAX), the same centering offsets ``f(x; p0)``, the loss ``0.5 * sum of squared errors``, the
same inner lr and steps, split ``disjoint`` (inner loop on the support, outer loss on the query).
Both gradients of the first outer step are compared (``grad_rel_diff``, relative Frobenius).

Configuration of issue #13: float32, 20 tasks of 5 support + 15 query points, d = 16, depth 4,
widths 512 and 2048, 5 inner steps of lr 0.1, full batch.  Each side is timed after a warm-up
(JAX: compilation) over ``repeats`` rounds, alternating the two sides within a round, so that both
see the same machine load; ``ratio = torch s / ntk_bridge s`` per round and of the medians.

Needs PyTorch (not a dependency of ntk_bridge, not part of CI): ``pip install torch`` (the CPU
wheel: ``pip install torch --index-url https://download.pytorch.org/whl/cpu``) into the
environment that has ntk_bridge.  A torch in another venv of the same Python version also works:
``PYTHONPATH=/path/to/torchvenv/lib/python3.11/site-packages python benchmarks/peer_torch.py``.

    python benchmarks/peer_torch.py                        # widths 512 and 2048
    python benchmarks/peer_torch.py --widths 512 --repeats 3 --reference   # also the JAX reference path
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from ntk_bridge import store


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit("benchmarks/peer_torch.py needs PyTorch: pip install torch "
                         "(CPU wheel: --index-url https://download.pytorch.org/whl/cpu)") from exc
    return torch


def torch_step(torch, spec, params, data, inner_lr: float, inner_steps: int, outer_lr: float,
               first_order: bool = False):
    """One learn2learn-style MAML outer step in place on ``params`` (list of tensors); returns (loss, grads)."""
    n_layers = spec.depth + 1

    def forward(ps, x):
        h = x
        for l in range(n_layers):
            w, b = ps[2 * l], ps[2 * l + 1]
            std = spec.w_std if l < spec.depth else spec.head_std
            h = (std / math.sqrt(w.shape[0])) * (h @ w) + spec.b_std * b
            if l < spec.depth:
                h = torch.relu(h)
        return h

    for p in params:
        p.grad = None
    total = 0.0
    for i in range(data["x_in"].shape[0]):
        fast = list(params)  # the task's adapted weights (learn2learn: maml.clone())
        for _ in range(inner_steps):
            r = forward(fast, data["x_in"][i]) - data["off_in"][i] - data["y_in"][i]
            grads = torch.autograd.grad(0.5 * (r * r).sum(), fast, create_graph=not first_order)
            fast = [p - inner_lr * g for p, g in zip(fast, grads)]
        r = forward(fast, data["x_out"][i]) - data["off_out"][i] - data["y_out"][i]
        loss = 0.5 * (r * r).sum()
        loss.backward()  # meta-gradients accumulated task by task, as learn2learn users do
        total += float(loss.detach())
    grads = [p.grad.clone() for p in params]
    with torch.no_grad():
        for p in params:
            p -= outer_lr * p.grad
    return total, grads


def compare(width: int, *, depth: int = 4, n_tasks: int = 20, n_support: int = 5, n_query: int = 15, dim: int = 16,
            inner_lr: float = 0.1, inner_steps: int = 5, method: str = "maml", repeats: int = 5,
            reference: bool = False) -> dict:
    """Seconds per outer step of ntk_bridge and PyTorch on one problem, and their gradients' difference."""
    import jax
    import jax.numpy as jnp

    import ntk_bridge as nb
    from ntk_bridge.finite import initial, net
    from ntk_bridge.finite.problem import problem, resolve

    torch = _torch()
    torch.manual_seed(0)
    spec = nb.MLPSpec(depth=depth, width=width)
    train = nb.tasks.shared_feature(n_tasks, n_support, n_query, dim=dim, seed=1)
    m = resolve(method)
    prep = initial.prepare(spec, train, train, method=m)
    cfg = problem(spec, m, nb.Adaptation(lr=inner_lr, steps=inner_steps))
    base, data = prep.base, prep.train
    outer_lr = jnp.asarray(1e-4, jnp.float32)  # small: the cost does not depend on it
    zero = jax.tree_util.tree_map(jnp.zeros_like, base)
    opt_state = net.sgd(0.0).init(zero)

    # --- JAX: the project's outer step (net.train_steps, momentum 0) and its gradient
    g_jax = jax.jit(jax.grad(net.loss, argnums=1), static_argnums=0)(cfg, zero, base, data)
    flat_jax = [g_jax["body"][l][j] for l in range(depth) for j in range(2)] + list(g_jax["head"])

    def jax_step(delta):
        out = net.train_steps(cfg, 0.0, 1, delta, opt_state, outer_lr, base, data)
        jax.block_until_ready(out)
        return out[0]

    ref_step = None
    if reference:  # the reference path (per-task weights, net.reference_adapt_predict): same loss, same update
        def ref_loss(d):
            return 0.5 * jnp.sum((net.reference_adapt_predict(cfg, base, d, data, cfg.first_order) - data["y_out"]) ** 2)

        @jax.jit
        def ref_step(d):
            g = jax.grad(ref_loss)(d)
            return jax.tree_util.tree_map(lambda a, b: a - outer_lr * b, d, g)

    # --- PyTorch: same weights, same data
    leaves = [base["body"][l][j] for l in range(depth) for j in range(2)] + list(base["head"])
    params = [torch.tensor(np.asarray(a), requires_grad=True) for a in leaves]
    tdata = {k: torch.tensor(np.asarray(v)) for k, v in data.items()}
    first_order = cfg.first_order

    def t_step():
        return torch_step(torch, spec, params, tdata, cfg.inner_lr, cfg.inner_steps, float(outer_lr), first_order)

    # warm-up: compile JAX, first torch step (gradients at p0 compared)
    t0 = time.perf_counter()
    delta = jax_step(zero)
    jax_warm = time.perf_counter() - t0
    _, g_torch = t_step()
    diff = math.sqrt(sum(float(np.sum((np.asarray(a, np.float64) - b.numpy().astype(np.float64)) ** 2))
                         for a, b in zip(flat_jax, g_torch)))
    norm = math.sqrt(sum(float(np.sum(np.asarray(a, np.float64) ** 2)) for a in flat_jax))
    if ref_step is not None:
        jax.block_until_ready(ref_step(zero))
    times = {"ntk_bridge": [], "torch": []}
    if ref_step is not None:
        times["ntk_bridge_reference"] = []
    d_ref = zero
    for _ in range(repeats):
        t0 = time.perf_counter()
        delta = jax_step(delta)
        times["ntk_bridge"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        t_step()
        times["torch"].append(time.perf_counter() - t0)
        if ref_step is not None:
            t0 = time.perf_counter()
            d_ref = jax.block_until_ready(ref_step(d_ref))
            times["ntk_bridge_reference"].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    row = {"method": method, "depth": depth, "width": width, "tasks": n_tasks, "support": n_support,
           "query": n_query, "dim": dim, "inner_steps": inner_steps, "inner_lr": inner_lr, "dtype": "float32",
           "seconds_per_outer_step": {k: round(v, 4) for k, v in med.items()},
           "seconds_all": {k: [round(x, 4) for x in v] for k, v in times.items()},
           "ratio_torch_over_ntk_bridge": round(med["torch"] / med["ntk_bridge"], 2),
           "ratio_per_round": [round(a / b, 2) for a, b in zip(times["torch"], times["ntk_bridge"])],
           "jax_warmup_s": round(jax_warm, 2), "grad_rel_diff": diff / norm}
    if ref_step is not None:
        row["ratio_reference_over_ntk_bridge"] = round(med["ntk_bridge_reference"] / med["ntk_bridge"], 2)
    return row


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--method", choices=("maml", "fomaml"), default="maml")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reference", action="store_true", help="also time ntk_bridge's reference path")
    args = parser.parse_args(argv)
    import jax

    torch = _torch()
    rows = []
    for w in args.widths:
        rows.append(compare(w, depth=args.depth, n_tasks=args.tasks, method=args.method, repeats=args.repeats,
                            reference=args.reference))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)  # each width as soon as it is measured
    report = {"benchmark": "peer_torch", "machine": dict(store.machine(), jax=jax.__version__,
                                                                  torch=torch.__version__,
                                                                  torch_threads=torch.get_num_threads()),
              "rows": rows}
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
