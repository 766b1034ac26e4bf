"""The CNTK of a ConvSpec on digit images: native (NumPy) vs neural-tangents, wall time and peak memory.

Each measurement runs in a fresh subprocess so that its peak resident memory (``ru_maxrss``) is its own.
Theta and Sigma of ``--images`` digit images with themselves (the symmetric kernel), depth ``--depth``,
for each pooling, natively; then native and neural-tangents side by side on ``--compare-images`` images
(neural-tangents holds every pixel pair of every image pair of a row block at once, tens of GB at 1,000
images with pooling), with their relative difference and time ratio.  Targets (issue: convolutional nets):
the native kernel of 1,000 images with global pooling within 120 s and 4 GB on the 2-core CPU.  Prints
JSON, and writes it to ``--out`` if given.

    python benchmarks/cntk_bench.py [--images 1000] [--compare-images 200] [--depth 4] [--skip-nt] [--out F]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import time

TARGET_S, TARGET_GB = 120.0, 4.0


def point(n: int, pool: str, depth: int, backend: str, save: str | None = None) -> dict:
    """One timed kernel (in this process); ``save``: write theta to this .npy file (for the comparison)."""
    import numpy as np
    from sklearn.datasets import load_digits

    import ntk_bridge as nb
    from ntk_bridge import cntk

    x = load_digits().images[:n, :, :, None] / 16.0
    load0 = os.getloadavg()[0]
    start = time.perf_counter()
    k = cntk.kernels(nb.ConvSpec(depth=depth, pool=pool), x, backend=backend)
    wall = time.perf_counter() - start
    if save:
        np.save(save, k.theta)
    return {"images": n, "pool": pool, "depth": depth, "backend": backend, "wall_s": round(wall, 3),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3),
            "load_before": round(load0, 2), "finite": bool(np.all(np.isfinite(k.theta)))}


def _subprocess(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--point", *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--compare-images", type=int, default=200)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--pools", nargs="+", default=["gap", "flatten"])
    parser.add_argument("--skip-nt", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--point", nargs=5, help=argparse.SUPPRESS)   # n pool depth backend save
    args = parser.parse_args(argv)
    if args.point:
        n, pool, depth, backend, save = args.point
        print(json.dumps(point(int(n), pool, int(depth), backend, None if save == "-" else save)))
        return {}
    import numpy as np
    import tempfile

    rows, compare = [], []
    for pool in args.pools:
        r = _subprocess(args.images, pool, args.depth, "native", "-")
        if pool == "gap" and "wall_s" in r:
            r["meets_target"] = r["wall_s"] <= TARGET_S and r["peak_rss_gb"] <= TARGET_GB
        rows.append(r)
        if args.skip_nt:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            a = _subprocess(args.compare_images, pool, args.depth, "native", f"{tmp}/native.npy")
            b = _subprocess(args.compare_images, pool, args.depth, "nt", f"{tmp}/nt.npy")
            entry = {"pool": pool, "images": args.compare_images, "native": a, "nt": b}
            if "wall_s" in a and "wall_s" in b:
                ta, tb = np.load(f"{tmp}/native.npy"), np.load(f"{tmp}/nt.npy")
                entry["rel_diff_theta"] = float(np.linalg.norm(ta - tb) / np.linalg.norm(tb))
                entry["nt_over_native_time"] = round(b["wall_s"] / a["wall_s"], 3)
            compare.append(entry)
    out = {"native": rows, "compare": compare, "target": {"images": 1000, "pool": "gap", "wall_s": TARGET_S,
                                                          "peak_rss_gb": TARGET_GB},
           "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")
    return out


if __name__ == "__main__":
    main()
