"""Typed summary results, written to and read from JSON by their fields: each schema defined once.

An experiment describes its summary's result as frozen dataclasses with type hints; ``run``
builds them and stores ``to_json`` of them, ``read`` rebuilds them with ``from_json``.
The JSON follows the types, nothing else: a dataclass is an object of its fields, a tuple a list,
a dict with string keys an object, a dict with other keys (tuples) a list of ``[key, value]``
pairs, a NaN float ``null`` (records hold finite numbers only).  Keys the type does not have
(``points``, which the store adds) are ignored on reading; a missing field takes its default.

    to_json(WidthResult(...))            -> plain JSON data
    from_json(WidthResult, record["result"]) -> WidthResult

Supported hints: ``int``, ``float``, ``str``, ``bool``, ``X | None``, ``tuple[X, ...]``,
``tuple[X, Y]``, ``dict[K, V]`` and dataclasses of them (``from __future__ import annotations``
is fine: hints are resolved in the dataclass's module).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import sys
import types
import typing


def to_json(value):
    """Plain JSON data of ``value`` (module docstring).

    Recursive: a dataclass instance becomes ``{field: value}`` (its ``init`` fields), a dict with ``str``
    keys an object, a dict with other keys (tuples) a list of ``[key, value]`` pairs, a tuple or list a list,
    a NaN float ``None``, a NumPy scalar its Python number; ``bool``, ``int``, ``str`` and ``None`` stay.
    Infinite floats are kept (``store`` refuses them when the record is saved).

    Args:
      value: a schema value: a dataclass of schema types, ``dict``, ``tuple``, ``list``, ``int``, ``float``,
        ``bool``, ``str``, ``None`` or a NumPy scalar, nested in any way.

    Returns:
      The same data as plain JSON values (``dict`` with ``str`` keys, ``list``, ``int``, ``float``, ``bool``,
      ``str``, ``None``).

    Raises:
      TypeError: when a value is of no schema type (a ``set``, an arbitrary object).
      ValueError: (from NumPy's ``item``) when a value is a NumPy array of more than one element.

    Examples:
      >>> import numpy as np
      >>> from ntk_bridge.experiments import schema
      >>> from ntk_bridge.experiments.stats import PowerFit, Stat
      >>> schema.to_json(Stat(mean=0.5, std=float("nan"), n=np.int64(1)))
      {'mean': 0.5, 'std': None, 'n': 1, 'failed': 0, 'excluded': 0}
      >>> schema.to_json({("same", "anil"): (0.25, 0.5)})
      [[['same', 'anil'], [0.25, 0.5]]]
      >>> schema.to_json(PowerFit(error="fewer than 2 depths"))["error"]
      'fewer than 2 depths'
      >>> schema.to_json({1, 2})
      Traceback (most recent call last):
      ...
      TypeError: to_json: set is not a schema type
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: to_json(v) for k, v in value.items()}
        return [[to_json(k), to_json(v)] for k, v in value.items()]
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return None if math.isnan(value) else float(value)
    try:  # NumPy scalars
        return to_json(value.item())
    except AttributeError:
        raise TypeError(f"to_json: {type(value).__name__} is not a schema type") from None


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict:
    return typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))


def from_json(tp, data):
    """``data`` (from ``to_json``) as a value of type ``tp`` (module docstring).

    The inverse of ``to_json``, led by the type: a dataclass is built from the object's keys that are its
    ``init`` fields (other keys, such as the store's ``"points"``, are ignored; a missing field takes its
    default), a ``float`` read as ``None`` is NaN, ``X | None`` reads ``None`` as ``None`` and otherwise tries
    its options in order (``int | float``: ``64`` stays an ``int``), a ``dict`` with non-string keys is read
    from ``[key, value]`` pairs.  ``int``, ``str`` and ``bool`` must match exactly (``True`` is not an ``int``).

    Args:
      tp: the type to read: ``int``, ``float``, ``str``, ``bool``, ``X | None``, ``tuple[X, ...]``,
        ``tuple[X, Y]``, ``dict[K, V]``, ``typing.Any`` or a dataclass of them (its hints resolved in its module).
      data: plain JSON data, e.g. a stored record's ``"result"``.

    Returns:
      The value of type ``tp`` (a dataclass instance, tuple, dict, number, ...).

    Raises:
      ValueError: ``data`` does not have the shape ``tp`` says (names the field path, e.g. ``result.n``).
      TypeError: when ``tp`` (or a hint inside it) is no schema type, when ``data`` lacks a dataclass field
        that has no default (from the dataclass's constructor), or a ``dict`` is read from data that is
        neither an object nor a list of pairs.

    Examples:
      A stored summary's result reads back as its dataclass and writes out as the same JSON:

      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import schema, width
      >>> from ntk_bridge.experiments.stats import Stat
      >>> rec = selection.summary("results/reference", "width")
      >>> res = schema.from_json(width.WidthResult, rec["result"])
      >>> type(res).__name__, res.widths, res == width.read(rec).result
      ('WidthResult', (256, 1024, 4096), True)
      >>> schema.to_json(res) == {k: v for k, v in rec["result"].items() if k != "points"}
      True
      >>> schema.from_json(Stat, {"mean": 0.5, "std": None, "n": 1, "points": []})
      Stat(mean=0.5, std=nan, n=1, failed=0, excluded=0)
      >>> schema.from_json(dict[tuple[str, str], int | float], [[["same", "anil"], 64], [["same", "maml"], 0.5]])
      {('same', 'anil'): 64, ('same', 'maml'): 0.5}
      >>> schema.from_json(Stat, {"mean": 0.5, "std": 0.1, "n": "3"})
      Traceback (most recent call last):
      ...
      ValueError: result.n: expected int, got '3'
    """
    return _read(tp, data, "result")


def _read(tp, data, where: str):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options[:-1]:   # the first that reads (int before float: 64 stays 64)
            try:
                return _read(option, data, where)
            except ValueError:
                pass
        return _read(options[-1], data, where)
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object for {tp.__name__}, got {type(data).__name__}")
        hints = _hints(tp)
        return tp(**{f.name: _read(hints[f.name], data[f.name], f"{where}.{f.name}")
                     for f in dataclasses.fields(tp) if f.init and f.name in data})
    if origin is tuple:
        if not isinstance(data, list):
            raise ValueError(f"{where}: expected a list, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_read(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise ValueError(f"{where}: expected {len(args)} entries, got {len(data)}")
        return tuple(_read(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data)))
    if origin is dict:
        key, val = args
        pairs = data.items() if isinstance(data, dict) else data
        return {_read(key, k, f"{where} key"): _read(val, v, f"{where}[{k!r}]") for k, v in pairs}
    if tp is float:
        if data is None:
            return math.nan
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise ValueError(f"{where}: expected a number, got {data!r}")
        return float(data)
    if tp in (int, str, bool):
        if not isinstance(data, tp) or (tp is int and isinstance(data, bool)):
            raise ValueError(f"{where}: expected {tp.__name__}, got {data!r}")
        return data
    if tp is typing.Any:
        return data
    raise TypeError(f"from_json: {tp!r} is not a schema type")
