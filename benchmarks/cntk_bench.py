"""The CNTK of a ConvSpec on digit images: native (NumPy) vs neural-tangents, wall time and peak memory.

Theta and Sigma of ``--images`` digit images (8x8x1, pixels / 16) with themselves (the symmetric kernel), depth
``--depth``, for each pooling: natively, then with neural-tangents (unless ``--skip-nt`` or it is not
importable) on ``--compare-images`` images (default: the same), with their relative difference (Frobenius)
and time ratio.  Each measurement runs in a fresh subprocess, one after the other, so that its peak resident
memory (``ru_maxrss``) is its own; ``cpu_s`` (user + system, all threads) and the load average before/after
are reported with each, since wall times on a shared machine are upper bounds.  Target (issue: convolutional
nets): the native kernel of 1,000 images with global pooling within 120 s and 4 GB on the 2-core CPU.
Prints JSON, and writes it to ``--out`` if given.

    python benchmarks/cntk_bench.py                       # 1,000 images, depth 4, gap and flatten, with nt
    python benchmarks/cntk_bench.py --skip-nt --out benchmarks/results/cntk_1000.json
    python benchmarks/cntk_bench.py --compare-images 200  # nt on fewer images (it takes ~30 min at 1,000, gap)
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

TARGET_S, TARGET_GB = 120.0, 4.0
ROOT = pathlib.Path(__file__).resolve().parents[1]


def point(n: int, pool: str, depth: int, backend: str, save: str | None = None) -> dict:
    """One timed symmetric kernel (in this process); ``save``: write theta and sigma to ``save``-theta.npy, -sigma.npy."""
    import numpy as np
    from sklearn.datasets import load_digits

    import ntk_bridge as nb
    from ntk_bridge import cntk

    x = load_digits().images[:n, :, :, None] / 16.0
    load0, cpu0 = os.getloadavg()[0], _cpu_s()
    start = time.perf_counter()
    k = cntk.kernels(nb.ConvSpec(depth=depth, pool=pool), x, backend=backend)
    wall = time.perf_counter() - start
    if save:
        np.save(f"{save}-theta.npy", k.theta)
        np.save(f"{save}-sigma.npy", k.sigma)
    return {"images": n, "pool": pool, "depth": depth, "backend": backend, "wall_s": round(wall, 3),
            "cpu_s": round(_cpu_s() - cpu0, 3),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 3),
            "load_avg_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
            "finite": bool(np.all(np.isfinite(k.theta)) and np.all(np.isfinite(k.sigma)))}


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _subprocess(n, pool, depth, backend, save="-") -> dict:
    out = subprocess.run([sys.executable, __file__, "--point", str(n), pool, str(depth), backend, save],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        return {"images": n, "pool": pool, "backend": backend,
                "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    row = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(row), file=sys.stderr, flush=True)       # progress
    return row


def _rel(a, b) -> float:
    import numpy as np

    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--compare-images", type=int, default=None, help="images for the nt comparison (default: --images)")
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--pools", nargs="+", default=["gap", "flatten"], choices=["gap", "flatten"])
    parser.add_argument("--skip-nt", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--point", nargs=5, help=argparse.SUPPRESS)   # n pool depth backend save
    args = parser.parse_args(argv)
    if args.point:
        n, pool, depth, backend, save = args.point
        print(json.dumps(point(int(n), pool, int(depth), backend, None if save == "-" else save)))
        return {}
    import numpy as np

    from ntk_bridge import store

    compare = args.compare_images or args.images
    with_nt = not args.skip_nt and importlib.util.find_spec("neural_tangents") is not None
    native, nt, comparison = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for pool in args.pools:
            row = _subprocess(args.images, pool, args.depth, "native", f"{tmp}/native-{pool}-{args.images}")
            if pool == "gap" and "wall_s" in row and args.images == 1000:
                row["meets_target"] = row["wall_s"] <= TARGET_S and row["peak_rss_gb"] <= TARGET_GB
            native.append(row)
            if not with_nt:
                continue
            ref = row
            if compare != args.images:
                ref = _subprocess(compare, pool, args.depth, "native", f"{tmp}/native-{pool}-{compare}")
            other = _subprocess(compare, pool, args.depth, "nt", f"{tmp}/nt-{pool}-{compare}")
            nt.append(other)
            entry = {"pool": pool, "images": compare}
            if "wall_s" in ref and "wall_s" in other:
                for name in ("theta", "sigma"):
                    a = np.load(f"{tmp}/native-{pool}-{compare}-{name}.npy")
                    b = np.load(f"{tmp}/nt-{pool}-{compare}-{name}.npy")
                    entry[f"rel_diff_{name}"] = _rel(a, b)
                    entry[f"max_rel_entry_diff_{name}"] = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                entry["nt_over_native_wall"] = round(other["wall_s"] / ref["wall_s"], 2)
                entry["nt_over_native_peak_rss"] = round(other["peak_rss_gb"] / ref["peak_rss_gb"], 2)
            comparison.append(entry)
    out = {"benchmark": "cntk_bench", "depth": args.depth, "data": "sklearn digits 8x8x1, pixels / 16, symmetric kernel",
           "native": native, "nt": nt if with_nt else "skipped", "comparison": comparison,
           "target": {"images": 1000, "pool": "gap", "wall_s": TARGET_S, "peak_rss_gb": TARGET_GB},
           "machine": store.machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(text + "\n")
    return out


if __name__ == "__main__":
    main()
