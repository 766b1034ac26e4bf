"""Registry and runner of the numerical proof checks.

A check is a function returning an :class:`Outcome` (what was computed, the measured
value, the tolerance it is held to and whether it passed); :func:`check` registers it
under a dotted name ``group.case`` with its docstring's first paragraph as the statement.
:func:`run_checks` times each one, turns an exception into a FAIL carrying the message,
and runs everything in JAX float64 (restored afterwards, so importers are unaffected).
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import time
import traceback
from typing import Callable

import numpy as np

# One module per group of checks, in report order.
MODULES = ("formulation", "inner_loop", "meta_ntk", "mtl_kernel", "kernel_facts", "closeness")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a check function returns: ``passed`` decides; ``value`` vs ``tolerance`` explains."""

    computed: str
    value: float
    tolerance: float
    passed: bool
    relation: str = "<="
    details: dict = dataclasses.field(default_factory=dict)


def at_most(computed: str, value: float, tolerance: float, **details) -> Outcome:
    """PASS iff ``value <= tolerance`` (an error held to a tolerance)."""
    value = float(value)
    return Outcome(computed, value, float(tolerance), bool(value <= tolerance), "<=", details)


def at_least(computed: str, value: float, bound: float, **details) -> Outcome:
    """PASS iff ``value >= bound`` (a gap that must stay clearly visible)."""
    value = float(value)
    return Outcome(computed, value, float(bound), bool(value >= bound), ">=", details)


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One executed check (``relation``: how ``value`` was compared with ``tolerance``)."""

    name: str
    statement: str
    computed: str
    value: float
    tolerance: float
    passed: bool
    seconds: float
    details: dict
    relation: str = "<="

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    func: Callable[[], Outcome]
    fast: bool

    @property
    def statement(self) -> str:
        doc = inspect.getdoc(self.func) or ""
        return " ".join(doc.split("\n\n")[0].split())


_REGISTRY: dict[str, Check] = {}


def check(name: str, *, fast: bool = False):
    """Register the decorated ``() -> Outcome`` function as check ``name`` (``fast``: in ``--fast``)."""
    def register(func):
        if name in _REGISTRY and _REGISTRY[name].func.__qualname__ != func.__qualname__:
            raise ValueError(f"check name {name!r} registered twice")
        _REGISTRY[name] = Check(name, func, fast)
        return func
    return register


def all_checks() -> dict[str, Check]:
    """Every registered check by name, in report order (imports the check modules)."""
    for module in MODULES:
        importlib.import_module(f"{__package__}.{module}")
    return dict(_REGISTRY)


def select(names=None, fast: bool = False) -> list[Check]:
    """Checks matching ``names`` (exact names or group prefixes such as ``"meta_ntk"``).

    Raises:
      ValueError: naming any entry of ``names`` that matches no check.
    """
    checks = all_checks()
    chosen = list(checks.values())
    if names is not None:
        names = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in names if not any(_matches(c, n) for c in checks)]
        if unknown:
            raise ValueError(f"names: no check matches {unknown}; known checks: {sorted(checks)}")
        chosen = [c for c in chosen if any(_matches(c.name, n) for n in names)]
    if fast:
        chosen = [c for c in chosen if c.fast]
    return chosen


def _matches(name: str, pattern: str) -> bool:
    return name == pattern or name.startswith(pattern + ".")


def run_one(chk: Check) -> CheckResult:
    """Run one check in float64; an exception is a FAIL whose ``computed`` is the error."""
    from jax.experimental import enable_x64

    start = time.perf_counter()
    try:
        with enable_x64():
            out = chk.func()
        if not isinstance(out, Outcome):
            raise TypeError(f"check returned {type(out).__name__}, expected Outcome")
    except Exception as exc:  # a crashing check is a failed check, reported, never fatal
        out = Outcome(f"raised {type(exc).__name__}: {exc}", math.nan, math.nan, False, "<=",
                      {"traceback": traceback.format_exc(limit=4)})
    seconds = time.perf_counter() - start
    return CheckResult(chk.name, chk.statement, out.computed, out.value, out.tolerance, out.passed,
                       seconds, _jsonable(out.details), out.relation)


def run_checks(names=None, fast: bool = False, *, progress: Callable[[CheckResult], None] | None = None
               ) -> list[CheckResult]:
    """Run the selected checks (all by default; ``fast``: the fast subset) in report order."""
    results = []
    for chk in select(names, fast):
        res = run_one(chk)
        results.append(res)
        if progress is not None:
            progress(res)
    return results


def _jsonable(obj):
    """Plain-JSON copy: NumPy scalars and arrays to Python, NaN and inf to ``None``."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    return obj
