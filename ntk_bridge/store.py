"""Results store: one JSON record per run, content-addressed by its configuration.

Layout: ``<root>/<experiment>/<config_hash>.json`` (default root ``results/``, quick runs
``results/quick/``).  A record is::

    {"experiment": str,          # e.g. "closeness"
     "kind": "point" | "summary",  # one sweep point, or the fits over a whole sweep
     "config": {...},            # the full configuration, canonical JSON
     "config_hash": str,         # sha256(canonical {"schema", "experiment", "kind", "config"})[:16]
     "seed": int | None,
     "versions": {...},          # ntk_bridge, python, numpy, jax, jaxlib, neural_tangents
     "device": {...},            # jax backend, device kind, host CPU
     "timings": {"total_s": float, ...},
     "created": "2021-07-18T12:00:00+00:00",
     "result": {...}}

A sweep is many small point records (one per configuration point and seed); rerunning it
skips the points already stored, and a changed configuration gets a new hash, so an old
record is never reused for it.  After its points, every experiment writes one *summary*
record whose ``result["points"]`` lists the hashes of the points it was computed from:
figures and the appendix read a summary and exactly those points, never a mix of sweeps.

Loaders (what figures and ``ntk_bridge.appendix`` use):

    load(root, experiment, kind=None)  -> list of records, sorted by creation time
    latest_summary(root, experiment)   -> the newest summary record, or None
    points_of(root, summary)           -> the point records a summary lists, in its order
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

SCHEMA_VERSION = 1
DEFAULT_ROOT = Path("results")
QUICK_ROOT = DEFAULT_ROOT / "quick"
KINDS = ("point", "summary")


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


def config_hash(experiment: str, config: Any, kind: str = "point") -> str:
    """First 16 hex digits of ``sha256(canonical({schema, experiment, kind, config}))``."""
    payload = {"schema": SCHEMA_VERSION, "experiment": experiment, "kind": kind, "config": config}
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


def _host_cpu() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def save(root, experiment: str, config: Any, result: dict, *, seed: int | None = None,
         timings: dict | None = None, kind: str = "point") -> dict:
    """Write one record atomically (temp file in the same folder, then ``os.replace``); return it."""
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
        "versions": versions(),
        "device": dict(device()),
        "timings": to_jsonable(timings),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "result": to_jsonable(result),
    }
    text = json.dumps(record, indent=1, sort_keys=True, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return record


def get(root, experiment: str, config: Any, kind: str = "point") -> dict | None:
    """The stored record of exactly this configuration, or ``None``."""
    path = record_path(root, experiment, config, kind)
    return _read(path) if path.exists() else None


def load(root, experiment: str, kind: str | None = None) -> list[dict]:
    """Every record of ``experiment`` under ``root`` (optionally of one ``kind``), oldest first."""
    _check_name(experiment)
    folder = Path(root) / experiment
    records = [_read(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    if kind is not None:
        records = [r for r in records if r.get("kind") == kind]
    return sorted(records, key=lambda r: r["created"])


def latest_summary(root, experiment: str) -> dict | None:
    """The newest summary record of ``experiment``, or ``None`` if it was never run."""
    summaries = load(root, experiment, kind="summary")
    return summaries[-1] if summaries else None


def points_of(root, summary: dict) -> list[dict]:
    """The point records listed in ``summary["result"]["points"]``, in that order."""
    folder = Path(root) / summary["experiment"]
    missing = [h for h in summary["result"]["points"] if not (folder / f"{h}.json").exists()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} point records of the {summary['experiment']} summary "
                                f"are missing under {folder} (first: {missing[0]}); rerun the experiment")
    return [_read(folder / f"{h}.json") for h in summary["result"]["points"]]


def sweep(root, experiment: str, configs: Iterable[Any], compute: Callable[[Any], dict], *,
          seed_of: Callable[[Any], int | None] = lambda c: getattr(c, "seed", None),
          desc: str | None = None) -> list[dict]:
    """Run ``compute(config) -> result`` for each config not yet stored; return all records.

    Resumable: points whose record exists are read back, not recomputed.  Each new record
    stores ``timings["total_s"]``, the wall time of its ``compute`` call.
    """
    from tqdm.auto import tqdm

    configs = list(configs)
    records = []
    for config in tqdm(configs, desc=desc or experiment, unit="pt", disable=None, leave=False):
        record = get(root, experiment, config)
        if record is None:
            start = time.perf_counter()
            result = compute(config)
            timings = {"total_s": time.perf_counter() - start}
            record = save(root, experiment, config, result, seed=seed_of(config), timings=timings)
        records.append(record)
    return records


def _read(path: Path) -> dict:
    with open(path) as fh:
        return json.load(fh)


def _check_name(experiment: str) -> None:
    if not isinstance(experiment, str) or not experiment or "/" in experiment or experiment.startswith("."):
        raise ValueError(f"experiment must be a plain folder name, got {experiment!r}")
