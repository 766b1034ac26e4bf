"""Results store: one JSON record per run, content-addressed by its configuration.

Layout: ``<root>/<experiment>/<config_hash>.json`` (default root ``results/``, quick runs
``results/quick/``).  A record is::

    {"experiment": str,          # e.g. "closeness"
     "kind": "point" | "summary",  # one sweep point, or the fits over a whole sweep
     "config": {...},            # the full configuration, canonical JSON
     "config_hash": str,         # sha256(canonical {"schema", "experiment", "kind", "config"[, "algorithm"]})[:16]
     "seed": int | None,
     "code": {"ntk_bridge": str, "algorithm": int},   # code identity (registered experiments only)
     "versions": {...},          # ntk_bridge, python, numpy, jax, jaxlib, neural_tangents
     "device": {...},            # jax backend, device kind, host CPU
     "timings": {"total_s": float, ...},
     "created": "2021-07-18T12:00:00.123456+00:00",   # UTC, microseconds
     "created_ns": int,          # nanoseconds since the epoch, strictly increasing within a process
     "result": {...},
     "point_digests": {hash: digest, ...},   # summaries only: the points it was built from
     "digest": str}              # sha256(canonical(every other field)): the record's seal

**Seals.**  ``digest`` covers the whole record (config, result, timings, provenance), so an
edit by hand anywhere (a result value, a summary value) breaks it; a record whose seal does
not match, or whose result holds a non-finite number, is damaged like a truncated file.  A
summary lists the digests of the point records it was built from (``point_digests``):
``points_of`` refuses a summary whose points changed since, and a rerun rebuilds it.
Records written before seals existed load as before and are reported stale.

A sweep (``ntk_bridge.sweep``) is many small point records (one per configuration point and seed); rerunning it
skips the points already stored, and a changed configuration gets a new hash, so an old
record is never reused for it.  After its points, every experiment writes one *summary*
record whose ``result["points"]`` lists the hashes of the points it was computed from:
figures and the appendix read a summary and exactly those points, never a mix of sweeps.

**Code identity.**  Each experiment module registers an *algorithm version*
(``register``), an integer it bumps whenever what its records hold would change for the
same config (a new training schedule, a fixed bug, another estimator).  A record of a
registered experiment carries ``code = {"ntk_bridge": package version, "algorithm": n}``, and
``n`` is part of its hash: after a bump a sweep recomputes its points instead of reading old
ones back, and ``stale`` names every record made by another algorithm version (or with
no code identity at all, as before it existed).

Records are written atomically (``ntk_bridge.atomic``, mode 0644).  A record file that is
not a valid record (truncated, garbage, hand-edited so that its hash no longer matches its
config) is *damaged*: the loaders log one line naming it, move it aside to
``<name>.json.corrupt`` and carry on without it, so a sweep recomputes that point.

Loaders (what figures and ``ntk_bridge.appendix`` use; which summary they read is named in
``selection.json``, ``ntk_bridge.selection``):

    load(root, experiment, kind=None)  -> list of records, oldest first
    points_of(root, summary)           -> the point records a summary lists, in its order
                                          (MissingRecords if any is missing or damaged)
    verify(root)                       -> counts per experiment and problems, changing nothing
    stale(root)                        -> records made by another version of the code
    manifest(root)                     -> every summary with its code identity, device and date

``with read_only():`` makes the loaders leave damaged files where they are (figures and the
appendix read a results folder without changing it).
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as _dt
import functools
import hashlib
import importlib.metadata
import json
import logging
import math
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any

from . import atomic

SCHEMA_VERSION = 1
DEFAULT_ROOT = Path("results")
QUICK_ROOT = DEFAULT_ROOT / "quick"
KINDS = ("point", "summary")
REQUIRED = ("experiment", "kind", "config", "config_hash", "created", "timings", "result")
CORRUPT_SUFFIX = ".corrupt"

log = logging.getLogger(__name__)   # one line per damaged record (stderr when logging is not configured)


class DamagedRecord(ValueError):
    """A record file that is not a valid record; ``str()`` is one line naming the file and the fault.

    ``read`` raises it; the loaders (``get``, ``load``, ``points_of``) catch it, log that line and set
    the file aside (``set_aside``), or leave it in place within ``read_only``.

    Args:
      path: the record file (any path-like; kept as a ``Path`` in ``.path``).
      reason: what is wrong with it (kept in ``.reason``).

    Examples:
      >>> from ntk_bridge import store
      >>> err = store.DamagedRecord("results/closeness/0123456789abcdef.json", "not valid JSON")
      >>> str(err)
      'results/closeness/0123456789abcdef.json: not valid JSON'
      >>> err.path.name, err.reason, isinstance(err, ValueError)
      ('0123456789abcdef.json', 'not valid JSON', True)
    """

    def __init__(self, path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{self.path}: {reason}")


class MissingRecords(FileNotFoundError):
    """Point records a summary lists are missing or damaged; ``str()`` is one line saying what to rerun.

    Raised by ``points_of`` (also when a listed point changed after the summary was built) and by
    ``ntk_bridge.selection.summary`` (``selection.json`` names a summary that is not stored).  A
    ``FileNotFoundError``.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> summary = store.save(root, "demo", {"n": 1}, {"points": ["0123456789abcdef"]}, kind="summary")
      >>> store.points_of(root, summary)
      Traceback (most recent call last):
      ...
      ntk_bridge.store.MissingRecords: 1 of the 1 point records of the demo summary ... are missing or damaged
      (first: .../demo/0123456789abcdef.json); rerun `ntk-bridge demo` with the same options to recompute them
      >>> issubclass(store.MissingRecords, FileNotFoundError)
      True
      >>> tmp.cleanup()
    """


def to_jsonable(value: Any) -> Any:
    """Plain JSON data of ``value``: dataclasses to dicts, tuples to lists, NumPy scalars to numbers.

    Recursive: dataclass instances become ``{field: value}``, dict keys become ``str``, lists and
    tuples become lists, NumPy arrays and scalars go through ``.tolist()``.

    Args:
      value: what to store: dataclass instances, dicts, lists, tuples, NumPy arrays or scalars,
        ``None``, ``bool``, ``int``, finite ``float``, ``str``, nested in any way.

    Returns:
      The same data as plain JSON values (``dict`` with ``str`` keys, ``list``, ``int``, ``float``,
      ``bool``, ``str``, ``None``).

    Raises:
      ValueError: when a float (also inside an array) is NaN or infinite, or a value has a type JSON
        cannot hold (a set, an arbitrary object).

    Examples:
      >>> import dataclasses, numpy as np
      >>> from ntk_bridge import store
      >>> @dataclasses.dataclass
      ... class Point:
      ...     depth: int
      ...     widths: tuple
      >>> store.to_jsonable({"p": Point(2, (64, 128)), "gap": np.float64(0.25), 3: np.arange(2)})
      {'p': {'depth': 2, 'widths': [64, 128]}, 'gap': 0.25, '3': [0, 1]}
      >>> store.to_jsonable([1.0, float("nan")])
      Traceback (most recent call last):
      ...
      ValueError: records hold finite numbers only, got nan
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return to_jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"records hold finite numbers only, got {value!r}")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"cannot store a value of type {type(value).__name__} in a JSON record")


def canonical(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, so equal configs give equal strings.

    ``json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"))``: the text that
    ``config_hash`` and ``digest`` hash.

    Args:
      value: any value ``to_jsonable`` accepts.

    Returns:
      The canonical JSON text (``str``).

    Raises:
      ValueError: (from ``to_jsonable``) when ``value`` holds a non-finite float or a type JSON cannot hold.

    Examples:
      >>> from ntk_bridge import store
      >>> store.canonical({"b": (1, 2), "a": 0.5})
      '{"a":0.5,"b":[1,2]}'
      >>> store.canonical({"a": 0.5, "b": [1, 2]}) == store.canonical({"b": (1, 2), "a": 0.5})
      True
    """
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(record: dict) -> str:
    """The seal of a record: ``sha256(canonical(record without "digest"))``, 64 hex digits.

    Args:
      record: a record (a dict; its ``"digest"`` field, if any, is left out of the hash).

    Returns:
      The hex digest (``str`` of 64 characters) that ``save`` stores under ``"digest"``.

    Raises:
      ValueError: (from ``canonical``) when the record holds a non-finite float or a type JSON cannot hold.

    Examples:
      >>> import hashlib
      >>> from ntk_bridge import store
      >>> rec = {"experiment": "demo", "result": {"x": 1.0}}
      >>> seal = store.digest(rec)
      >>> len(seal), seal == hashlib.sha256(store.canonical(rec).encode()).hexdigest()
      (64, True)
      >>> store.digest(dict(rec, digest=seal)) == seal    # the seal does not cover itself
      True
      >>> store.digest(dict(rec, result={"x": 1.5})) == seal
      False
    """
    body = {k: v for k, v in record.items() if k != "digest"}
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def non_finite(value: Any, where: str = "result") -> str | None:
    """The path of the first NaN or infinity in a JSON value (``result.a[2]``), or ``None``.

    Walks dicts (in their order) and lists depth first; other containers are not entered.

    Args:
      value: a plain JSON value (dicts, lists, numbers, strings, ``None``).
      where: the name of ``value`` itself, the start of the returned path.

    Returns:
      The path (``where`` followed by ``.key`` and ``[index]`` steps) of the first non-finite float,
      or ``None`` when every number is finite.

    Examples:
      >>> from ntk_bridge import store
      >>> store.non_finite({"a": [1.0, 2.0, float("inf")], "b": 1})
      'result.a[2]'
      >>> store.non_finite([0.0, {"x": float("nan")}], where="timings")
      'timings[1].x'
      >>> store.non_finite({"a": [1.0], "b": "nan"}) is None
      True
    """
    if isinstance(value, float) and not math.isfinite(value):
        return where
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = non_finite(item, f"{where}.{key}" if isinstance(value, dict) else f"{where}[{key}]")
        if found:
            return found
    return None


ALGORITHMS: dict[str, int] = {}   # experiment -> its current algorithm version (register)
_UNSET = object()


def register(experiment: str, algorithm: int) -> None:
    """Declare the current algorithm version of ``experiment`` (each experiment module does, at import).

    Sets ``ALGORITHMS[experiment] = algorithm``: from then on the records ``save`` writes for
    ``experiment`` carry ``code_identity(experiment)`` and their ``config_hash`` includes ``algorithm``.

    Args:
      experiment: the experiment's name (its folder under a results root).
      algorithm: its algorithm version, an integer >= 1 (bumped when the records would change).

    Raises:
      ValueError: when ``algorithm`` is not an ``int`` >= 1 (a ``bool`` is refused), or (from the name
        check) ``experiment`` is not a plain folder name (empty, with a ``/`` or a leading ``.``).

    Examples:
      >>> from ntk_bridge import store
      >>> store.register("demo-register", 3)
      >>> store.ALGORITHMS["demo-register"], store.code_identity("demo-register")["algorithm"]
      (3, 3)
      >>> store.config_hash("demo-register", {"n": 1}) == store.config_hash("demo-register", {"n": 1}, algorithm=3)
      True
      >>> store.register("demo-register", 0)
      Traceback (most recent call last):
      ...
      ValueError: algorithm must be an integer >= 1, got 0
      >>> del store.ALGORITHMS["demo-register"]   # leave the registry as it was
    """
    _check_name(experiment)
    if isinstance(algorithm, bool) or not isinstance(algorithm, int) or algorithm < 1:
        raise ValueError(f"algorithm must be an integer >= 1, got {algorithm!r}")
    ALGORITHMS[experiment] = algorithm


def code_identity(experiment: str) -> dict | None:
    """``{"ntk_bridge": version, "algorithm": n}`` of a registered experiment, ``None`` for others.

    Args:
      experiment: the experiment's name.

    Returns:
      ``{"ntk_bridge": package version (str), "algorithm": ALGORITHMS[experiment] (int)}``, or ``None``
      when ``experiment`` was never ``register``-ed.

    Examples:
      >>> from ntk_bridge import store
      >>> store.code_identity("demo-unregistered") is None
      True
      >>> store.register("demo-identity", 2)
      >>> ident = store.code_identity("demo-identity")
      >>> sorted(ident), ident["algorithm"], ident["ntk_bridge"] == store.versions()["ntk_bridge"]
      (['algorithm', 'ntk_bridge'], 2, True)
      >>> del store.ALGORITHMS["demo-identity"]   # leave the registry as it was
    """
    if experiment not in ALGORITHMS:
        return None
    return {"ntk_bridge": _versions()["ntk_bridge"], "algorithm": ALGORITHMS[experiment]}


def config_hash(experiment: str, config: Any, kind: str = "point", algorithm: Any = _UNSET) -> str:
    """First 16 hex digits of ``sha256(canonical({schema, experiment, kind, config[, algorithm]}))``.

    ``schema`` is ``SCHEMA_VERSION``; the ``algorithm`` key is present only when an algorithm version is.

    Args:
      experiment: the experiment's name.
      config: its configuration (anything ``canonical`` accepts; a frozen dataclass or a dict).
      kind: ``"point"`` or ``"summary"`` (not checked here; ``save`` checks it).
      algorithm: the algorithm version hashed with the config (default: the registered one of
        ``experiment``; ``None``: none, as for unregistered experiments and records made before code
        identities existed).

    Returns:
      16 lowercase hex digits (``str``), the record's file name without ``.json``.

    Raises:
      ValueError: (from ``canonical``) when ``config`` holds a non-finite float or a type JSON cannot hold.

    Examples:
      >>> import hashlib
      >>> from ntk_bridge import store
      >>> h = store.config_hash("demo", {"depth": 2})
      >>> payload = {"schema": store.SCHEMA_VERSION, "experiment": "demo", "kind": "point", "config": {"depth": 2}}
      >>> len(h), h == hashlib.sha256(store.canonical(payload).encode()).hexdigest()[:16]
      (16, True)
      >>> h == store.config_hash("demo", {"depth": 2}, kind="summary"), h == store.config_hash("demo", {"depth": 2},
      ...                                                                                    algorithm=1)
      (False, False)
    """
    if algorithm is _UNSET:
        algorithm = ALGORITHMS.get(experiment)
    payload = {"schema": SCHEMA_VERSION, "experiment": experiment, "kind": kind, "config": config}
    if algorithm is not None:
        payload["algorithm"] = algorithm
    return hashlib.sha256(canonical(payload).encode()).hexdigest()[:16]


def path_of(root, experiment: str, config_hash: str) -> Path:
    """``<root>/<experiment>/<config_hash>.json``: the file of the record with this hash (the store's layout).

    Nothing is read or written; ``record_path`` is this path for a configuration.

    Args:
      root: the results root (path-like).
      experiment: the experiment's name (its folder).
      config_hash: the record's ``config_hash`` (16 hex digits).

    Returns:
      The ``Path`` of the record file.

    Examples:
      >>> from ntk_bridge import store
      >>> store.path_of("results", "demo", "0123456789abcdef").as_posix()
      'results/demo/0123456789abcdef.json'
      >>> store.path_of("results", "demo", store.config_hash("demo", {"depth": 2})) == store.record_path(
      ...     "results", "demo", {"depth": 2})
      True
    """
    return Path(root) / experiment / f"{config_hash}.json"


def record_path(root, experiment: str, config: Any, kind: str = "point") -> Path:
    """``<root>/<experiment>/<config_hash>.json``: where the record of this configuration is stored.

    Nothing is read or written.

    Args:
      root: the results root (path-like).
      experiment: the experiment's name (its folder).
      config: the configuration (see ``config_hash``).
      kind: ``"point"`` or ``"summary"``.

    Returns:
      The ``Path`` of the record file (hashed with the registered algorithm version, as ``save`` does).

    Raises:
      ValueError: when ``experiment`` is not a plain folder name (empty, with a ``/`` or a leading ``.``);
        (from ``canonical``) when ``config`` cannot be stored as JSON.

    Examples:
      >>> from ntk_bridge import store
      >>> path = store.record_path("results", "demo", {"depth": 2})
      >>> path.parent.as_posix(), path.name == store.config_hash("demo", {"depth": 2}) + ".json"
      ('results/demo', True)
      >>> store.record_path("results", "../demo", {"depth": 2})
      Traceback (most recent call last):
      ...
      ValueError: experiment must be a plain folder name, got '../demo'
    """
    _check_name(experiment)
    return path_of(root, experiment, config_hash(experiment, config, kind))


def versions() -> dict:
    """Installed versions of the packages a result depends on (none is imported).

    Returns:
      ``{"python", "ntk_bridge", "numpy", "jax", "jaxlib", "neural_tangents"}`` -> version ``str``
      (``None`` for a package that is not installed; ``ntk_bridge.__version__`` for a checkout that was
      never pip-installed).

    Examples:
      >>> import platform
      >>> from ntk_bridge import store
      >>> v = store.versions()
      >>> sorted(v), v["python"] == platform.python_version()
      (['jax', 'jaxlib', 'neural_tangents', 'ntk_bridge', 'numpy', 'python'], True)
    """
    out = {"python": platform.python_version()}
    for name in ("ntk_bridge", "numpy", "jax", "jaxlib", "neural_tangents"):
        try:
            out[name] = importlib.metadata.version(name.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    if out["ntk_bridge"] is None:  # running from a checkout that was never pip-installed
        from . import __version__

        out["ntk_bridge"] = __version__
    return out


@functools.lru_cache(maxsize=1)
def device() -> dict:
    """JAX default backend and device kind, and the host CPU (computed once per process).

    Imports JAX.  The result is cached (``functools.lru_cache``): the same dict is returned on every call.

    Returns:
      ``{"jax_backend": str ("cpu", "gpu", ...), "device_kind": str (of ``jax.devices()[0]``),
      "host_cpu": str, "cpu_count": int | None}``.

    Examples:
      >>> from ntk_bridge import store
      >>> sorted(store.device())
      ['cpu_count', 'device_kind', 'host_cpu', 'jax_backend']
    """
    import jax

    return {"jax_backend": jax.default_backend(), "device_kind": jax.devices()[0].device_kind,
            "host_cpu": _host_cpu(), "cpu_count": os.cpu_count()}


_versions, _device = versions, device  # save()'s parameters of the same names shadow these


def machine() -> dict:
    """The host, for benchmark reports: CPU count and model, OS platform, Python version.

    Returns:
      ``{"cpus": os.cpu_count(), "host_cpu": CPU model (str), "platform": platform.platform(),
      "python": platform.python_version()}``.

    Examples:
      >>> import os
      >>> from ntk_bridge import store
      >>> m = store.machine()
      >>> sorted(m), m["cpus"] == os.cpu_count()
      (['cpus', 'host_cpu', 'platform', 'python'], True)
    """
    return {"cpus": os.cpu_count(), "host_cpu": _host_cpu(), "platform": platform.platform(),
            "python": platform.python_version()}


def _host_cpu() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


_clock_lock = threading.Lock()
_last_ns = 0


def _now_ns() -> int:
    """Wall-clock nanoseconds, strictly increasing within this process (ties broken by +1 ns)."""
    global _last_ns
    with _clock_lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        return _last_ns


def save(root, experiment: str, config: Any, result: dict, *, seed: int | None = None,
         timings: dict | None = None, kind: str = "point", device: dict | None = None,
         versions: dict | None = None) -> dict:
    """Write one record atomically (``ntk_bridge.atomic.write_text``, mode 0644); return it.

    The file is ``record_path(root, experiment, config, kind)``; a record of the same configuration
    stored before is replaced.  The record holds the fields listed in the module docstring: the
    config as canonical JSON, ``code_identity(experiment)``, the versions and device, ``timings``
    (``total_s`` defaults to 0.0), ``created``/``created_ns`` (now, UTC), and the seal ``digest``.  A
    summary (``kind="summary"``) also gets ``point_digests``: the digests of the stored point records
    its ``result["points"]`` lists (points not stored, or damaged, are left out).

    Args:
      root: the results root (path-like; folders are created as needed).
      experiment: the experiment's name (its folder under ``root``).
      config: the configuration (anything ``canonical`` accepts); it names the file.
      result: what was computed (anything ``to_jsonable`` accepts, finite numbers only); a summary's
        must hold ``"points"``, the list of its point hashes (the loaders reject a summary without it).
      seed: the seed of a point record, or ``None``.
      timings: seconds spent (``{"total_s": float, ...}``; default ``{"total_s": 0.0}``).
      kind: ``"point"`` or ``"summary"``.
      device: where the result was computed, when not in this process (a Ray worker,
        ``ntk_bridge.executor``); default this process's ``device()``.
      versions: the package versions of that process; default this process's ``versions()``.

    Returns:
      The record written (a dict, as ``read`` will return it).

    Raises:
      ValueError: when ``kind`` is not one of ``KINDS``, or a summary's ``result`` has no ``"points"`` list;
        (propagated) when ``experiment`` is not a plain
        folder name, or ``config``, ``result`` or ``timings`` hold a non-finite float or a type JSON cannot
        hold (nothing is written then).
      OSError: (from ``atomic.write_text``) when the file cannot be written.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> rec = store.save(root, "demo", {"depth": 2, "seed": 0}, {"gap": 0.25}, seed=0)
      >>> rec["kind"], rec["timings"], rec["digest"] == store.digest(rec)
      ('point', {'total_s': 0.0}, True)
      >>> store.record_path(root, "demo", {"depth": 2, "seed": 0}).name == rec["config_hash"] + ".json"
      True
      >>> store.get(root, "demo", {"depth": 2, "seed": 0})["result"]
      {'gap': 0.25}
      >>> store.save(root, "demo", {"depth": 3}, {"gap": float("nan")})
      Traceback (most recent call last):
      ...
      ValueError: records hold finite numbers only, got nan
      >>> tmp.cleanup()
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "summary" and not (isinstance(result, dict) and isinstance(result.get("points"), list)):
        raise ValueError("result of a summary must hold 'points', the list of its point hashes "
                         "(the loaders reject a summary without it)")
    path = record_path(root, experiment, config, kind)
    timings = dict(timings or {})
    timings.setdefault("total_s", 0.0)
    record = {
        "experiment": experiment,
        "kind": kind,
        "config": json.loads(canonical(config)),
        "config_hash": path.stem,
        "seed": seed,
        "code": code_identity(experiment),
        "versions": dict(versions) if versions is not None else _versions(),
        "device": dict(device) if device is not None else dict(_device()),
        "timings": to_jsonable(timings),
        "result": to_jsonable(result),
    }
    if kind == "summary":
        record["point_digests"] = _point_digests(root, experiment, record["result"].get("points", []))
    ns = _now_ns()
    record["created_ns"] = ns
    record["created"] = _dt.datetime.fromtimestamp(ns // 10**9, _dt.timezone.utc).replace(
        microsecond=ns // 1000 % 10**6).isoformat(timespec="microseconds")
    record["digest"] = digest(record)
    text = json.dumps(record, indent=1, sort_keys=True, allow_nan=False)
    atomic.write_text(path, text + "\n")
    return record


def _point_digests(root, experiment: str, hashes) -> dict:
    """``{hash: digest}`` of the stored point records ``hashes`` (those present and sealed)."""
    out = {}
    for h in hashes if isinstance(hashes, list) else []:
        path = path_of(root, experiment, h)
        record = _read_or_set_aside(path) if path.exists() else None
        if record is not None and "digest" in record:
            out[h] = record["digest"]
    return out


def get(root, experiment: str, config: Any, kind: str = "point") -> dict | None:
    """The stored record of exactly this configuration, or ``None`` (also when it was damaged: set aside).

    Reads ``record_path(root, experiment, config, kind)``; a damaged file there is logged and moved
    aside (left in place within ``read_only``).

    Args:
      root: the results root.
      experiment: the experiment's name.
      config: the configuration (as given to ``save``; tuples and lists hash alike).
      kind: ``"point"`` or ``"summary"``.

    Returns:
      The record (a dict), or ``None`` when none is stored or it was damaged.

    Raises:
      ValueError: (from ``record_path``) when ``experiment`` is not a plain folder name or ``config``
        cannot be stored as JSON.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> rec = store.save(root, "demo", {"widths": (64, 128)}, {"err": 0.5})
      >>> store.get(root, "demo", {"widths": [64, 128]}) == rec
      True
      >>> store.get(root, "demo", {"widths": [64]}) is None, store.get(root, "demo", {"widths": (64, 128)},
      ...                                                              kind="summary") is None
      (True, True)
      >>> tmp.cleanup()
    """
    path = record_path(root, experiment, config, kind)
    return _read_or_set_aside(path) if path.exists() else None


def load(root, experiment: str, kind: str | None = None) -> list[dict]:
    """Every valid record of ``experiment`` under ``root`` (optionally of one ``kind``), oldest first.

    Reads every ``<root>/<experiment>/*.json``.  Damaged files are logged, moved aside and left out
    (left in place within ``read_only``).  Oldest first: by ``created_ns``, ties by hash.

    Args:
      root: the results root.
      experiment: the experiment's name.
      kind: ``"point"`` or ``"summary"`` to keep only records of that kind; ``None``: all.

    Returns:
      A list of records (dicts), oldest first; empty when the folder does not exist.

    Raises:
      ValueError: when ``experiment`` is not a plain folder name.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> for n in (3, 1, 2):
      ...     _ = store.save(root, "demo", {"n": n}, {"x": float(n)})
      >>> [r["config"]["n"] for r in store.load(root, "demo")]
      [3, 1, 2]
      >>> store.load(root, "demo", kind="summary"), store.load(root, "other")
      ([], [])
      >>> tmp.cleanup()
    """
    _check_name(experiment)
    folder = Path(root) / experiment
    records = [_read_or_set_aside(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    records = [r for r in records if r is not None and (kind is None or r["kind"] == kind)]
    return sorted(records, key=_age)


def points_of(root, summary: dict) -> list[dict]:
    """The point records listed in ``summary["result"]["points"]``, in that order.

    Each is read from ``<root>/<summary["experiment"]>/<hash>.json``; when the summary is sealed
    (``point_digests``), each point's ``digest`` must still be the one the summary was built from.

    Args:
      root: the results root the summary was read from.
      summary: a summary record (``load(..., kind="summary")``, ``ntk_bridge.selection.summary``).

    Returns:
      The point records (dicts), one per listed hash, in the summary's order.

    Raises:
      MissingRecords: when some are missing or damaged (damaged ones are moved aside, unless within
        ``read_only``), or (sealed summaries) when some changed after the summary was built; the
        message names the first and says to rerun the experiment, which recomputes or rebuilds them.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> p1 = store.save(root, "demo", {"n": 1}, {"x": 1.0})
      >>> p2 = store.save(root, "demo", {"n": 2}, {"x": 2.0})
      >>> summary = store.save(root, "demo", {"ns": [2, 1]}, {"points": [p2["config_hash"], p1["config_hash"]]},
      ...                      kind="summary")
      >>> [r["config"]["n"] for r in store.points_of(root, summary)]
      [2, 1]
      >>> _ = store.save(root, "demo", {"n": 1}, {"x": 1.5})   # point 1 stored again, with another result
      >>> store.points_of(root, summary)
      Traceback (most recent call last):
      ...
      ntk_bridge.store.MissingRecords: 1 of the 2 point records of the demo summary ... changed after it was built
      (first: .../demo/....json); rerun `ntk-bridge demo` with the same options to rebuild it
      >>> tmp.cleanup()
    """
    sealed = summary.get("point_digests")
    records, missing, changed = [], [], []
    for h in summary["result"]["points"]:
        path = path_of(root, summary["experiment"], h)
        record = _read_or_set_aside(path) if path.exists() else None
        if record is None:
            missing.append(path)
        elif sealed is not None and sealed.get(h) != record.get("digest"):
            changed.append(path)
        records.append(record)
    rerun = f"rerun `ntk-bridge {summary['experiment']}` with the same options"
    if missing:
        raise MissingRecords(f"{len(missing)} of the {len(records)} point records of the {summary['experiment']} "
                             f"summary {summary['config_hash']} are missing or damaged (first: {missing[0]}); "
                             f"{rerun} to recompute them")
    if changed:
        raise MissingRecords(f"{len(changed)} of the {len(records)} point records of the {summary['experiment']} "
                             f"summary {summary['config_hash']} changed after it was built (first: {changed[0]}); "
                             f"{rerun} to rebuild it")
    return records


def read(path) -> dict:
    """The record stored in ``path``, checked (``problems``); ``DamagedRecord`` if it is not a valid record.

    Never moves or changes the file (the loaders do, ``set_aside``).

    Args:
      path: a record file (path-like).

    Returns:
      The record (a dict).

    Raises:
      DamagedRecord: when the file is not UTF-8 JSON, or ``problems(record, path)`` finds faults (all
        named, ``"; "``-separated).
      OSError: (e.g. ``FileNotFoundError``) when the file cannot be read.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> rec = store.save(root, "demo", {"n": 1}, {"x": 1.0})
      >>> path = store.record_path(root, "demo", {"n": 1})
      >>> store.read(path) == rec
      True
      >>> _ = path.write_text('{"experiment": "demo"')   # truncated
      >>> store.read(path)
      Traceback (most recent call last):
      ...
      ntk_bridge.store.DamagedRecord: .../demo/....json: not valid JSON (...)
      >>> tmp.cleanup()
    """
    path = Path(path)
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedRecord(path, f"not valid JSON ({exc})") from None
    faults = problems(record, path)
    if faults:
        raise DamagedRecord(path, "; ".join(faults))
    return record


def problems(record: Any, path=None) -> list[str]:
    """What is wrong with ``record`` (read from ``path``, if given): empty when it is a valid record.

    Checks the required fields (``REQUIRED``), the kind, that a summary's ``result["points"]`` is a
    list of hashes, that the result holds finite numbers only, that ``code`` (when present) is a code
    identity, that ``config_hash`` is ``config_hash`` of its experiment, kind, config and algorithm
    version, (with ``path``) that the file is named after that hash and lies in its experiment's
    folder, and the seal (``digest``, when present; reported only when nothing else is wrong).
    Checking stops at the first group that fails (fields; kind, name and result shape; finite
    numbers; code identity).

    Args:
      record: a decoded record (any JSON value).
      path: the file it was read from, or ``None`` to skip the file-name checks.

    Returns:
      One line per fault (``list`` of ``str``); ``[]`` for a valid record.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> rec = store.save(root, "demo", {"n": 1}, {"x": 1.0})
      >>> store.problems(rec), store.problems(rec, store.record_path(root, "demo", {"n": 1}))
      ([], [])
      >>> store.problems(dict(rec, result={"x": 2.0}))
      ['its content was changed after it was written (the digest does not match)']
      >>> store.problems(dict(rec, config={"n": 2}))
      ["config_hash '...' does not match its config (expected '...')"]
      >>> store.problems(rec, path="elsewhere/0123456789abcdef.json")
      ["file name does not match the config hash '...'", "record of experiment 'demo' in folder 'elsewhere'"]
      >>> store.problems({"experiment": "demo", "kind": "point"})
      ["missing fields ['config', 'config_hash', 'created', 'timings', 'result']"]
      >>> tmp.cleanup()
    """
    if not isinstance(record, dict):
        return [f"not a record (a JSON {type(record).__name__}, expected an object)"]
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        return [f"missing fields {missing}"]
    out = []
    experiment, kind = record["experiment"], record["kind"]
    if kind not in KINDS:
        out.append(f"kind {kind!r} is not one of {KINDS}")
    if not isinstance(experiment, str):
        out.append(f"experiment {experiment!r} is not a name")
    if not isinstance(record["result"], dict):
        out.append("result is not an object")
    elif kind == "summary":
        pts = record["result"].get("points")
        if not isinstance(pts, list) or not all(isinstance(h, str) for h in pts):
            out.append("summary without a list of point hashes in result.points")
    if out:
        return out
    found = non_finite(record["result"])
    if found:
        return [f"{found} is not a finite number"]
    code = record.get("code")
    if code is not None and not (isinstance(code, dict) and isinstance(code.get("algorithm"), int)):
        return [f"code {code!r} is not a code identity {{'ntk_bridge': version, 'algorithm': n}}"]
    try:
        expected = config_hash(experiment, record["config"], kind, None if code is None else code["algorithm"])
    except ValueError as exc:
        return [f"config cannot be hashed ({exc})"]
    if record["config_hash"] != expected:
        out.append(f"config_hash {record['config_hash']!r} does not match its config (expected {expected!r})")
    if path is not None:
        path = Path(path)
        if path.stem != expected:
            out.append(f"file name does not match the config hash {expected!r}")
        if path.parent.name != experiment:
            out.append(f"record of experiment {experiment!r} in folder {path.parent.name!r}")
    try:
        sealed = "digest" not in record or record["digest"] == digest(record)
    except ValueError as exc:
        sealed = False
        out.append(f"cannot be sealed ({exc})")
    if not sealed and not out:
        out.append("its content was changed after it was written (the digest does not match)")
    return out


def set_aside(path) -> Path:
    """Move ``path`` to ``<path>.corrupt`` (``.corrupt.1``, ... if taken); return the new path.

    The loaders no longer see it (they read ``*.json``); ``verify`` notes it.

    Args:
      path: the file to move aside (path-like).

    Returns:
      The new ``Path``, in the same folder.

    Raises:
      OSError: (from ``os.replace``; ``FileNotFoundError`` when ``path`` does not exist) when it cannot be moved.

    Examples:
      >>> import tempfile
      >>> from pathlib import Path
      >>> from ntk_bridge import store
      >>> tmp = tempfile.TemporaryDirectory()
      >>> path = Path(tmp.name) / "0123456789abcdef.json"
      >>> _ = path.write_text("garbage")
      >>> store.set_aside(path).name, path.exists()
      ('0123456789abcdef.json.corrupt', False)
      >>> _ = path.write_text("garbage again")
      >>> store.set_aside(path).name
      '0123456789abcdef.json.corrupt.1'
      >>> tmp.cleanup()
    """
    path = Path(path)
    dest = path.with_name(path.name + CORRUPT_SUFFIX)
    n = 0
    while dest.exists():
        n += 1
        dest = path.with_name(f"{path.name}{CORRUPT_SUFFIX}.{n}")
    os.replace(path, dest)
    return dest


_READ_ONLY = contextvars.ContextVar("ntk_bridge_store_read_only", default=False)


@contextlib.contextmanager
def read_only():
    """Within the block the loaders leave damaged record files in place (logged and ignored).

    A context manager (``with store.read_only():``); the setting is a context variable, so it holds
    for this thread or task only and is restored on leaving the block.  ``get``, ``load``,
    ``points_of`` and ``save``'s ``point_digests`` still leave damaged records out.

    Yields:
      ``None``.

    Examples:
      >>> import tempfile
      >>> from pathlib import Path
      >>> from ntk_bridge import store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> folder = Path(root) / "demo"
      >>> folder.mkdir()
      >>> _ = (folder / "0123456789abcdef.json").write_text("garbage")
      >>> with store.read_only():
      ...     store.load(root, "demo")
      []
      >>> sorted(p.name for p in folder.iterdir())
      ['0123456789abcdef.json']
      >>> store.load(root, "demo"), sorted(p.name for p in folder.iterdir())
      ([], ['0123456789abcdef.json.corrupt'])
      >>> tmp.cleanup()
    """
    token = _READ_ONLY.set(True)
    try:
        yield
    finally:
        _READ_ONLY.reset(token)


def _read_or_set_aside(path: Path) -> dict | None:
    """``read``; a damaged record is logged in one line, moved aside (where writable, and not
    within ``read_only``) and gives ``None``."""
    try:
        return read(path)
    except DamagedRecord as exc:
        if _READ_ONLY.get():
            log.warning("store: damaged record %s; ignored (left in place: read-only)", exc)
            return None
        try:
            dest = set_aside(path)
        except OSError as move:
            log.warning("store: damaged record %s; left in place, ignored (cannot move it aside: %s)",
                        exc, move.strerror or move)
        else:
            log.warning("store: damaged record %s; moved to %s, will be recomputed", exc, dest.name)
        return None


def created_ns(record: dict) -> int:
    """When ``record`` was saved, in ns since the epoch: ``created_ns``, else parsed from ``created``.

    Records written before ``created_ns`` existed are dated from their ISO ``created`` text (to the
    microsecond it holds).

    Args:
      record: a record (a dict).

    Returns:
      Nanoseconds since the epoch (``int``); 0 when neither field is usable.

    Examples:
      >>> from ntk_bridge import store
      >>> store.created_ns({"created_ns": 1626609600123456789, "created": "2021-07-18T12:00:00.123456+00:00"})
      1626609600123456789
      >>> store.created_ns({"created": "2021-07-18T12:00:00.123456+00:00"})
      1626609600123456000
      >>> store.created_ns({})
      0
    """
    ns = record.get("created_ns")
    if isinstance(ns, int) and not isinstance(ns, bool):
        return ns
    try:  # records written before created_ns existed: whole seconds
        return int(_dt.datetime.fromisoformat(record["created"]).timestamp() * 1e6) * 1000
    except (KeyError, TypeError, ValueError):
        return 0


def _age(record: dict) -> tuple:
    """Sort key, oldest first: ``created_ns``, then the hash (a deterministic tie-break)."""
    return created_ns(record), record["config_hash"]


def verify(root) -> tuple[dict, list[str], list[str]]:
    """Check every record under ``root`` without changing anything.

    Looks at each folder of ``root`` (not hidden) that holds ``*.json`` or set-aside files.

    Args:
      root: the results root.

    Returns:
      ``(counts, problems, notes)``: ``counts[experiment] = {"point": n, "summary": m}`` of valid
      records; ``problems``, one line each (a file that cannot be read, invalid JSON, missing fields,
      a ``config_hash`` that does not match its config, a broken seal (content edited after it was
      written), a non-finite result, a summary listing points that are not there or that changed
      after it was built; also ``root`` not being a folder or holding no record at all); ``notes``:
      harmless findings (records set aside as ``*.corrupt``, leftover temporary files).

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> store.verify(root)
      ({}, ['...: no records (no <experiment>/<hash>.json files)'], [])
      >>> point = store.save(root, "demo", {"n": 1}, {"x": 1.0})
      >>> _ = store.save(root, "demo", {"ns": [1]}, {"points": [point["config_hash"]]}, kind="summary")
      >>> store.verify(root)
      ({'demo': {'point': 1, 'summary': 1}}, [], [])
      >>> _ = store.record_path(root, "demo", {"n": 1}).write_text("garbage")
      >>> counts, problems, notes = store.verify(root)
      >>> counts
      {'demo': {'point': 0, 'summary': 1}}
      >>> for line in problems:
      ...     print(line.replace(root, "<root>"))
      <root>/demo/....json: not valid JSON (...)
      <root>/demo/....json: summary lists 1 point records that are missing or invalid (first: ....json)
      >>> tmp.cleanup()
    """
    root = Path(root)
    counts, faults, notes = {}, [], []
    if not root.is_dir():
        return counts, [f"{root}: not a directory"], notes
    folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                     and (any(d.glob("*.json")) or any(d.glob(f"*{CORRUPT_SUFFIX}*"))))
    for folder in folders:
        valid: dict[str, dict] = {}
        for path in sorted(folder.glob("*.json")):
            try:
                valid[path.stem] = read(path)
            except DamagedRecord as exc:
                faults.append(str(exc))
            except OSError as exc:
                faults.append(f"{path}: cannot be read ({exc.strerror or exc})")
        c = counts.setdefault(folder.name, {"point": 0, "summary": 0})
        for record in valid.values():
            c[record["kind"]] += 1
            if record["kind"] != "summary":
                continue
            path = path_of(root, folder.name, record["config_hash"])
            lost = [h for h in record["result"]["points"] if valid.get(h, {}).get("kind") != "point"]
            if lost:
                faults.append(f"{path}: summary lists {len(lost)} point records that are missing or invalid "
                              f"(first: {lost[0]}.json)")
                continue
            sealed = record.get("point_digests")
            changed = [h for h in record["result"]["points"]
                       if sealed is not None and sealed.get(h) != valid[h].get("digest")]
            if changed:
                faults.append(f"{path}: {len(changed)} of its points changed after the summary was built "
                              f"(first: {changed[0]}.json); rerun the experiment to rebuild it")
        aside = sorted(folder.glob(f"*{CORRUPT_SUFFIX}*"))
        if aside:
            notes.append(f"{folder}: {len(aside)} damaged record(s) set aside earlier ({aside[0].name}, ...)")
        temps = sorted(folder.glob(".*.tmp"))
        if temps:
            notes.append(f"{folder}: {len(temps)} leftover temporary file(s) of interrupted writes ({temps[0].name})")
    if not counts:
        faults.append(f"{root}: no records (no <experiment>/<hash>.json files)")
    return counts, faults, notes


def stale(root, current: dict[str, int] | None = None) -> list[tuple[Path, str]]:
    """Records under ``root`` made by another version of their experiment's code: ``(path, why)`` each.

    A record of an experiment in ``current`` is stale when its ``code`` is absent (made before code
    identities) or names another algorithm version, or it carries no seal (``digest``, or a summary's
    ``point_digests``: made before seals).  Experiments not in ``current`` are not looked at; damaged
    records (and unreadable files) are left to ``verify``.  Nothing is changed.

    Args:
      root: the results root.
      current: experiment -> algorithm version (default ``ALGORITHMS``, what the imported experiment
        modules registered).

    Returns:
      ``[(path, why), ...]``: the ``Path`` of each stale record and one line saying why, by
      experiment name then file name.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> store.register("demo-stale", 1)
      >>> rec = store.save(root, "demo-stale", {"n": 1}, {"x": 1.0})
      >>> store.stale(root, current={"demo-stale": 1})
      []
      >>> [(path.name == rec["config_hash"] + ".json", why) for path, why in store.stale(root, {"demo-stale": 2})]
      [(True, 'made by demo-stale algorithm version 1, the current is 2')]
      >>> del store.ALGORITHMS["demo-stale"]   # leave the registry as it was
      >>> tmp.cleanup()
    """
    current = ALGORITHMS if current is None else current
    out = []
    for experiment in sorted(current):
        folder = Path(root) / experiment
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                record = read(path)
            except (DamagedRecord, OSError):
                continue
            code = record.get("code")
            if code is None:
                out.append((path, "no code identity (made before code identities were recorded)"))
            elif code["algorithm"] != current[experiment]:
                out.append((path, f"made by {experiment} algorithm version {code['algorithm']}, the current is "
                                  f"{current[experiment]}"))
            elif "digest" not in record or (record["kind"] == "summary" and "point_digests" not in record):
                out.append((path, "not sealed (made before records carried digests)"))
    return out


def manifest(root, current: dict[str, int] | None = None) -> dict:
    """What ``root`` holds, summary by summary: the reference record's table of contents.

    Reads the summaries with ``load`` (so a damaged one is moved aside, unless within ``read_only``).

    Args:
      root: the results root.
      current: experiment -> algorithm version that counts as current (default ``ALGORITHMS``).

    Returns:
      ``{"root": str, "created": now (ISO, UTC, seconds), "machine": machine(), "code": {"ntk_bridge":
      version, "algorithms": current (sorted)}, "summaries": [{"experiment", "summary" (its hash),
      "points" (how many), "code", "current" (made by the algorithm version in ``current``),
      "device", "versions", "created"}, ...]}``, experiments by name, summaries oldest first within each.

    Examples:
      >>> import tempfile
      >>> from ntk_bridge import store
      >>> tmp = tempfile.TemporaryDirectory(); root = tmp.name
      >>> point = store.save(root, "demo", {"n": 1}, {"x": 1.0})
      >>> summary = store.save(root, "demo", {"ns": [1]}, {"points": [point["config_hash"]]}, kind="summary")
      >>> m = store.manifest(root, current={})
      >>> sorted(m), m["code"]["algorithms"]
      (['code', 'created', 'machine', 'root', 'summaries'], {})
      >>> [(s["experiment"], s["summary"] == summary["config_hash"], s["points"], s["current"]) for s in m["summaries"]]
      [('demo', True, 1, False)]
      >>> tmp.cleanup()
    """
    current = ALGORITHMS if current is None else current
    rows = []
    for folder in sorted(d for d in Path(root).iterdir() if d.is_dir()) if Path(root).is_dir() else []:
        if folder.name.startswith(".") or not any(folder.glob("*.json")):
            continue
        for record in load(root, folder.name, kind="summary"):
            code = record.get("code")
            rows.append({"experiment": record["experiment"], "summary": record["config_hash"],
                         "points": len(record["result"]["points"]), "code": code,
                         "current": code is not None and code["algorithm"] == current.get(record["experiment"]),
                         "device": record.get("device"), "versions": record.get("versions"),
                         "created": record["created"]})
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return {"root": str(root), "created": now, "machine": machine(),
            "code": {"ntk_bridge": _versions()["ntk_bridge"], "algorithms": dict(sorted(current.items()))},
            "summaries": rows}


def _check_name(experiment: str) -> None:
    if not isinstance(experiment, str) or not experiment or "/" in experiment or experiment.startswith("."):
        raise ValueError(f"experiment must be a plain folder name, got {experiment!r}")
