"""Width convergence of trained finite nets to the closed forms (claim C2), CPU or GPU.

Runs the one width sweep, ``ntk_bridge.experiments.width`` (records under ``--results``, a
temporary folder by default; a rerun with the same folder resumes), at the benchmark's
settings: shared-feature tasks in dimension 8, split ``disjoint``, inner loop lr 0.5 x 5
steps, every finite method.  Prints, per method, ``rel_gap(finite, closed form)`` on the test
queries per seed and width (``null``: a point left out, see ``excluded``), and the fitted
``gap ~ c * width^-r`` (slope ``-r``, expected near ``-1/2``).  Second-order MAML materializes
one adapted copy of every weight per task and inner step, so its cost grows like
``width^2 * tasks * steps``: ``--max-width-gbml`` caps MAML/FOMAML widths.  Prints JSON;
``main()`` is callable.

    python benchmarks/width_gpu.py             # depth 2, widths 256 1024 4096, 2 seeds: ~10 min on 2 CPU cores
    python benchmarks/width_gpu.py --max-width-gbml 1024                       # ~3 min
    python benchmarks/width_gpu.py --device gpu --widths 256 1024 4096 16384
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time

from ntk_bridge import store
from ntk_bridge.experiments import width
from ntk_bridge.experiments.common import TaskConfig


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "gpu"), default=None)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--widths", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--methods", nargs="+", default=list(width.ALL_METHODS), choices=width.ALL_METHODS)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--split", choices=("disjoint", "same"), default="disjoint")
    parser.add_argument("--max-width-gbml", type=int, default=0, help="largest width for maml/fomaml (0: no cap)")
    parser.add_argument("--tasks", type=int, nargs=2, default=[4, 2], help="train and test tasks")
    parser.add_argument("--points", type=int, nargs=2, default=[5, 5], help="support and query points")
    parser.add_argument("--target-scale", type=float, default=1.0)
    parser.add_argument("--dtype", choices=width.DTYPES, default="float32")
    parser.add_argument("--outer-steps", type=int, default=3000)
    parser.add_argument("--include-flagged", action="store_true")
    parser.add_argument("--results", default=None, help="records folder (default: a temporary one)")
    args = parser.parse_args(argv)
    (n_train, n_test), (n_s, n_q) = args.tasks, args.points
    cap = tuple((m, args.max_width_gbml) for m in ("maml", "fomaml")) if args.max_width_gbml else ()
    config = width.Config(tasks=TaskConfig(family="shared-feature", n_train=n_train, n_test=n_test, n_support=n_s,
                                           n_query=n_q, options=(("dim", 8),)),
                          depths=(args.depth,), widths=tuple(args.widths), methods=tuple(args.methods),
                          seeds=args.seeds, lr=0.5, steps=5, split=args.split, outer_steps=args.outer_steps,
                          dtype=args.dtype, device=args.device, target_scale=args.target_scale, max_widths=cap,
                          include_flagged=args.include_flagged)
    start = time.perf_counter()
    root = args.results or tempfile.mkdtemp(prefix="width_gpu_")
    summary = width.run(config, root)
    s = width.read(summary)
    by_key = {(r["config"]["method"], r["config"]["width"], r["config"]["seed"]): r
              for r in store.points_of(root, summary)}
    kept = {(e.method, e.width, e.seed) for e in s.excluded}
    out = {"benchmark": "width_convergence", "family": "shared-feature", "train_tasks": n_train,
           "test_tasks": n_test, "support": n_s, "query": n_q, "dim": 8, "depth": args.depth,
           "widths": list(config.widths), "seeds": list(range(config.seeds)), "split": args.split,
           "results": str(root), "excluded": [dataclasses.asdict(e) for e in s.excluded], "methods": {}}
    for m in config.methods:
        ws = list(config.widths_for(m))

        def grid(field, m=m, ws=ws):
            return [[None if (m, w, seed) in kept else by_key[m, w, seed]["result"][field] for w in ws]
                    for seed in range(config.seeds)]

        fit = s.fit(args.depth, m)
        errs = s.err(args.depth, m)
        out["methods"][m] = {"widths": ws, "gap": grid("err"), "final_loss": grid("final_loss"),
                             "steps": grid("steps"), "wall_s": grid("train_s"),
                             "mean_gap": [None if e is None else e.mean for e in
                                          (errs[config.widths.index(w)] for w in ws)],
                             "slope": None if fit is None or not fit.ok else -fit.r,
                             "fit": None if fit is None else dataclasses.asdict(fit)}
    out["device"] = next((r["device"] for r in by_key.values()), None)
    out["total_s"] = time.perf_counter() - start
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
