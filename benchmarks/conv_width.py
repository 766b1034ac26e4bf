"""Trained conv nets against their closed form (CNTK) as channels grow, on digit images (theory.md §11).

For each method and number of channels, ``--seeds`` centered conv nets (``nb.ConvSpec``, depth ``--depth``,
global average pooling) are trained with the kernel-regime schedule on digit-image tasks and adapted on
each test support; their error ``||trained - closed|| / ||closed||`` to the infinite-width closed form is
fitted as ``err ~ c channels^-r`` (least squares in log-log, bootstrap interval over seeds;
``metrics.fit_power_law``).  Runs that did not converge or left the kernel regime are flagged and kept
out of the fit.  Prints JSON, and writes it to ``--out`` if given.

    python benchmarks/conv_width.py [--channels 16 32 64] [--seeds 3] [--depth 2] [--methods mtl-shared anil-same]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import time

import numpy as np


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--methods", nargs="+", default=["mtl-shared", "anil-same"])
    parser.add_argument("--train-tasks", type=int, default=3)
    parser.add_argument("--outer-steps", type=int, default=2000)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    import ntk_bridge as nb
    from ntk_bridge import finite, metrics
    from ntk_bridge.errors import NotComputable
    from ntk_bridge.predict import Adaptation, analytic, closed_form

    train = nb.tasks.digits(args.train_tasks, n_way=2, k_shot=1, n_query=2, as_images=True, seed=0)
    test = nb.tasks.digits(2, n_way=2, k_shot=1, n_query=2, classes="test", as_images=True, seed=1)
    adapt = Adaptation(0.1, 3)
    spec = nb.ConvSpec(depth=args.depth, out_dim=2, image_shape=train.image_shape)
    out = {"config": vars(args), "methods": {}, "machine": f"{os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}
    for m in args.methods:
        closed = closed_form(m, analytic(spec), train, test, adapt=adapt)
        runs, errs, keep = [], np.ones((args.seeds, len(args.channels))), np.zeros((args.seeds, len(args.channels)), bool)
        for j, n in enumerate(args.channels):
            for s in range(args.seeds):
                start = time.perf_counter()
                try:
                    pred, info = finite.fit_predict(spec.replace(channels=n), train, test, method=m, adapt=adapt,
                                                    seed=s, outer_steps=args.outer_steps, tol=args.tol,
                                                    return_info=True)
                except NotComputable as exc:
                    runs.append({"channels": n, "seed": s, "not_computable": str(exc)})
                    continue
                err = metrics.rel_gap(pred, closed)
                ok = bool(info["converged"] and not info["left_kernel_regime"])
                errs[s, j], keep[s, j] = err, ok
                runs.append({"channels": n, "seed": s, "err": err, "converged": info["converged"],
                             "left_kernel_regime": info["left_kernel_regime"], "steps": info["steps"],
                             "wall_s": round(time.perf_counter() - start, 2)})
        fit = metrics.fit_power_law_kept(args.channels, errs, keep, n_boot=2000)
        out["methods"][m] = {"runs": runs, "fit": fit,
                             "falls": bool(fit is not None and fit["r_lo"] > 0)}
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")
    return out


if __name__ == "__main__":
    main()
