"""Pieces every experiment shares: the task configuration, seeds, validation, summaries."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from .. import store, validate
from ..kernels import Kernels, kernels
from ..predict import Adaptation
from ..spec import ConvSpec, MLPSpec
from ..tasks import CLASSIFICATION, FAMILIES, TaskSet, make

# A seed s draws its training tasks with task seed 2s and its test tasks with 2s + 1, from
# one world (world_seed), so test tasks are unseen but of the same family.
WORLD_SEED = 0


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """Which tasks an experiment trains and tests on.

    ``n_support``/``n_query`` are points per task; for ``clusters`` and ``digits`` they are
    points per class (``k_shot`` and query per class, ``n_way`` classes, set through
    ``options``).  ``options`` are extra keyword arguments of the family, as ``(name, value)``
    pairs.  ``digits`` draws training tasks from the pool ``train_classes`` (an option,
    default ``"train"``: digits 0-4) and test tasks from ``test_classes`` (default
    ``"test"``: 5-9), and never reuses a training image in the test tasks (disjoint pools
    share none anyway; overlapping ones, e.g. for ``labels="fixed"``, exclude them).

    The counts are stored as plain ``int`` (NumPy integers accepted) and ``options`` as a tuple of
    ``(str, value)`` pairs (a dict is accepted too; a repeated name keeps its last value), in the
    order given: the order is part of the configuration (and of a record's hash).

    Attributes:
      family: the task family, a key of ``tasks.FAMILIES``: ``"shared-feature"`` (default), ``"sinusoid"``,
        ``"clusters"`` or ``"digits"``.
      n_train: number of training tasks, ``>= 1``.
      n_test: number of (unseen) test tasks, ``>= 1``.
      n_support: support points per task (``clusters``/``digits``: per class, the family's ``k_shot``), ``>= 1``.
      n_query: query points per task (``clusters``/``digits``: per class), ``>= 1``.
      options: the family's other keyword arguments as ``((name, value), ...)`` (e.g. ``(("n_way", 3),)``,
        ``(("similarity", 0.5),)``); ``world_seed`` defaults to ``WORLD_SEED``.

    Raises:
      ValueError: when ``family`` is not a key of ``tasks.FAMILIES`` or a count is not an integer ``>= 1``
        (the message names the field).

    Examples:
      >>> from ntk_bridge.experiments.common import TaskConfig
      >>> cfg = TaskConfig(n_train=3, n_test=2, n_support=2, n_query=4)
      >>> train, test = cfg.draw(seed=0)
      >>> train.xs.shape, train.yq.shape, test.xq.shape
      ((3, 2, 16), (3, 4, 1), (2, 4, 16))
      >>> TaskConfig("clusters", n_support=1, n_query=2, options={"n_way": 3}).options
      (('n_way', 3),)
      >>> TaskConfig(family="mnist")
      Traceback (most recent call last):
      ...
      ValueError: family must be one of ('clusters', 'digits', 'shared-feature', 'sinusoid'), got 'mnist'
    """

    family: str = "shared-feature"
    n_train: int = 20
    n_test: int = 20
    n_support: int = 5
    n_query: int = 15
    options: tuple = ()

    def __post_init__(self):
        validate.choice("family", self.family, sorted(FAMILIES))
        for name in ("n_train", "n_test", "n_support", "n_query"):
            object.__setattr__(self, name, check_int(name, getattr(self, name)))
        object.__setattr__(self, "options", tuple((str(k), v) for k, v in dict(self.options).items()))

    def draw(self, seed: int) -> tuple[TaskSet, TaskSet]:
        """Training and unseen test tasks of task-sampling seed ``seed``.

        Both come from one world (``world_seed``, default ``WORLD_SEED``): the training tasks are
        ``tasks.make(family, n_train, seed=2 * seed, ...)``, the test tasks ``tasks.make(family, n_test,
        seed=2 * seed + 1, ...)``, with the sizes as ``n_support``/``n_query`` (``k_shot``/``n_query`` for
        ``clusters`` and ``digits``) and ``options`` passed on.  ``digits`` draws the training tasks from the
        class pool ``train_classes`` and the test tasks from ``test_classes``, excluding the training images.

        Args:
          seed: the task-sampling seed, an integer ``>= 0``.

        Returns:
          ``(train, test)``, two ``TaskSet``: ``train.xs (n_train, n_support, dim)``, ``train.ys (n_train,
          n_support, out_dim)``, ``xq``/``yq`` with ``n_query`` points; ``test`` likewise with ``n_test`` tasks
          (classification: ``n_way * n_support`` and ``n_way * n_query`` points); float64.

        Raises:
          ValueError: when ``options`` of ``digits`` hold ``classes`` (it takes ``train_classes`` and
            ``test_classes``); (propagated from the family) when ``seed`` is negative or an option is
            unknown or out of range.

        Examples:
          >>> import numpy as np
          >>> from ntk_bridge.experiments.common import TaskConfig
          >>> cfg = TaskConfig("clusters", n_train=2, n_test=2, n_support=1, n_query=2, options=(("n_way", 3),))
          >>> train, test = cfg.draw(1)
          >>> train.xs.shape, train.ys.shape, test.xq.shape
          ((2, 3, 16), (2, 3, 3), (2, 6, 16))
          >>> again, _ = cfg.draw(1)
          >>> bool(np.array_equal(train.xs, again.xs)), bool(np.array_equal(train.xs, test.xs))
          (True, False)
          >>> TaskConfig("digits", options=(("classes", "all"),)).draw(0)
          Traceback (most recent call last):
          ...
          ValueError: options: digits takes train_classes and test_classes here ..., not classes
        """
        kw = dict(self.options)
        kw.setdefault("world_seed", WORLD_SEED)
        if self.family in CLASSIFICATION:
            sizes = {"k_shot": self.n_support, "n_query": self.n_query}
        else:
            sizes = {"n_support": self.n_support, "n_query": self.n_query}
        if self.family == "digits":
            if "classes" in kw:
                raise ValueError("options: digits takes train_classes and test_classes here (one pool each for "
                                 "training and test tasks), not classes")
            train_pool, test_pool = kw.pop("train_classes", "train"), kw.pop("test_classes", "test")
            train = make(self.family, self.n_train, seed=2 * seed, classes=train_pool, **sizes, **kw)
            test = make(self.family, self.n_test, seed=2 * seed + 1, classes=test_pool, exclude=train, **sizes, **kw)
            return train, test
        train = make(self.family, self.n_train, seed=2 * seed, **sizes, **kw)
        test = make(self.family, self.n_test, seed=2 * seed + 1, **sizes, **kw)
        return train, test


def check_int(name: str, value: Any, low: int = 1) -> int:
    """``value`` as a plain ``int >= low`` (NumPy integers accepted), else ``ValueError`` naming ``name``.

    ``validate.integer(name, value, low)``: Python ints, NumPy integers and 0-d integer arrays pass; ``bool``
    and floats (even ``2.0``) do not.

    Args:
      name: the field's name, used in the error message.
      value: the value to check.
      low: the smallest value accepted (default 1).

    Returns:
      ``value`` as a plain ``int``.

    Raises:
      ValueError: (from ``validate.integer``) when ``value`` is not an integer (a ``bool`` or a float included)
        or is below ``low``.

    Examples:
      >>> import numpy as np
      >>> from ntk_bridge.experiments.common import check_int
      >>> check_int("depth", np.int64(3)), check_int("seed", 0, low=0)
      (3, 0)
      >>> check_int("depth", 0)
      Traceback (most recent call last):
      ...
      ValueError: depth must be an integer >= 1, got 0
      >>> check_int("depth", 2.0)
      Traceback (most recent call last):
      ...
      ValueError: depth must be an integer >= 1, got 2.0
    """
    return validate.integer(name, value, low)


def check_ints(name: str, values: Any, low: int = 1) -> tuple[int, ...]:
    """A non-empty tuple of integers ``>= low`` (a sweep axis), as plain ``int``.

    Only a ``tuple`` is accepted (a list is refused: configurations are frozen and hashable); each entry goes
    through ``validate.integer``.

    Args:
      name: the field's name, used in the error message.
      values: the sweep axis, a tuple of integers (NumPy integers accepted).
      low: the smallest value accepted for each entry (default 1).

    Returns:
      ``tuple[int, ...]``: the entries as plain ``int``, in the order given.

    Raises:
      ValueError: when ``values`` is not a tuple, is empty, or holds an entry that is not an integer ``>= low``.

    Examples:
      >>> import numpy as np
      >>> from ntk_bridge.experiments.common import check_ints
      >>> check_ints("widths", (64, np.int64(128)))
      (64, 128)
      >>> check_ints("widths", [64])
      Traceback (most recent call last):
      ...
      ValueError: widths must be a non-empty tuple of integers, got [64]
      >>> check_ints("depths", (1, 0))
      Traceback (most recent call last):
      ...
      ValueError: each of depths must be an integer >= 1, got 0
    """
    if not isinstance(values, tuple):
        raise ValueError(f"{name} must be a non-empty tuple of integers, got {values!r}")
    return validate.integers(name, values, low)


def check_choice(name: str, value: Any, choices) -> Any:
    """``value`` if it is one of ``choices`` (``None`` may be one), else ``ValueError`` naming ``name``.

    Only a ``str`` or ``None`` can pass: any other value is refused even when it is among ``choices``.

    Args:
      name: the field's name, used in the error message.
      value: the value to check, a ``str`` or ``None``.
      choices: the accepted values (any iterable of strings, ``None`` allowed among them).

    Returns:
      ``value`` itself.

    Raises:
      ValueError: when ``value`` is neither ``None`` nor a ``str``, or is not one of ``choices``.

    Examples:
      >>> from ntk_bridge.experiments.common import check_choice
      >>> check_choice("device", "cpu", (None, "cpu", "gpu")), check_choice("device", None, (None, "cpu", "gpu"))
      ('cpu', None)
      >>> check_choice("split", "both", ("same", "disjoint"))
      Traceback (most recent call last):
      ...
      ValueError: split must be one of ('same', 'disjoint'), got 'both'
    """
    choices = tuple(choices)
    if value is not None and not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def point(config, **fields) -> dict:
    """A sweep point's full configuration: the sweep's settings (minus sweep axes) plus ``fields``.

    ``store.to_jsonable(config)`` without the fields named in ``config.AXES`` (a class constant of the sweep's
    configuration; none if it has no ``AXES``), updated with ``store.to_jsonable(fields)``: points of two
    sweeps that differ only in their axes have the same configuration, so they share their stored records.

    Args:
      config: the sweep's configuration (a dataclass, or a dict), with its ``AXES`` if any (a ``ClassVar``,
        so not a field itself).
      **fields: the point's own settings (a depth, a width, a seed, ...); they replace a setting of the same
        name.

    Returns:
      dict: the point's configuration as plain JSON data (tuples as lists, NumPy scalars as numbers).

    Raises:
      ValueError: (from ``store.to_jsonable``) when a value is a non-finite float or a type JSON cannot hold.

    Examples:
      A point of the width sweep: its axes (``depths``, ``widths``, ...) give way to one depth and width:

      >>> import numpy as np
      >>> from ntk_bridge.experiments import width
      >>> from ntk_bridge.experiments.common import point
      >>> cfg = width.Config.quick()
      >>> p = point(cfg, depth=2, width=64, method="anil", seed=np.int64(0))
      >>> [axis for axis in cfg.AXES if axis in p], p["depth"], p["seed"], p["lr"] == cfg.lr
      ([], 2, 0, True)
      >>> p["tasks"]
      {'family': 'shared-feature', 'n_train': 10, 'n_test': 10, 'n_support': 5, 'n_query': 10, 'options': []}
    """
    base = store.to_jsonable(config)
    for axis in getattr(config, "AXES", ()):
        base.pop(axis, None)
    base.update(store.to_jsonable(fields))
    return base


def save_summary(root, experiment: str, config, records: list[dict], result: dict, start: float) -> dict:
    """Store the sweep's summary record: ``result`` plus the hashes of its point records.

    A summary is a function of its points: when the stored summary of this config was built
    from exactly these point records (their digests, ``point_digests``; its own seal intact)
    and holds exactly ``result`` (the same code made it), it is kept as it is (not rewritten),
    so a finished sweep reruns in a read-only results folder.  Otherwise it is rebuilt.  Which summary reports
    read is named apart (``ntk_bridge.selection``), never by date.

    The stored result is ``result`` with ``"points"`` set to the distinct ``config_hash`` of ``records`` in
    their order (a ``"points"`` key of ``result`` is replaced); a rebuilt summary's timings are ``total_s``
    (``time.perf_counter() - start``) and ``points_compute_s`` (the sum of the points' ``total_s``, each
    distinct point once).

    Args:
      root: the results root (path-like).
      experiment: the experiment's name (its folder under ``root``).
      config: the sweep's configuration; it names the summary's file (``store.record_path``).
      records: the sweep's point records (dicts as ``store.save`` returns them: ``config_hash``, ``digest``,
        ``timings["total_s"]``).
      result: the summary's result (plain JSON data, e.g. ``schema.to_json`` of the result dataclass).
      start: ``time.perf_counter()`` when the sweep started.

    Returns:
      dict: the summary record (``kind == "summary"``): the one stored before, unchanged, or the one written.

    Raises:
      KeyError: when a record lacks ``config_hash`` or ``timings["total_s"]``.
      ValueError: (from ``store``) when ``experiment`` is not a plain folder name, or ``config`` or ``result``
        holds a non-finite float or a type JSON cannot hold.
      OSError: (from ``store.save``) when the record cannot be written.

    Examples:
      >>> import tempfile, time
      >>> from ntk_bridge import store
      >>> from ntk_bridge.experiments.common import save_summary
      >>> with tempfile.TemporaryDirectory() as root:
      ...     start = time.perf_counter()
      ...     recs = [store.save(root, "demo", {"depth": L}, {"gap": 1.0 / L}) for L in (1, 2)]
      ...     summ = save_summary(root, "demo", {"depths": [1, 2]}, recs, {"mean_gap": 0.75}, start)
      ...     again = save_summary(root, "demo", {"depths": [1, 2]}, recs, {"mean_gap": 0.75}, start)
      ...     other = save_summary(root, "demo", {"depths": [1, 2]}, recs, {"mean_gap": 0.5}, start)
      >>> summ["kind"], summ["result"]["points"] == [r["config_hash"] for r in recs], sorted(summ["timings"])
      ('summary', True, ['points_compute_s', 'total_s'])
      >>> again == summ, other["created_ns"] > summ["created_ns"], other["result"]["mean_gap"]
      (True, True, 0.5)
    """
    result = dict(result, points=list(dict.fromkeys(r["config_hash"] for r in records)))
    existing = store.get(root, experiment, config, kind="summary")
    if (existing is not None and existing["result"]["points"] == result["points"]
            and existing.get("point_digests") == {r["config_hash"]: r.get("digest") for r in records}
            and store.canonical(existing["result"]) == store.canonical(result)):
        return existing
    timings = {"total_s": time.perf_counter() - start,
               "points_compute_s": float(sum({r["config_hash"]: r["timings"]["total_s"] for r in records}.values()))}
    return store.save(root, experiment, config, result, timings=timings, kind="summary")


def stat(values) -> dict:
    """Mean, standard deviation and count of a list of numbers (over seeds).

    ``mean = sum(v) / n``; ``std`` is the sample standard deviation ``sqrt(sum((v - mean)^2) / (n - 1))``
    (``ddof=1``), ``0.0`` for a single value.  ``stats.Stat.read`` types the dict.

    Args:
      values: the numbers (a list or array, e.g. one per seed); flattened, as float64.

    Returns:
      dict: ``{"mean": float, "std": float, "n": int}`` (an empty list gives ``mean`` NaN, with NumPy's warning,
      and ``n`` 0).

    Examples:
      >>> from ntk_bridge.experiments.common import stat
      >>> stat([1.0, 2.0, 3.0])
      {'mean': 2.0, 'std': 1.0, 'n': 3}
      >>> stat([5])
      {'mean': 5.0, 'std': 0.0, 'n': 1}
    """
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def spec_for(p: dict, train: TaskSet):
    """The infinite-width spec of point ``p``: ``MLPSpec(depth)``, or for ``p["arch"] == "conv"`` a
    ``ConvSpec(depth, pool=p["pool"])`` reading ``train``'s images (theory.md §11).

    Every other field of the spec keeps its default (the finite ``width``/``channels`` are not read: the
    infinite-width kernels ignore them); ``out_dim`` is ``train.out_dim`` and, for the conv net,
    ``image_shape`` is ``train.image_shape``.

    Args:
      p: the point's configuration: ``"depth"``; optionally ``"arch"`` (``"mlp"``, the default, or
        ``"conv"``) and, for ``"conv"``, ``"pool"`` (``"gap"`` or ``"flatten"``).
      train: the training tasks, for their ``out_dim`` and ``image_shape``.

    Returns:
      ``MLPSpec(depth=p["depth"], out_dim=train.out_dim)``, or ``ConvSpec(depth=p["depth"], pool=p["pool"],
      out_dim=train.out_dim, image_shape=train.image_shape)``.

    Raises:
      KeyError: when ``p`` lacks ``"depth"`` (or ``"pool"`` for a conv net).
      ValueError: (from the spec) when the depth or pool is invalid.

    Examples:
      >>> from ntk_bridge.experiments.common import TaskConfig, spec_for
      >>> train, _ = TaskConfig("clusters", n_train=2, n_test=1, n_support=1, n_query=1,
      ...                       options=(("n_way", 3),)).draw(0)
      >>> spec = spec_for({"depth": 2}, train)
      >>> type(spec).__name__, spec.depth, spec.out_dim
      ('MLPSpec', 2, 3)
    """
    if p.get("arch", "mlp") == "conv":
        return ConvSpec(depth=p["depth"], pool=p["pool"], out_dim=train.out_dim, image_shape=train.image_shape)
    return MLPSpec(depth=p["depth"], out_dim=train.out_dim)


def scaled_adaptation(kernel_fn, train: TaskSet, tau: float, steps: int) -> Adaptation:
    """``steps`` inner steps of size ``tau / (steps * lambda_max)``, ``lambda_max`` the largest eigenvalue of
    ``Theta`` on the first training task's data (support ∪ query): an inner loop of the same reach whatever
    the kernel's scale (a CNTK with pooling is ~100x smaller than the MLP's NTK on the same images).

    The inner loop's time is then ``lr * steps = tau / lambda_max``.

    Args:
      kernel_fn: the kernel function ``(x1, x2=None) -> Kernels`` (e.g. ``kernel_table``'s); called once, on
        ``concatenate([train.xs[0], train.xq[0]])``.
      train: the training tasks; only the first task's points are read.
      tau: the inner loop's total reach ``lr * steps * lambda_max``, ``> 0``.
      steps: inner steps, an integer ``>= 1``.

    Returns:
      ``Adaptation(lr=tau / (steps * lambda_max), steps=steps)``.

    Raises:
      ValueError: when ``tau`` is not positive or ``steps`` not an integer ``>= 1`` (naming it).

    Examples:
      >>> import numpy as np
      >>> from ntk_bridge.experiments.common import TaskConfig, kernel_table, scaled_adaptation, spec_for
      >>> train, test = TaskConfig(n_train=2, n_test=1, n_support=2, n_query=3).draw(0)
      >>> kfn = kernel_table(spec_for({"depth": 2}, train), train, test)
      >>> adapt = scaled_adaptation(kfn, train, tau=0.5, steps=5)
      >>> lam = np.linalg.eigvalsh(kfn(np.concatenate([train.xs[0], train.xq[0]])).theta)[-1]
      >>> adapt.steps, bool(np.isclose(adapt.lr * adapt.steps * lam, 0.5))
      (5, True)
    """
    steps = check_int("steps", steps)
    tau = validate.positive("tau", tau)
    x0 = np.concatenate([train.xs[0], train.xq[0]])
    lam = float(np.linalg.eigvalsh(kernel_fn(x0).theta)[-1])
    return Adaptation(lr=tau / (steps * lam), steps=steps)


def kernel_table(spec, *task_sets: TaskSet, backend: str = "native"):
    """A kernel function ``(x1, x2=None) -> Kernels`` over the points of ``task_sets``, computed once.

    The predictors call their kernel function several times on overlapping point sets;
    kernel values of a pair do not depend on the other points, so one Gram matrix over
    every point serves them all (looked up by the points' bytes).

    The table is ``kernels(spec, pts, backend=backend)`` over the distinct points ``pts`` of every task's
    support and query inputs; ``kernel_fn(x1, x2)`` returns ``Kernels(theta[i1, i2], sigma[i1, i2])`` for the
    rows ``i1``, ``i2`` of ``x1``'s and ``x2``'s points (``x2=None``: ``x1`` with itself).  A point must be
    given exactly (its float64 bytes) as in the task sets.

    Args:
      spec: the infinite-width spec (``MLPSpec`` or ``ConvSpec``, e.g. ``spec_for``'s).
      *task_sets: the ``TaskSet`` whose points (support and query) the kernel function will be called on.
      backend: the kernel backend (``kernels.BACKENDS``), default ``"native"``.

    Returns:
      A function ``kernel_fn(x1, x2=None) -> Kernels``: for ``x1 (n1, dim)`` and ``x2 (n2, dim)``,
      ``theta`` and ``sigma`` ``(n1, n2)`` float64 (``(n1, n1)`` without ``x2``); it raises ``ValueError``
      for a point not in ``task_sets``.

    Raises:
      ValueError: (from ``kernels``) when ``backend`` is unknown; from ``kernel_fn``: when it is called on a
        point outside the task sets it was built from.

    Examples:
      The table gives the same kernels as computing them directly:

      >>> import numpy as np
      >>> from ntk_bridge import kernels, spec
      >>> from ntk_bridge.experiments.common import TaskConfig, kernel_table
      >>> train, test = TaskConfig(n_train=2, n_test=2, n_support=2, n_query=3).draw(0)
      >>> kfn = kernel_table(spec.MLPSpec(depth=2), train, test)
      >>> k = kfn(train.xs[0], test.xq[1])
      >>> direct = kernels.kernels(spec.MLPSpec(depth=2), train.xs[0], test.xq[1])
      >>> k.theta.shape, bool(np.allclose(k.theta, direct.theta)), bool(np.allclose(k.sigma, direct.sigma))
      ((2, 3), True, True)
      >>> kfn(test.xq[0]).theta.shape
      (3, 3)
      >>> kfn(np.ones((1, 16)))
      Traceback (most recent call last):
      ...
      ValueError: kernel_table: a point outside the task sets it was built from
    """
    pts = np.concatenate([np.concatenate([t.xs, t.xq], axis=1).reshape(-1, t.dim) for t in task_sets])
    pts = np.unique(pts, axis=0)
    full = kernels(spec, pts, backend=backend)
    index = {row.tobytes(): i for i, row in enumerate(pts)}

    def rows(x):
        try:
            return np.array([index[r.tobytes()] for r in np.asarray(x, dtype=np.float64)])
        except KeyError:
            raise ValueError("kernel_table: a point outside the task sets it was built from") from None

    def kernel_fn(x1, x2=None) -> Kernels:
        i1 = rows(x1)
        i2 = i1 if x2 is None else rows(x2)
        return Kernels(full.theta[np.ix_(i1, i2)], full.sigma[np.ix_(i1, i2)])

    return kernel_fn
