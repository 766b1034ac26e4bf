"""Width convergence of trained finite nets to the closed forms (claim C2), CPU or GPU.

For each method, ``rel_gap(finite, closed form)`` on the test queries per width and seed,
and the fitted ``gap ~ c * width^-r`` (slope ``-r``, expected near ``-1/2``), via
``nb.finite.width_convergence``.  Second-order MAML materializes one adapted copy of every
weight per task and inner step, so its cost grows like ``width^2 * tasks * steps``:
``--max-width-gbml`` caps MAML/FOMAML widths.  Prints JSON; ``main()`` is callable.

    python benchmarks/width_gpu.py             # depth 2, widths 256 1024 4096, 2 seeds: ~10 min on 2 CPU cores
    python benchmarks/width_gpu.py --max-width-gbml 1024                       # ~3 min
    python benchmarks/width_gpu.py --device gpu --widths 256 1024 4096 16384
"""
from __future__ import annotations

import argparse
import json
import time

import ntk_bridge as nb
from ntk_bridge import finite
from ntk_bridge.predict import Adaptation


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "gpu"), default=None)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--widths", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--methods", nargs="+", default=list(finite.METHODS), choices=finite.METHODS)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--split", choices=finite.SPLITS, default="disjoint")
    parser.add_argument("--max-width-gbml", type=int, default=0,
                        help="largest width for maml/fomaml (0: no cap)")
    parser.add_argument("--tasks", type=int, nargs=2, default=[4, 2], help="train and test tasks")
    parser.add_argument("--points", type=int, nargs=2, default=[5, 5], help="support and query points")
    parser.add_argument("--target-scale", type=float, default=1.0)
    parser.add_argument("--dtype", choices=finite.DTYPES, default="float32")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    (n_train, n_test), (n_s, n_q) = args.tasks, args.points
    train = nb.tasks.shared_feature(n_train, n_s, n_q, dim=8, seed=1)
    test = nb.tasks.shared_feature(n_test, n_s, n_q, dim=8, seed=2)
    cap = {m: args.max_width_gbml for m in ("maml", "fomaml")} if args.max_width_gbml else None
    start = time.perf_counter()
    out = finite.width_convergence(nb.MLPSpec(depth=args.depth), train, test, args.widths, methods=args.methods,
                                   seeds=range(args.seeds), adapt=Adaptation(lr=0.5, steps=5), split=args.split,
                                   max_width=cap, device=args.device, dtype=args.dtype,
                                   target_scale=args.target_scale, progress=args.progress)
    out.update(benchmark="width_convergence", family="shared-feature", train_tasks=n_train, test_tasks=n_test,
               support=n_s, query=n_q, dim=8, total_s=time.perf_counter() - start)
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
