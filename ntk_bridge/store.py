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
    """A record file that is not a valid record; ``str()`` is one line naming the file and the fault."""

    def __init__(self, path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{self.path}: {reason}")


class MissingRecords(FileNotFoundError):
    """Point records a summary lists are missing or damaged; ``str()`` is one line saying what to rerun."""


def to_jsonable(value: Any) -> Any:
    """Plain JSON data of ``value``: dataclasses to dicts, tuples to lists, NumPy scalars to numbers."""
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
    """Canonical JSON text: sorted keys, no spaces, so equal configs give equal strings."""
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(record: dict) -> str:
    """The seal of a record: ``sha256(canonical(record without "digest"))``, 64 hex digits."""
    body = {k: v for k, v in record.items() if k != "digest"}
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def non_finite(value: Any, where: str = "result") -> str | None:
    """The path of the first NaN or infinity in a JSON value (``result.a[2]``), or ``None``."""
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
    """Declare the current algorithm version of ``experiment`` (each experiment module does, at import)."""
    _check_name(experiment)
    if isinstance(algorithm, bool) or not isinstance(algorithm, int) or algorithm < 1:
        raise ValueError(f"algorithm must be an integer >= 1, got {algorithm!r}")
    ALGORITHMS[experiment] = algorithm


def code_identity(experiment: str) -> dict | None:
    """``{"ntk_bridge": version, "algorithm": n}`` of a registered experiment, ``None`` for others."""
    if experiment not in ALGORITHMS:
        return None
    return {"ntk_bridge": _versions()["ntk_bridge"], "algorithm": ALGORITHMS[experiment]}


def config_hash(experiment: str, config: Any, kind: str = "point", algorithm: Any = _UNSET) -> str:
    """First 16 hex digits of ``sha256(canonical({schema, experiment, kind, config[, algorithm]}))``.

    ``algorithm``: the algorithm version hashed with the config (default: the registered one of
    ``experiment``; ``None``: none, as for unregistered experiments and records made before code
    identities existed).
    """
    if algorithm is _UNSET:
        algorithm = ALGORITHMS.get(experiment)
    payload = {"schema": SCHEMA_VERSION, "experiment": experiment, "kind": kind, "config": config}
    if algorithm is not None:
        payload["algorithm"] = algorithm
    return hashlib.sha256(canonical(payload).encode()).hexdigest()[:16]


def record_path(root, experiment: str, config: Any, kind: str = "point") -> Path:
    """``<root>/<experiment>/<config_hash>.json``."""
    _check_name(experiment)
    return Path(root) / experiment / f"{config_hash(experiment, config, kind)}.json"


def versions() -> dict:
    """Installed versions of the packages a result depends on (none is imported)."""
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
    """JAX default backend and device kind, and the host CPU (computed once per process)."""
    import jax

    return {"jax_backend": jax.default_backend(), "device_kind": jax.devices()[0].device_kind,
            "host_cpu": _host_cpu(), "cpu_count": os.cpu_count()}


_versions, _device = versions, device  # save()'s parameters of the same names shadow these


def machine() -> dict:
    """The host, for benchmark reports: CPU count and model, OS platform, Python version."""
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

    ``device`` and ``versions``: where the result was computed, when not in this process
    (a Ray worker, ``ntk_bridge.executor``); default this process's.

    Example:
      >>> import tempfile
      >>> from ntk_bridge import store
      >>> root = tempfile.mkdtemp()
      >>> rec = store.save(root, "closeness", {"depth": 2, "seed": 0}, {"gap": 0.25}, seed=0)
      >>> store.get(root, "closeness", {"depth": 2, "seed": 0})["result"]
      {'gap': 0.25}
      >>> rec["digest"] == store.digest(rec), store.get(root, "closeness", {"depth": 3, "seed": 0})
      (True, None)
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
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
        path = Path(root) / experiment / f"{h}.json"
        record = _read_or_set_aside(path) if path.exists() else None
        if record is not None and "digest" in record:
            out[h] = record["digest"]
    return out


def get(root, experiment: str, config: Any, kind: str = "point") -> dict | None:
    """The stored record of exactly this configuration, or ``None`` (also when it was damaged: set aside)."""
    path = record_path(root, experiment, config, kind)
    return _read_or_set_aside(path) if path.exists() else None


def load(root, experiment: str, kind: str | None = None) -> list[dict]:
    """Every valid record of ``experiment`` under ``root`` (optionally of one ``kind``), oldest first.

    Damaged files are logged, moved aside and left out.
    """
    _check_name(experiment)
    folder = Path(root) / experiment
    records = [_read_or_set_aside(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    records = [r for r in records if r is not None and (kind is None or r["kind"] == kind)]
    return sorted(records, key=_age)


def points_of(root, summary: dict) -> list[dict]:
    """The point records listed in ``summary["result"]["points"]``, in that order.

    Raises:
      MissingRecords: some are missing or damaged (damaged ones are moved aside); the
        message names the first and says to rerun the experiment, which recomputes them.
    """
    folder = Path(root) / summary["experiment"]
    sealed = summary.get("point_digests")
    records, missing, changed = [], [], []
    for h in summary["result"]["points"]:
        path = folder / f"{h}.json"
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
    """The record stored in ``path``, checked (``problems``); ``DamagedRecord`` if it is not a valid record."""
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

    Checks the required fields, the kind, that the result holds finite numbers only, the seal
    (``digest``, when present), that ``config_hash`` is ``config_hash`` of its experiment,
    kind and config, and (with ``path``) that the file is named after that hash and lies in its
    experiment's folder.
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
    """Move ``path`` to ``<path>.corrupt`` (``.corrupt.1``, ... if taken); return the new path."""
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
    """Within the block the loaders leave damaged record files in place (logged and ignored)."""
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
    """When ``record`` was saved, in ns since the epoch: ``created_ns``, else parsed from ``created``."""
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

    Returns ``(counts, problems, notes)``: ``counts[experiment] = {"point": n, "summary": m}``
    of valid records; ``problems``, one line each (invalid JSON, missing fields, a
    ``config_hash`` that does not match its config, a broken seal (content edited after it was
    written), a non-finite result, a summary listing points that are not there or that changed
    after it was built); ``notes``: harmless findings (records set aside as ``*.corrupt``, leftover
    temporary files).
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
            path = folder / (record['config_hash'] + '.json')
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

    ``current``: experiment -> algorithm version (default ``ALGORITHMS``, what the imported
    experiment modules registered).  A record of an experiment in ``current`` is stale when its
    ``code`` is absent (made before code identities) or names another algorithm version, or it
    carries no seal (``digest``, or a summary's ``point_digests``: made before seals).
    Damaged records are left to ``verify``.
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

    ``{"root", "created", "machine", "code": {"ntk_bridge", "algorithms"}, "summaries": [{"experiment",
    "summary" (its hash), "points", "code", "current" (made by this code's algorithm version),
    "device", "versions", "created"}, ...]}``, summaries oldest first within each experiment.
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
