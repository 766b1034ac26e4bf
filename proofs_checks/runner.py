"""Command line of the proof checks: ``python -m proofs_checks [--fast] [--only NAME] [--json] [--out FILE]``.

Prints one row per check (name, PASS/FAIL/SKIP, measured value against its tolerance, time,
statement and what was computed, or why it was skipped); exit code 1 if any check fails,
2 on bad arguments.  Skipped checks (an optional package such as neural-tangents missing)
do not fail the run.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import textwrap
import time

from ntk_bridge import atomic

from .registry import CheckResult, all_checks, run_checks


def summary(results: list[CheckResult]) -> dict:
    """The JSON document ``--json`` prints and ``--out`` writes."""
    import jax

    return {
        "passed": not any(r.failed for r in results),   # skipped checks neither pass nor fail
        "n_checks": len(results),
        "n_passed": sum(r.status == "PASS" for r in results),
        "n_failed": sum(r.failed for r in results),
        "n_skipped": sum(r.skipped for r in results),
        "seconds": sum(r.seconds for r in results),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": {"python": platform.python_version(), "jax": jax.__version__,
                        "platform": platform.platform()},
        "results": [r.to_dict() for r in results],
    }


def write_json(doc: dict, path: str) -> None:
    """Write ``doc`` to ``path`` atomically (:func:`ntk_bridge.atomic.write_text`, mode 0644).

    Strict JSON: NaN and infinity are refused (check results carry them as ``null``).
    """
    atomic.write_text(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")


def format_row(r: CheckResult) -> str:
    """``name  PASS  value <= tol  (s)`` then the wrapped statement and computation (or the skip reason)."""
    if r.skipped:
        head = f"{r.name:<34} SKIP  ({r.seconds:.1f} s)"
    else:
        head = f"{r.name:<34} {r.status}  {r.value:.3e} {r.relation} {r.tolerance:.1e}  ({r.seconds:.1f} s)"
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
            needs = f" [needs {', '.join(chk.requires)}]" if chk.requires else ""
            print(f"{chk.name:<34} {'fast' if chk.fast else '    '}  {chk.statement}{needs}")
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
        print(json.dumps(doc, indent=1, allow_nan=False))
    else:
        print(f"\n{doc['n_passed']}/{doc['n_checks']} checks passed in {doc['seconds']:.1f} s"
              + (f"; SKIPPED: {[r.name for r in results if r.skipped]}" if doc["n_skipped"] else "")
              + (f"; FAILED: {[r.name for r in results if r.failed]}" if doc["n_failed"] else ""))
    return 0 if doc["passed"] else 1
