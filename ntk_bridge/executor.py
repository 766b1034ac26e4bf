"""Where a sweep's points are computed: in this process (``local``), or as Ray tasks (``ray``).

``ntk_bridge.sweep.run`` hands the points that are not stored yet to an executor and
writes each record as soon as its point is done.  Experiments never see the executor: the
sweep takes the current one (``current``, ``Local()`` unless set), and a caller
chooses it for everything run inside a ``with`` block::

    from ntk_bridge import executor, experiments
    with executor.use(executor.make("ray", address="auto")):   # an existing cluster
        experiments.run("closeness", experiments.configure("closeness", quick=True), "results/quick")

(``ntk-bridge closeness --executor ray [--address ADDR]`` does exactly this.)

Design of the Ray executor (``Ray``):

* **one Ray task per point**, ``num_cpus=1``; ``num_gpus=1`` for a point whose config asks
  for ``"device": "gpu"`` (finite-width runs of ``width``/``cost`` on a GPU), or
  ``gpus_per_point`` for every point when given;
* **workers return results to the driver, which writes the records** (the same atomic
  store as a local run): a worker writes nothing, so a worker that dies mid-point leaves no
  file behind and its point is simply run again (``max_retries`` retries after a worker or
  node death; results are a function of the config alone, so a retry computes the same
  record); no record is written twice, and the results folder need not be shared with the
  cluster's nodes;
* records are written in order of completion, each as soon as it arrives: a killed driver
  loses only the points in flight, and rerunning the command resumes from the store;
* progress: one bar over the completions across the cluster (tqdm, as the local sweep);
* each record keeps the ``device`` and ``versions`` of the worker that computed its point;
  configs, hashes and results are the local executor's (``tests/test_ray.py``), bit for bit
  when the BLAS thread count is the same: Ray runs a task with ``OMP_NUM_THREADS`` = its CPUs
  (1 by default), a local run uses every core, and OpenBLAS summing in another order moves
  float64 values in their last bits (relative ~1e-16; the local run under
  ``OMP_NUM_THREADS=1`` gives the Ray records bit for bit).

A point that raises (a bug, or ``ValueError`` from bad input) cancels the points not yet
done and re-raises in the driver; the records already written stay.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import importlib.util
import time
from typing import Any, Callable, Iterator, Sequence

from . import store

NAMES = ("local", "ray")
RAY_EXTRA = "executor='ray' needs Ray, the ray extra: pip install 'ntk-bridge[ray]' (or pip install ray)"


@dataclasses.dataclass(frozen=True)
class Done:
    """One computed point: ``result = compute(configs[index])``, its wall time, and where it ran.

    ``device`` and ``versions`` are those of the process that computed it (``None``: this one).
    """

    index: int
    result: Any
    total_s: float
    device: dict | None = None
    versions: dict | None = None


class Local:
    """Compute the points one after the other in this process, in order (the default)."""

    name = "local"

    def map(self, compute: Callable[[Any], Any], configs: Sequence[Any], *, label: str = "") -> Iterator[Done]:
        del label
        for i, config in enumerate(configs):
            start = time.perf_counter()
            result = compute(config)
            yield Done(i, result, time.perf_counter() - start)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "Local()"


def ray_installed() -> bool:
    """Whether Ray can be imported here (without importing it)."""
    return importlib.util.find_spec("ray") is not None


def _point(compute, config):
    """The body of one Ray task: ``compute(config)``, its wall time, and the worker's device and versions."""
    start = time.perf_counter()
    result = compute(config)
    total_s = time.perf_counter() - start
    return result, total_s, dict(store.device()), store.versions()


class Ray:
    """Compute the points as Ray tasks on a local Ray instance or an existing cluster.

    Args:
      address: ``None`` starts a local Ray instance in this process (unless Ray is already
        initialized, which is then used as it is); ``"auto"``, ``"HOST:6379"`` or
        ``"ray://HOST:10001"`` connects to a running cluster (``ray start --head``).
      gpus_per_point: GPUs reserved by every point; ``None``: 1 for a point whose config has
        ``"device": "gpu"``, 0 otherwise.
      cpus_per_point: CPUs reserved by every point (default 1).
      max_retries: how often a point is run again after its worker or node died.
      num_cpus: CPUs of the local instance (``address=None`` only; default all).

    Raises:
      ImportError: Ray is not installed (the message says how to install it).
      ValueError: a bad option, naming it.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, gpus_per_point: float | None = None,
                 cpus_per_point: float = 1.0, max_retries: int = 3, num_cpus: int | None = None):
        from . import validate

        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ValueError(f"address must be a Ray address ('auto', 'HOST:PORT', 'ray://HOST:PORT'), got {address!r}")
        if gpus_per_point is not None:
            validate.real("gpus_per_point", gpus_per_point, 0.0)
        validate.real("cpus_per_point", cpus_per_point, 0.0)
        validate.integer("max_retries", max_retries, 0)
        if num_cpus is not None:
            validate.integer("num_cpus", num_cpus, 1)
            if address is not None:
                raise ValueError("num_cpus sizes a local Ray instance; leave it out with an address")
        if not ray_installed():
            raise ImportError(RAY_EXTRA)
        self.address, self.gpus_per_point, self.cpus_per_point = address, gpus_per_point, cpus_per_point
        self.max_retries, self.num_cpus = max_retries, num_cpus
        self._started = False  # whether this executor called ray.init (and so shuts Ray down in close)

    def _connect(self):
        import ray

        if not ray.is_initialized():
            kw = {} if self.address is not None else {"include_dashboard": False, "num_cpus": self.num_cpus}
            ray.init(address=self.address, log_to_driver=True, **kw)
            self._started = True
        return ray

    def resources(self, config: Any) -> dict:
        """The Ray resources one point reserves: ``num_cpus``, and ``num_gpus`` (see the class)."""
        gpus = self.gpus_per_point
        if gpus is None:
            gpus = 1 if isinstance(config, dict) and config.get("device") == "gpu" else 0
        return {"num_cpus": self.cpus_per_point, "num_gpus": gpus}

    def map(self, compute: Callable[[Any], Any], configs: Sequence[Any], *, label: str = "") -> Iterator[Done]:
        if not configs:
            return
        ray = self._connect()
        task = ray.remote(_point)
        fn = ray.put(compute)  # shipped once, not with every task
        pending = {}
        for i, config in enumerate(configs):
            opts = dict(self.resources(config), max_retries=self.max_retries, name=f"{label or 'point'}[{i}]")
            pending[task.options(**opts).remote(fn, config)] = i
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    i = pending.pop(ref)
                    result, total_s, device, versions = ray.get(ref)
                    yield Done(i, result, total_s, device, versions)
        finally:  # an error, or the caller stopped early: the points not done are not run
            for ref in pending:
                ray.cancel(ref)

    def close(self) -> None:
        """Shut down the Ray instance this executor started (one it found running is left alone)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def __repr__(self) -> str:
        return f"Ray(address={self.address!r}, gpus_per_point={self.gpus_per_point!r})"


def make(name: str = "local", address: str | None = None, **options) -> Local | Ray:
    """The executor called ``name`` (``"local"`` or ``"ray"``); ``address`` and ``options`` go to ``Ray``.

    Raises:
      ValueError: an unknown name, or ``address``/options given to ``"local"``.
      ImportError: ``"ray"`` without Ray installed.
    """
    if name not in NAMES:
        raise ValueError(f"executor must be one of {NAMES}, got {name!r}")
    if name == "local":
        given = ["address"] * (address is not None) + [k for k, v in options.items() if v is not None]
        if given:
            raise ValueError(f"{given[0]} is an option of executor='ray', not of executor='local'")
        return Local()
    return Ray(address, **{k: v for k, v in options.items() if v is not None})


_current: contextvars.ContextVar = contextvars.ContextVar("ntk_bridge_executor", default=Local())


def current() -> Local | Ray:
    """The executor sweeps use now: the one of the innermost ``use`` block, else ``Local()``."""
    return _current.get()


@contextlib.contextmanager
def use(executor: Local | Ray):
    """Run every sweep inside the block on ``executor``; close it (a Ray instance it started) at the end."""
    if not hasattr(executor, "map"):
        raise ValueError(f"executor must be an executor (executor.make(...)), got {executor!r}")
    token = _current.set(executor)
    try:
        yield executor
    finally:
        _current.reset(token)
        executor.close()
