"""One script per figure; each has ``main(results_dir, out_dir) -> list of written paths``.

Run one: ``python -m figures.closeness --results results/quick --out out/quick/figures``;
run all: ``ntk-bridge figures`` (or :func:`main`).  Scripts read only stored records.
"""
from __future__ import annotations

import importlib
import sys
import traceback

SCRIPTS = ("closeness", "lr_steps", "kernel_share", "width", "accuracy", "cost", "ablate")


def main(results_dir, out_dir) -> int:
    """Draw every figure whose experiment was run; return 0, or 1 if a figure failed to draw."""
    from .common import MissingResults

    status = 0
    for name in SCRIPTS:
        mod = importlib.import_module(f"{__name__}.{name}")
        try:
            paths = mod.main(results_dir, out_dir)
        except MissingResults as exc:
            print(f"figure {name}: skipped ({exc})", file=sys.stderr)
            continue
        except Exception:  # one broken figure must not hide the others; reported, status 1
            print(f"figure {name}: FAILED", file=sys.stderr)
            traceback.print_exc()
            status = 1
            continue
        print(f"figure {name}: " + ", ".join(str(p) for p in paths), flush=True)
    return status
