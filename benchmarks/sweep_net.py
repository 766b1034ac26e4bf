"""Wall time to train one net of the finite-closeness sweep, compilation included (issue: MAML in the sweep).

Trains the sweep's own points (``finite_closeness.compute_point``: the reference config's tasks, inner
loop, outer schedule and tolerance; the net, its closed form and its linearization) for each
method (split "same", as in the reference grid) at one ``(L, n)``, ``--seeds`` nets in a row in this
fresh process: the first net's time includes every compilation, the later ones reuse the compiled
programs (one per shape).  Prints JSON.

    python benchmarks/sweep_net.py [--methods maml fomaml] [--depth 4] [--width 256] [--seeds 2]
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import jax

from ntk_bridge import finite, store
from ntk_bridge.experiments import finite_closeness
from ntk_bridge.methods import parse


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["maml", "fomaml"], choices=finite_closeness.ALL_METHODS)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--outer-steps", type=int, default=None, help="default: the reference config's")
    args = parser.parse_args(argv)
    config = finite_closeness.Config()
    if args.outer_steps is not None:
        config = finite_closeness.dataclasses.replace(config, outer_steps=args.outer_steps)
    out = {"depth": args.depth, "width": args.width, "jax": jax.__version__, "backend": jax.default_backend(),
           "machine": platform.processor() or platform.machine(), "schedule": finite.SCHEDULE, "methods": {}}
    for method in args.methods:
        nets = []
        for seed in range(args.seeds):
            p = finite_closeness.point(config, method=parse(method, split="same").label, depth=args.depth,
                                       width=args.width, seed=seed, schedule=finite.SCHEDULE)
            start = time.perf_counter()
            res = finite_closeness.compute_point(store.to_jsonable(p))
            nets.append({"seed": seed, "wall_s": time.perf_counter() - start, "train_s": res["train_s"],
                         "steps": res["steps"], "converged": res["converged"],
                         "left_kernel_regime": res["left_kernel_regime"],
                         "err": {head: part["err"] for head, part in res["protocols"].items()}})
        out["methods"][method] = {"nets": nets, "first_net_s": nets[0]["wall_s"],
                                  "later_net_s": [n["wall_s"] for n in nets[1:]]}
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
