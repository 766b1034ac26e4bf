"""Training cost per outer step: MTL vs second-order MAML and ANIL at equal data (claim C4).

Same tasks, same number of outer steps, ``steps`` inner steps, one full-batch outer step
each (MTL: first-order joint training on support ∪ query; ANIL/MAML: inner loop on the
support, outer loss on the query, gradients through the inner loop), timed by the one
harness ``ntk_bridge.timing.time_methods`` (after the jit warm-up, ``block_until_ready``), for
two network sizes measured side by side in one run.  Prints JSON; ``main()`` is callable (the
smoke test runs it tiny).

    python benchmarks/train_cost.py [--quick] [--device cpu|gpu]
"""
from __future__ import annotations

import argparse
import json

import jax

import ntk_bridge as nb
from ntk_bridge import timing
from ntk_bridge.predict import Adaptation


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default=None)
    parser.add_argument("--widths", type=int, nargs=2, default=None, help="the two hidden widths")
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=8)
    args = parser.parse_args(argv)
    widths = args.widths or ((16, 32) if args.quick else (512, 2048))
    n_tasks, n_steps, repeats = (2, 2, 1) if args.quick else (args.tasks, 5, 3)
    adapt = Adaptation(lr=0.5, steps=5)
    train = nb.tasks.shared_feature(n_tasks, 5, 10, dim=8, seed=0)
    sizes = []
    for width in widths:
        spec = nb.MLPSpec(depth=args.depth, width=width)
        times = timing.time_methods(spec, train, adapt, n_steps=n_steps, repeats=repeats, device=args.device)
        sizes.append({"depth": args.depth, "width": width, "methods": times,
                      "ratio_to_mtl": {m: row["ratio"] for m, row in times.items()}})
    larger = sizes[-1]["ratio_to_mtl"]["maml"]
    result = {"benchmark": "train_cost", "tasks": n_tasks, "support": 5, "query": 10, "dim": 8,
              "inner_steps": adapt.steps, "timed_steps_per_call": n_steps, "repeats": repeats,
              "jax": jax.__version__, "sizes": sizes,
              "mtl_at_least_5x_cheaper_than_maml_on_larger": bool(larger >= 5.0)}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
