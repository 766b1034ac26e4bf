"""Command line of the proof checks: ``python -m proofs_checks [--fast] [--only NAME] [--json] [--out FILE]``.

Prints one row per check (name, PASS/FAIL, measured value against its tolerance, time,
statement and what was computed); exit code 1 if any check fails, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import textwrap
import time

from .registry import CheckResult, all_checks, run_checks


def summary(results: list[CheckResult]) -> dict:
    """The JSON document ``--json`` prints and ``--out`` writes."""
    import jax

    return {
        "passed": all(r.passed for r in results),
        "n_checks": len(results),
        "n_failed": sum(not r.passed for r in results),
        "seconds": sum(r.seconds for r in results),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": {"python": platform.python_version(), "jax": jax.__version__,
                        "platform": platform.platform()},
        "results": [r.to_dict() for r in results],
    }


def write_json(doc: dict, path: str) -> None:
    """Write ``doc`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".proofs_checks.", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def format_row(r: CheckResult) -> str:
    """``name  PASS  value <= tol  (s)`` then the wrapped statement and computation."""
    head = f"{r.name:<34} {'PASS' if r.passed else 'FAIL'}  {r.value:.3e} {r.relation} {r.tolerance:.1e}  " \
           f"({r.seconds:.1f} s)"
    wrap = dict(width=110, initial_indent="    ", subsequent_indent="      ")
    return "\n".join([head, textwrap.fill("statement: " + r.statement, **wrap),
                      textwrap.fill("computed:  " + r.computed, **wrap)])


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m proofs_checks",
                                     description="Numerical checks of the ntk_bridge theory contract.")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only these checks (name or group; repeatable or comma-separated)")
    parser.add_argument("--fast", action="store_true", help="run the fast subset only")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of the table")
    parser.add_argument("--out", metavar="FILE", help="also write the JSON results to FILE (atomically)")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the checks named by ``argv``; return 0 if all pass, 1 if any fails, 2 on bad arguments."""
    args = _parse(argv)
    if args.list:
        for chk in all_checks().values():
            print(f"{chk.name:<34} {'fast' if chk.fast else '    '}  {chk.statement}")
        return 0
    names = None if not args.only else [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    progress = None if args.json else (lambda r: print(format_row(r), flush=True))
    try:
        results = run_checks(names, fast=args.fast, progress=progress)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    doc = summary(results)
    if args.out:
        write_json(doc, args.out)
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        print(f"\n{doc['n_checks'] - doc['n_failed']}/{doc['n_checks']} checks passed "
              f"in {doc['seconds']:.1f} s" + (f"; FAILED: {[r.name for r in results if not r.passed]}"
                                                 if doc["n_failed"] else ""))
    return 0 if doc["passed"] else 1
