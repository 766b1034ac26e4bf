"""Wall time and peak memory of the closed-form predictors vs. the number of training tasks.

Each (method, tasks) point runs in a fresh subprocess so that its peak resident memory
(``ru_maxrss``) is its own.  Prints one JSON document: the points and the fitted scaling
exponent ``time ~ tasks^a`` per method.

    python benchmarks/predict_scaling.py                  # 50, 100, 200, 500 tasks
    python benchmarks/predict_scaling.py --tasks 50 100   # a subset
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

METHODS = ("anil", "mtl")


def run_point(method: str, n_tasks: int, *, n_test: int = 100, dim: int = 16, depth: int = 4,
              backend: str = "native", device: str = "cpu") -> dict:
    """One timed call of ``predict.gbml(algo="anil")`` or ``predict.mtl`` (5 support + 15 query)."""
    import ntk_bridge as nb

    spec = nb.MLPSpec(depth=depth)
    train = nb.tasks.shared_feature(n_tasks, 5, 15, dim=dim, seed=1)
    test = nb.tasks.shared_feature(n_test, 5, 15, dim=dim, seed=2)
    adapt = nb.Adaptation(lr=0.1, steps=5)
    start = time.perf_counter()
    if method == "anil":
        pred, info = nb.predict.gbml(spec, train, test, algo="anil", adapt=adapt, backend=backend, device=device,
                                     return_info=True)
    else:
        pred, info = nb.predict.mtl(spec, train, test, adapt=adapt, backend=backend, device=device, return_info=True)
    wall = time.perf_counter() - start
    assert np.all(np.isfinite(pred))
    return {"method": method, "train_tasks": n_tasks, "test_tasks": n_test, "points_per_task": 20,
            "dim": dim, "depth": depth, "backend": backend, "device": device, "wall_s": round(wall, 3),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 3),
            "cond": info["cond"]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[50, 100, 200, 500])
    parser.add_argument("--backend", default="native", choices=["native", "nt"])
    parser.add_argument("--device", default="cpu", choices=["numpy", "cpu", "gpu"],
                        help="where the linear algebra runs (nb.predict device=)")
    parser.add_argument("--point", nargs=2, metavar=("METHOD", "TASKS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.point:
        print(json.dumps(run_point(args.point[0], int(args.point[1]), backend=args.backend, device=args.device)))
        return {}
    points = []
    for method in METHODS:
        for n in args.tasks:
            out = subprocess.run([sys.executable, __file__, "--point", method, str(n), "--backend", args.backend,
                                  "--device", args.device],
                                 capture_output=True, text=True, check=True,
                                 cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            points.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(points[-1]), file=sys.stderr)
    fits = {}
    for method in METHODS:
        rows = [p for p in points if p["method"] == method]
        if len(rows) >= 2:
            a = np.polyfit(np.log([p["train_tasks"] for p in rows]), np.log([p["wall_s"] for p in rows]), 1)[0]
            fits[method] = round(float(a), 3)
    report = {"benchmark": "predict_scaling", "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                          "python": platform.python_version()},
              "points": points, "time_exponent": fits}
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
