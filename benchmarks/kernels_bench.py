"""Wall-clock of the analytic kernels ``nb.kernels.kernels(spec, x)`` (symmetric, float64).

Prints one JSON object per line: ``{"points", "dim", "depth", "backend", "block_size",
"seconds", "best"}``: the first run (it pays the page faults of fresh output memory, about
``16 * points^2`` bytes) and the best of ``--repeat`` runs.  Example::

    python benchmarks/kernels_bench.py --points 1000 10000 --backend native nt
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ntk_bridge import MLPSpec
from ntk_bridge.kernels import kernels


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--backend", nargs="+", default=["native", "nt"], choices=["native", "nt"])
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--block-size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    spec = MLPSpec(depth=args.depth)
    rows = []
    for backend in args.backend:
        for n in args.points:
            x = np.random.default_rng(0).standard_normal((n, args.dim))
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                kernels(spec, x, backend=backend, block_size=args.block_size)
                times.append(time.perf_counter() - start)
            row = {"points": n, "dim": args.dim, "depth": args.depth, "backend": backend,
                   "block_size": args.block_size, "seconds": round(times[0], 3), "best": round(min(times), 3)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


if __name__ == "__main__":
    main()
