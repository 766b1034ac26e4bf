"""Cost of evaluating a closed-form predictor at many outer training times ``t``.

``nb.predict.gbml_predictor`` / ``mtl_predictor`` factorize the (meta-)kernel once; each
further ``t`` costs two matrix products.  Measures, per method and device, the wall time of
one call at one ``t`` (``nb.predict.gbml_from_kernels(..., t=t0)``) and of one predictor
evaluated at ``--n-times`` values of ``t``, and their ratio (target: at most 1.5 for 10
values).  Prints one JSON document.

    python benchmarks/predict_times.py                           # 100 tasks, anil + mtl, numpy + cpu
    python benchmarks/predict_times.py --tasks 200 --devices gpu
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ntk_bridge import store

METHODS = ("anil", "maml", "mtl")


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run(method: str, device: str, *, n_tasks: int = 100, n_test: int = 20, n_times: int = 10, depth: int = 4,
        dim: int = 16, repeats: int = 3) -> dict:
    """Best of ``repeats`` interleaved runs (after one warm-up run that compiles on JAX devices).

    ``many_t_s`` is one predictor built and evaluated at ``n_times`` values; ``extra_t_s`` the part
    of it spent on the ``n_times - 1`` values after the first (what the factorization saves).
    """
    import ntk_bridge as nb

    spec = nb.MLPSpec(depth=depth)
    train = nb.tasks.shared_feature(n_tasks, 5, 15, dim=dim, seed=1)
    test = nb.tasks.shared_feature(n_test, 5, 15, dim=dim, seed=2)
    adapt = nb.Adaptation(lr=0.1, steps=5)
    kernel_fn = nb.predict.analytic(spec)
    times = list(np.geomspace(1e-2, 1e3, n_times))
    if method == "mtl":
        one = lambda: nb.predict.mtl_from_kernels(kernel_fn, train, test, adapt=adapt, t=times[0], device=device)
        build = lambda: nb.predict.mtl_predictor(kernel_fn, train, test, adapt=adapt, device=device)
    else:
        one = lambda: nb.predict.gbml_from_kernels(kernel_fn, train, test, algo=method, adapt=adapt, t=times[0],
                                                   device=device)
        build = lambda: nb.predict.gbml_predictor(kernel_fn, train, test, algo=method, adapt=adapt, device=device)
    best = {"one": np.inf, "many": np.inf, "extra": np.inf}
    for r in range(repeats + 1):
        ref, t_one = _timed(one)
        fn, t_build = _timed(build)
        first, t_first = _timed(lambda: fn(times[0]))
        grid, t_rest = _timed(lambda: fn(times[1:]))
        assert np.all(np.isfinite(grid)) and np.max(np.abs(first - ref)) < 1e-10
        if r:   # run 0 warms up (JAX compiles per shape)
            best = {"one": min(best["one"], t_one), "many": min(best["many"], t_build + t_first + t_rest),
                    "extra": min(best["extra"], t_rest)}
    outer = train.n_tasks * (20 if method == "mtl" else 15)
    return {"method": method, "device": device, "train_tasks": n_tasks, "outer_size": outer, "n_times": n_times,
            "one_t_s": round(best["one"], 4), "many_t_s": round(best["many"], 4),
            "extra_t_s": round(best["extra"], 4), "ratio": round(best["many"] / best["one"], 3),
            "ratio_marginal": round(1 + best["extra"] / best["one"], 3)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--n-times", type=int, default=10)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--devices", nargs="+", default=["numpy", "cpu"], choices=["numpy", "cpu", "gpu"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    points = [run(m, d, n_tasks=args.tasks, n_times=args.n_times, repeats=args.repeats)
              for m in args.methods for d in args.devices]
    report = {"benchmark": "predict_times", "target_ratio": 1.5,
              "note": "ratio = many_t_s / one_t_s (end to end; noisy on a shared machine); ratio_marginal = "
                      "1 + extra_t_s / one_t_s (the cost of the further t values alone)",
              "machine": store.machine(),
              "points": points, "max_ratio": max(p["ratio"] for p in points)}
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
