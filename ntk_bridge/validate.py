"""Input validation for every public entry point: one place, one message style.

Each checker takes the field's name and value, returns the value converted to a plain
Python type, and raises ``ValueError`` naming the field and what it accepts.  Numbers are
accepted in any of the forms users hold them in: Python ``int``/``float``, NumPy scalars
(``np.int64(4)``, ``np.float32(0.1)``) and 0-d NumPy or JAX arrays.  ``bool`` is never a
number here (``True`` as a depth is a bug, not a 1).
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterable


def _scalar(value: Any) -> Any:
    """A 0-d array (NumPy or JAX) as its Python scalar; anything else unchanged."""
    if getattr(value, "shape", None) == () and hasattr(value, "item") and not isinstance(value, numbers.Number):
        return value.item()
    return value


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_" or getattr(value, "dtype", None) == bool


def integer(name: str, value: Any, low: int | None = 1, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (either bound may be ``None``)."""
    if _is_bool(value):
        raise ValueError(f"{name} must be an integer{_range(low, high)}, got {value!r}")
    v = _scalar(value)
    if not isinstance(v, numbers.Integral):  # 4.0 is refused: a float where a count belongs is a bug
        raise ValueError(f"{name} must be an integer{_range(low, high)}, got {value!r}")
    v = int(v)
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name} must be an integer{_range(low, high)}, got {v}")
    return v


def real(name: str, value: Any, low: float | None = None, high: float | None = None, *,
         low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite ``float`` with ``low <= value <= high`` (``<`` where ``*_open``)."""
    bounds = _interval(low, high, low_open, high_open)
    if _is_bool(value):
        raise ValueError(f"{name} must be a finite number{bounds}, got {value!r}")
    v = _scalar(value)
    if not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise ValueError(f"{name} must be a finite number{bounds}, got {value!r}")
    v = float(v)
    if low is not None and (v <= low if low_open else v < low):
        raise ValueError(f"{name} must be a finite number{bounds}, got {v!r}")
    if high is not None and (v >= high if high_open else v > high):
        raise ValueError(f"{name} must be a finite number{bounds}, got {v!r}")
    return v


def positive(name: str, value: Any) -> float:
    """A finite number ``> 0``."""
    return real(name, value, 0.0, low_open=True)


def nonnegative(name: str, value: Any) -> float:
    """A finite number ``>= 0``."""
    return real(name, value, 0.0)


def flag(name: str, value: Any) -> bool:
    """A ``bool`` (NumPy's ``bool_`` included)."""
    if not _is_bool(value):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def choice(name: str, value: Any, options: Iterable) -> Any:
    """``value`` if it is one of ``options``."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def integers(name: str, values: Any, low: int | None = 1, high: int | None = None) -> tuple[int, ...]:
    """A non-empty sequence of integers, as a tuple of ``int``."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a non-empty sequence of integers, got {values!r}")
    out = tuple(integer(f"each of {name}", v, low, high) for v in values)
    if not out:
        raise ValueError(f"{name} must be a non-empty sequence of integers, got {values!r}")
    return out


def instance(name: str, value: Any, cls: type) -> Any:
    """``value`` if it is an instance of ``cls``."""
    if not isinstance(value, cls):
        raise ValueError(f"{name} must be a {cls.__name__}, got {type(value).__name__}")
    return value


def interval(name: str, value: Any) -> tuple[float, float]:
    """``value`` as ``(low, high)``: two finite numbers with ``low <= high``."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}")
    low = real(f"{name}[0]", value[0])
    return low, real(f"{name}[1]", value[1], low)


def _range(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    return f" <= {high}" if high is not None else ""


def _interval(low, high, low_open, high_open) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return (" " + " and ".join(parts)) if parts else ""
