"""Peak memory of one second-order MAML outer step (issue #13: width 4096, depth 4, 20 tasks, under 4 GB on CPU).

Each point runs in a fresh subprocess, so that its peak resident memory (``ru_maxrss``, which
includes JAX's compilation and the data) is its own: one ``finite.train_steps`` outer step
(momentum 0; compile + step, then a second, timed step) of the default path (low-rank exact,
``ntk_bridge.finite.lowrank``) or, with ``--path reference``, of the reference path that gives every
task its own adapted weights (``net.reference_adapt_predict``).  Configuration of issue #13:
float32, 5 support + 15 query points per task, d = 16, 5 inner steps of lr 0.1.  Prints JSON.

    python benchmarks/maml_memory.py                              # width 4096, the default path
    python benchmarks/maml_memory.py --widths 1024 4096 --paths fast reference
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from ntk_bridge import store


def run_point(width: int, path: str, *, depth: int = 4, n_tasks: int = 20, method: str = "maml") -> dict:
    """One MAML outer step at ``width`` through ``path`` (``fast`` or ``reference``), in this process."""
    import jax
    import jax.numpy as jnp

    import ntk_bridge as nb
    from ntk_bridge.finite import initial, lowrank, net
    from ntk_bridge.finite.problem import problem, resolve

    if path == "reference":  # every trainer traced from here on takes the reference path
        lowrank.meta_outputs = lambda cfg, base, delta, data, first_order, mode="auto": \
            net.reference_adapt_predict(cfg, base, delta, data, first_order)
    spec = nb.MLPSpec(depth=depth, width=width)
    train = nb.tasks.shared_feature(n_tasks, 5, 15, dim=16, seed=1)
    m = resolve(method)
    prep = initial.prepare(spec, train, train, method=m)
    cfg = problem(spec, m, nb.Adaptation(lr=0.1, steps=5))
    delta = jax.tree_util.tree_map(jnp.zeros_like, prep.base)
    state = net.sgd(0.0).init(delta)
    lr = jnp.asarray(1e-4, jnp.float32)
    t0 = time.perf_counter()
    out = jax.block_until_ready(net.train_steps(cfg, 0.0, 1, delta, state, lr, prep.base, prep.train))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = jax.block_until_ready(net.train_steps(cfg, 0.0, 1, out[0], out[1], lr, prep.base, prep.train))
    step = time.perf_counter() - t0
    assert bool(jnp.all(jnp.isfinite(out[2])))
    return {"method": method, "path": path, "depth": depth, "width": width, "tasks": n_tasks,
            "layer_kinds": list(lowrank.layer_kinds(cfg, 5, 16)) if path == "fast" else "per-task dense",
            "first_call_s": round(first, 2), "step_s": round(step, 3),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 3),
            "jax": jax.__version__}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[4096])
    parser.add_argument("--paths", nargs="+", choices=("fast", "reference"), default=["fast"])
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--point", nargs=2, metavar=("WIDTH", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.point:
        print(json.dumps(run_point(int(args.point[0]), args.point[1], depth=args.depth, n_tasks=args.tasks)))
        return {}
    points = []
    for width in args.widths:
        for path in args.paths:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--point", str(width), path,
                                  "--depth", str(args.depth), "--tasks", str(args.tasks)],
                                 capture_output=True, text=True,
                                 cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            if out.returncode:
                points.append({"width": width, "path": path, "error": out.stderr.strip().splitlines()[-1:],
                               "returncode": out.returncode})
            else:
                points.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(points[-1]), file=sys.stderr)
    report = {"benchmark": "maml_memory", "target_gb": 4.0,
              "machine": store.machine(),
              "points": points}
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
