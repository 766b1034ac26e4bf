"""Cost of the predictive distribution over initializations beside the mean alone (issue: the distribution).

Times ``nb.predict.closed_form`` (the mean) and ``nb.predict.distribution`` (mean and covariance) per
method on shared-feature tasks, native kernels, float64, in this process.  The target of the issue
(covariance for 100 test tasks x 15 queries, 500 training tasks, within 3x the mean's time) is the
default size.  Prints JSON (a list, one entry per method), and writes it to ``--out`` if given.

    python benchmarks/distribution_cost.py [--train-tasks 500] [--test-tasks 100] [--support 5]
        [--query 15] [--depth 4] [--methods anil-same ...] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import pathlib
import platform
import time

import numpy as np

import ntk_bridge as nb
from ntk_bridge.predict import Adaptation, analytic, closed_form, distribution


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-tasks", type=int, default=500)
    parser.add_argument("--test-tasks", type=int, default=100)
    parser.add_argument("--support", type=int, default=5)
    parser.add_argument("--query", type=int, default=15)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--methods", nargs="+", default=["anil-same"])
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    kw = dict(n_support=args.support, n_query=args.query, dim=8)
    train = nb.tasks.make("shared-feature", args.train_tasks, seed=0, **kw)
    test = nb.tasks.make("shared-feature", args.test_tasks, seed=1, **kw)
    spec, adapt = nb.MLPSpec(depth=args.depth), Adaptation(0.02, 5)
    out = [_one(method, spec, train, test, adapt, args) for method in args.methods]
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")
    return out


def _one(method, spec, train, test, adapt, args) -> dict:
    start = time.perf_counter()
    mean = closed_form(method, analytic(spec), train, test, adapt=adapt)
    mean_s = time.perf_counter() - start
    start = time.perf_counter()
    d = distribution(spec, train, test, method, adapt=adapt)
    dist_s = time.perf_counter() - start
    return {"method": method, "depth": args.depth, "train_tasks": args.train_tasks, "test_tasks": args.test_tasks,
            "support": args.support, "query": args.query, "test_queries": int(d.cov.shape[0] * d.cov.shape[1]), "mean_s": mean_s,
            "distribution_s": dist_s, "ratio": dist_s / mean_s, "target_ratio": 3.0,
            "same_mean": bool(np.array_equal(mean, d.mean)), "machine": platform.processor() or platform.machine(),
            "date": time.strftime("%Y-%m-%d")}


if __name__ == "__main__":
    main()
