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
    An executor's ``map`` yields one ``Done`` per config; ``ntk_bridge.sweep.run`` stores
    ``result`` with ``timings={"total_s": total_s}``, ``device`` and ``versions``.

    Attributes:
      index: the position of the config in the ``configs`` given to ``map`` (``int``, from 0).
      result: what ``compute(configs[index])`` returned.
      total_s: wall time of that ``compute`` call, in seconds (``float``, ``time.perf_counter``).
      device: ``ntk_bridge.store.device()`` of the process that computed the point (a Ray worker), or
        ``None`` when it was this process (the store then records this process's device).
      versions: ``ntk_bridge.store.versions()`` of that process, or ``None`` when it was this process.

    Examples:
      >>> from ntk_bridge import executor
      >>> done = next(executor.Local().map(lambda n: n * n, [3]))
      >>> done.index, done.result, done.total_s >= 0.0, done.device, done.versions
      (0, 9, True, None, None)
    """

    index: int
    result: Any
    total_s: float
    device: dict | None = None
    versions: dict | None = None


class Local:
    """Compute the points one after the other in this process, in order (the default).

    ``map(compute, configs)`` calls ``compute`` on each config in turn and yields a ``Done``
    (``device``/``versions`` ``None``: this process) as soon as it returns, so the sweep stores
    each record before the next point starts; an exception of ``compute`` propagates at once and
    the later points are not run.  ``close`` does nothing.

    Examples:
      >>> from ntk_bridge import executor
      >>> local = executor.Local()
      >>> [(d.index, d.result) for d in local.map(lambda n: n + 1, [10, 20, 30])]
      [(0, 11), (1, 21), (2, 31)]
      >>> local.name, local, executor.make("local")
      ('local', Local(), Local())
    """

    name = "local"

    def map(self, compute: Callable[[Any], Any], configs: Sequence[Any], *, label: str = "") -> Iterator[Done]:
        """Yield ``Done(i, compute(configs[i]), seconds)`` for ``i = 0, 1, ...``, computing each when asked.

        Args:
          compute: the function of one config.
          configs: the configs, in order.
          label: unused here (``Ray`` names its tasks with it).

        Yields:
          One ``Done`` per config, in ``configs`` order.
        """
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
    """Whether Ray can be imported here (without importing it).

    Checks ``importlib.util.find_spec("ray")``; ``Ray(...)`` and ``make("ray", ...)`` raise
    ``ImportError`` exactly when this is ``False``.

    Returns:
      ``True`` if the ``ray`` package is installed in this environment, else ``False``.

    Examples:
      >>> from ntk_bridge import executor
      >>> try:
      ...     ex = executor.make("ray", address="auto")   # constructing connects to nothing
      ... except ImportError:
      ...     ex = None                                   # Ray is not installed here
      >>> (ex is not None) == executor.ray_installed()
      True
    """
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

    Constructing one connects to nothing: Ray is initialized (``ray.init``) by the first ``map``
    with points, and shut down by ``close`` only if this executor started it.  ``map`` submits
    every config as one task with the resources of ``resources(config)``, yields a ``Done``
    (with the worker's ``device`` and ``versions``) per task in order of completion, and
    cancels the tasks not done when a task raises or the caller stops early.

    Raises:
      ImportError: Ray is not installed (the message, ``RAY_EXTRA``, says how to install it); checked
        after the options.
      ValueError: a bad option, naming it: ``address`` not a non-empty string, ``gpus_per_point`` or
        ``cpus_per_point`` negative or not a finite number, ``max_retries`` not an integer >= 0,
        ``num_cpus`` not an integer >= 1, or ``num_cpus`` given together with an ``address``.

    Examples:
      >>> from ntk_bridge import executor
      >>> executor.Ray(max_retries=-1)
      Traceback (most recent call last):
      ...
      ValueError: max_retries must be an integer >= 0, got -1
      >>> executor.Ray("auto", num_cpus=4)
      Traceback (most recent call last):
      ...
      ValueError: num_cpus sizes a local Ray instance; leave it out with an address
      >>> try:
      ...     ex = executor.Ray("auto", gpus_per_point=0.5)   # connects only when map runs
      ... except ImportError:
      ...     ex = None                                      # Ray is not installed here
      >>> ex is None or (ex.resources({"device": "gpu"}) == {"num_cpus": 1.0, "num_gpus": 0.5} and ex.name == "ray")
      True
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
        """The Ray resources one point reserves: ``num_cpus``, and ``num_gpus`` (see the class).

        Args:
          config: the point's config; a ``dict`` with ``"device": "gpu"`` gets one GPU unless
            ``gpus_per_point`` is set.

        Returns:
          ``{"num_cpus": cpus_per_point, "num_gpus": gpus_per_point, or 1/0 from the config}``.
        """
        gpus = self.gpus_per_point
        if gpus is None:
            gpus = 1 if isinstance(config, dict) and config.get("device") == "gpu" else 0
        return {"num_cpus": self.cpus_per_point, "num_gpus": gpus}

    def map(self, compute: Callable[[Any], Any], configs: Sequence[Any], *, label: str = "") -> Iterator[Done]:
        """Run ``compute(config)`` as one Ray task per config; yield each ``Done`` as it completes.

        Args:
          compute: the function of one config (pickled and shipped to the cluster once).
          configs: the configs (an empty sequence starts no Ray instance).
          label: the tasks' name prefix, ``label[i]`` (default ``point[i]``).

        Yields:
          One ``Done`` per config, in order of completion (``index`` says which config).
        """
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

    Options whose value is ``None`` are dropped (so the command line can pass every flag): ``Ray``
    then uses its defaults, and ``"local"`` accepts them.

    Args:
      name: ``"local"`` (this process) or ``"ray"``.
      address: the Ray address (``"auto"``, ``"HOST:6379"``, ``"ray://HOST:10001"``), or ``None``
        for a local Ray instance; only for ``"ray"``.
      **options: keyword options of ``Ray`` (``gpus_per_point``, ``cpus_per_point``, ``max_retries``,
        ``num_cpus``); only for ``"ray"``.

    Returns:
      A new ``Local()``, or a ``Ray`` executor (not yet connected).

    Raises:
      ValueError: an unknown name, or ``address``/options given to ``"local"``; (from ``Ray``) a bad
        option's value.
      ImportError: ``"ray"`` without Ray installed.
      TypeError: (from ``Ray``) an option ``Ray`` does not have.

    Examples:
      >>> from ntk_bridge import executor
      >>> executor.make(), executor.make("local", address=None, max_retries=None)
      (Local(), Local())
      >>> executor.make("local", address="auto")
      Traceback (most recent call last):
      ...
      ValueError: address is an option of executor='ray', not of executor='local'
      >>> executor.make("dask")
      Traceback (most recent call last):
      ...
      ValueError: executor must be one of ('local', 'ray'), got 'dask'
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
    """The executor sweeps use now: the one of the innermost ``use`` block, else ``Local()``.

    Read from a ``contextvars.ContextVar``, so each thread and asyncio task sees its own.

    Returns:
      The executor of the innermost enclosing ``use`` block, else the module's default ``Local()``.

    Examples:
      >>> from ntk_bridge import executor
      >>> executor.current()
      Local()
      >>> mine = executor.Local()
      >>> with executor.use(mine):
      ...     executor.current() is mine
      True
      >>> executor.current() is mine
      False
    """
    return _current.get()


@contextlib.contextmanager
def use(executor: Local | Ray):
    """Run every sweep inside the block on ``executor``; close it (a Ray instance it started) at the end.

    A context manager: inside the ``with`` block ``current()`` returns ``executor`` (blocks nest);
    on leaving it, normally or by an exception, the previous executor is restored and
    ``executor.close()`` is called, so an executor is used for one block only.

    Args:
      executor: the executor (``make(...)``, ``Local()`` or ``Ray(...)``); anything with ``map`` and
        ``close``.

    Yields:
      ``executor`` itself (``with use(ex) as active``: ``active is ex``).

    Raises:
      ValueError: when ``executor`` has no ``map`` method (raised on entering the block).

    Examples:
      >>> from ntk_bridge import executor
      >>> ex = executor.make("local")
      >>> with executor.use(ex) as active:
      ...     active is ex, executor.current() is ex
      (True, True)
      >>> executor.current() is ex
      False
      >>> with executor.use("ray"):
      ...     pass
      Traceback (most recent call last):
      ...
      ValueError: executor must be an executor (executor.make(...)), got 'ray'
    """
    if not hasattr(executor, "map"):
        raise ValueError(f"executor must be an executor (executor.make(...)), got {executor!r}")
    token = _current.set(executor)
    try:
        yield executor
    finally:
        _current.reset(token)
        executor.close()
