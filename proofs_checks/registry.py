"""Registry and runner of the numerical proof checks.

A check is a function returning an :class:`Outcome` (what was computed, the measured
value, the tolerance it is held to and whether it passed); :func:`check` registers it
under a dotted name ``group.case`` with its docstring's first paragraph as the statement.
:func:`run_checks` times each one, turns an exception into a FAIL carrying the message,
and runs everything in JAX float64 (restored afterwards, so importers are unaffected).

A check that needs an optional package (``check(..., requires=("neural_tangents",))``) is
SKIPPED, with the reason and the install command, where that package cannot be imported;
so is a check that raises :class:`Skip`.  A skip is neither a pass nor a failure.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import math
import time
import traceback
from typing import Callable

import numpy as np

# One module per group of checks, in report order.
MODULES = ("formulation", "inner_loop", "meta_ntk", "mtl_kernel", "kernel_facts", "closeness", "ntk_fluctuation")
STATUSES = ("PASS", "FAIL", "SKIP")
# Optional packages a check may require, and how to get them.
EXTRAS = {"neural_tangents": 'pip install -c constraints.txt "ntk-bridge[nt]" (neural-tangents 0.6.5 needs jax 0.4.30)'}


class Skip(Exception):
    """Raised by a check that cannot run here (a missing optional package); the message is the reason."""


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
    status: str = ""          # "PASS", "FAIL" or "SKIP"; derived from ``passed`` when not given

    def __post_init__(self):
        if not self.status:
            object.__setattr__(self, "status", "PASS" if self.passed else "FAIL")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def skipped(self) -> bool:
        return self.status == "SKIP"

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    func: Callable[[], Outcome]
    fast: bool
    requires: tuple = ()      # importable modules the check needs (keys of EXTRAS)

    @property
    def statement(self) -> str:
        doc = inspect.getdoc(self.func) or ""
        return " ".join(doc.split("\n\n")[0].split())


_REGISTRY: dict[str, Check] = {}


def check(name: str, *, fast: bool = False, requires: tuple = ()):
    """Register the decorated ``() -> Outcome`` function as check ``name``.

    ``fast``: part of ``--fast``; ``requires``: optional modules it imports (skipped without them).
    """
    def register(func):
        if name in _REGISTRY and _REGISTRY[name].func.__qualname__ != func.__qualname__:
            raise ValueError(f"check name {name!r} registered twice")
        _REGISTRY[name] = Check(name, func, fast, tuple(requires))
        return func
    return register


@functools.lru_cache(maxsize=None)
def missing_requirement(module: str) -> str | None:
    """Why ``module`` cannot be used here (with the install command), or ``None`` if it imports."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        how = EXTRAS.get(module, f"pip install {module}")
        return f"needs {module}, which cannot be imported here ({type(exc).__name__}: {exc}); {how}"
    return None


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
    """Run one check in float64; an exception is a FAIL whose ``computed`` is the error.

    A missing requirement (or a :class:`Skip` raised by the check) gives a SKIP whose
    ``computed`` is the reason; the check's body does not run without its requirements.
    """
    from ntk_bridge import code_maps
    from ntk_bridge.precision import x64

    code_maps.ensure_headroom()
    start = time.perf_counter()
    reasons = [r for r in map(missing_requirement, chk.requires) if r]
    if reasons:
        return _skipped(chk, "; ".join(reasons), time.perf_counter() - start)
    try:
        with x64():
            out = chk.func()
        if not isinstance(out, Outcome):
            raise TypeError(f"check returned {type(out).__name__}, expected Outcome")
    except Skip as exc:
        return _skipped(chk, str(exc), time.perf_counter() - start)
    except Exception as exc:  # a crashing check is a failed check, reported, never fatal
        out = Outcome(f"raised {type(exc).__name__}: {exc}", math.nan, math.nan, False, "<=",
                      {"traceback": traceback.format_exc(limit=4)})
    seconds = time.perf_counter() - start
    return CheckResult(chk.name, chk.statement, out.computed, out.value, out.tolerance, out.passed,
                       seconds, _jsonable(out.details), out.relation)


def _skipped(chk: Check, reason: str, seconds: float) -> CheckResult:
    return CheckResult(chk.name, chk.statement, f"skipped: {reason}", math.nan, math.nan, False, seconds,
                       {"skip_reason": reason, "requires": list(chk.requires)}, "<=", "SKIP")


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
