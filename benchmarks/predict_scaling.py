"""Wall time and peak memory of the closed-form predictors vs. the number of training tasks.

Each (method, tasks) point runs in a fresh subprocess so that its peak resident memory
(``ru_maxrss``) is its own.  Prints one JSON document: the points, the fitted scaling
exponent ``time ~ tasks^a`` per method and, where both were run at the same number of tasks,
first-order MAML's wall time and peak memory over MAML's (target: at most 3).  Per point:
``wall_s`` = ``build_s`` (blocked kernel assembly of the outer kernel, test rows, test-time
inner loop) + ``solve_s`` (one factorization in place: Cholesky, or for FOMAML a Cholesky of
``Psi``'s symmetric part proving convergence and an LU; condition estimate, products);
``cpu_s`` (user + system, all threads) and the load average before/after, since wall times on
a shared machine are upper bounds.

    python benchmarks/predict_scaling.py                  # 50, 100, 200, 500 tasks
    python benchmarks/predict_scaling.py --tasks 50 100   # a subset
    python benchmarks/predict_scaling.py --tasks 2000 --methods anil   # issue #13's target point
    python benchmarks/predict_scaling.py --tasks 300 --methods maml fomaml   # FOMAML vs MAML
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from ntk_bridge import store

METHODS = ("anil", "maml", "fomaml", "mtl")
FOMAML_TARGET = 3.0   # FOMAML's wall time and peak memory, each at most 3x MAML's


def run_point(method: str, n_tasks: int, *, n_test: int = 100, dim: int = 16, depth: int = 4,
              backend: str = "native", device: str = "numpy") -> dict:
    """One timed GBML (``method`` one of ``ALGOS``) or MTL closed form (5 support + 15 query per task), as
    ``predict.gbml`` / ``predict.mtl`` run it (build the predictor consuming its outer kernel, evaluate at
    ``t=None``)."""
    import ntk_bridge as nb

    spec = nb.MLPSpec(depth=depth)
    train = nb.tasks.shared_feature(n_tasks, 5, 15, dim=dim, seed=1)
    test = nb.tasks.shared_feature(n_test, 5, 15, dim=dim, seed=2)
    adapt = nb.Adaptation(lr=0.1, steps=5)
    kernel_fn = nb.predict.analytic(spec, backend)
    load0, cpu0 = os.getloadavg()[0], _cpu_s()
    start = time.perf_counter()
    if method != "mtl":
        fn = nb.predict.gbml_predictor(kernel_fn, train, test, algo=method, adapt=adapt, device=device, consume=True)
    else:
        fn = nb.predict.mtl_predictor(kernel_fn, train, test, adapt=adapt, device=device, consume=True)
    built, cpu_built = time.perf_counter(), _cpu_s()
    print(json.dumps({"method": method, "train_tasks": n_tasks, "built_s": round(built - start, 3),
                      "build_cpu_s": round(cpu_built - cpu0, 3), "rss_gb": round(_rss_gb(), 3)}),
          file=sys.stderr, flush=True)          # progress, for a point that is stopped before it ends
    pred = fn(None)
    wall = time.perf_counter() - start
    assert np.all(np.isfinite(pred))
    return {"method": method, "train_tasks": n_tasks, "test_tasks": n_test, "points_per_task": 20,
            "n_outer": fn.info["n_outer"], "dim": dim, "depth": depth, "backend": backend, "device": device,
            "wall_s": round(wall, 3), "build_s": round(built - start, 3), "solve_s": round(wall - (built - start), 3),
            "cpu_s": round(_cpu_s() - cpu0, 3), "build_cpu_s": round(cpu_built - cpu0, 3),
            "peak_rss_gb": round(_rss_gb(), 3),
            "load_avg_1min": [round(load0, 2), round(os.getloadavg()[0], 2)], "cond": fn.info["cond"]}


def _rss_gb() -> float:
    """Peak resident memory of this process so far (``ru_maxrss``, KiB on Linux), in GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[50, 100, 200, 500])
    parser.add_argument("--backend", default="native", choices=["native", "nt"])
    parser.add_argument("--methods", nargs="+", default=["anil", "mtl"], choices=METHODS)
    parser.add_argument("--device", default="numpy", choices=["numpy", "cpu", "gpu"],
                        help="where the linear algebra runs (nb.predict device=; numpy is the default)")
    parser.add_argument("--point", nargs=2, metavar=("METHOD", "TASKS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.point:
        print(json.dumps(run_point(args.point[0], int(args.point[1]), backend=args.backend, device=args.device)))
        return {}
    points = []
    for method in args.methods:
        for n in args.tasks:
            out = subprocess.run([sys.executable, __file__, "--point", method, str(n), "--backend", args.backend,
                                  "--device", args.device],
                                 capture_output=True, text=True, check=True,
                                 cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            points.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(points[-1]), file=sys.stderr)
    fits = {}
    for method in args.methods:
        rows = [p for p in points if p["method"] == method]
        if len(rows) >= 2:
            a = np.polyfit(np.log([p["train_tasks"] for p in rows]), np.log([p["wall_s"] for p in rows]), 1)[0]
            fits[method] = round(float(a), 3)
    report = {"benchmark": "predict_scaling", "machine": store.machine(),
              "points": points, "time_exponent": fits}
    pairs = [(f, m) for f in points for m in points
             if f["method"] == "fomaml" and m["method"] == "maml" and f["train_tasks"] == m["train_tasks"]]
    if pairs:
        report["fomaml_over_maml"] = [
            {"train_tasks": f["train_tasks"], "time_ratio": round(f["wall_s"] / m["wall_s"], 3),
             "cpu_ratio": round(f["cpu_s"] / m["cpu_s"], 3),
             "peak_rss_ratio": round(f["peak_rss_gb"] / m["peak_rss_gb"], 3), "target": FOMAML_TARGET,
             "ok": f["wall_s"] <= FOMAML_TARGET * m["wall_s"] and f["peak_rss_gb"] <= FOMAML_TARGET * m["peak_rss_gb"]}
            for f, m in pairs]
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
