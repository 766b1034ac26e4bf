"""Task sets and the task families the experiments draw from.

A :class:`TaskSet` holds ``N`` tasks, each with a support split ``(xs_i, ys_i)`` and a
query split ``(xq_i, yq_i)``; arrays are float64 with shapes ``(tasks, points, dim)`` and
``(tasks, points, out_dim)``.  Families are seeded: a ``world_seed`` fixes what tasks
share (a feature map, a subspace), a ``seed`` draws the tasks, so training and test
tasks of one family come from the same world with different seeds.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from . import validate


@dataclasses.dataclass(frozen=True)
class TaskSet:
    """``N`` tasks with support ``(xs, ys)`` and query ``(xq, yq)`` splits.

    Shapes: ``xs (N, s, d)``, ``ys (N, s, k)``, ``xq (N, q, d)``, ``yq (N, q, k)``.

    Raises:
      ValueError: naming the field, for wrong rank, empty or mismatched shapes,
        non-numeric or non-finite values.
    """

    xs: np.ndarray
    ys: np.ndarray
    xq: np.ndarray
    yq: np.ndarray

    def __post_init__(self):
        for name in ("xs", "ys", "xq", "yq"):
            object.__setattr__(self, name, _as_float_array(getattr(self, name), name))
        n = self.xs.shape[0]
        for name in ("ys", "xq", "yq"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"TaskSet.{name} has {getattr(self, name).shape[0]} tasks, xs has {n}")
        for x, y in (("xs", "ys"), ("xq", "yq")):
            if getattr(self, x).shape[1] != getattr(self, y).shape[1]:
                raise ValueError(f"TaskSet.{y} has {getattr(self, y).shape[1]} points per task, "
                                 f"{x} has {getattr(self, x).shape[1]}")
        if self.xq.shape[2] != self.xs.shape[2]:
            raise ValueError(f"TaskSet.xq has input dim {self.xq.shape[2]}, xs has {self.xs.shape[2]}")
        if self.yq.shape[2] != self.ys.shape[2]:
            raise ValueError(f"TaskSet.yq has out_dim {self.yq.shape[2]}, ys has {self.ys.shape[2]}")

    @property
    def n_tasks(self) -> int:
        return self.xs.shape[0]

    @property
    def n_support(self) -> int:
        return self.xs.shape[1]

    @property
    def n_query(self) -> int:
        return self.xq.shape[1]

    @property
    def dim(self) -> int:
        return self.xs.shape[2]

    @property
    def out_dim(self) -> int:
        return self.ys.shape[2]

    def merged(self) -> tuple[np.ndarray, np.ndarray]:
        """Each task's whole data ``D_i`` = support then query: ``(N, s+q, d), (N, s+q, k)``."""
        return (np.concatenate([self.xs, self.xq], axis=1),
                np.concatenate([self.ys, self.yq], axis=1))

    def take(self, n_tasks: int) -> "TaskSet":
        """The first ``n_tasks`` tasks."""
        n_tasks = validate.integer("n_tasks", n_tasks, 1, self.n_tasks)
        return TaskSet(self.xs[:n_tasks], self.ys[:n_tasks], self.xq[:n_tasks], self.yq[:n_tasks])

    def check_compatible(self, other: "TaskSet", name: str = "test") -> None:
        """Raise ``ValueError`` unless ``other`` has this set's input and output dims."""
        if other.dim != self.dim:
            raise ValueError(f"{name}.xs has input dim {other.dim}, train tasks have {self.dim}")
        if other.out_dim != self.out_dim:
            raise ValueError(f"{name}.ys has out_dim {other.out_dim}, train tasks have {self.out_dim}")


def _as_float_array(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise ValueError(f"TaskSet.{name} is not an array: {exc}") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"TaskSet.{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 3:
        raise ValueError(f"TaskSet.{name} must have shape (tasks, points, dim), got {arr.shape}")
    if min(arr.shape) == 0:
        raise ValueError(f"TaskSet.{name} is empty (shape {arr.shape}): every split needs >= 1 task, point and dim")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"TaskSet.{name} contains NaN or inf")
    arr.setflags(write=False)
    return arr


# ------------------------------------------------------------------------ families
def _seeds(world_seed, seed) -> tuple[int, int]:
    """Both seeds as plain ``int >= 0`` (NumPy's generators refuse negative seeds anyway)."""
    return validate.integer("world_seed", world_seed, 0), validate.integer("seed", seed, 0)


def _sphere(rng: np.random.Generator, shape) -> np.ndarray:
    x = rng.standard_normal(shape)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _sizes(**sizes) -> tuple[int, ...]:
    """Each size as a plain ``int >= 1`` (NumPy integers accepted), in the order given."""
    return tuple(validate.integer(name, value, 1) for name, value in sizes.items())


def shared_feature(n_tasks: int, n_support: int = 5, n_query: int = 15, *, dim: int = 16,
                   out_dim: int = 1, similarity: float = 0.8, n_features: int = 64, noise: float = 0.0,
                   world_seed: int = 0, seed: int = 0) -> TaskSet:
    """Regression on the unit sphere with a shared nonlinear feature map.

    ``y_i(x) = phi(x) w_i``, ``phi(x) = sqrt(2/m) relu(A x)`` with ``A`` (``m x d``, fixed by
    ``world_seed``), ``w_i = sqrt(similarity) w_0 + sqrt(1 - similarity) u_i``; ``w_0`` shared
    (``world_seed``), ``u_i`` per task (``seed``), all ``N(0, I)``.  ``similarity = 1`` makes
    every task the same; ``0`` leaves only the shared features.
    """
    n_tasks, n_support, n_query, dim, out_dim, n_features = _sizes(
        n_tasks=n_tasks, n_support=n_support, n_query=n_query, dim=dim, out_dim=out_dim, n_features=n_features)
    similarity = validate.real("similarity", similarity, 0.0, 1.0)
    noise = validate.nonnegative("noise", noise)
    world_seed, seed = _seeds(world_seed, seed)
    world = np.random.default_rng([world_seed, 1])
    a = world.standard_normal((dim, n_features))
    w0 = world.standard_normal((n_features, out_dim))
    rng = np.random.default_rng([seed, 2])
    u = rng.standard_normal((n_tasks, n_features, out_dim))
    w = np.sqrt(similarity) * w0 + np.sqrt(1.0 - similarity) * u
    x = _sphere(rng, (n_tasks, n_support + n_query, dim))
    phi = np.sqrt(2.0 / n_features) * np.maximum(x @ a, 0.0)
    y = np.einsum("npm,nmk->npk", phi, w) + noise * rng.standard_normal((n_tasks, n_support + n_query, out_dim))
    return TaskSet(x[:, :n_support], y[:, :n_support], x[:, n_support:], y[:, n_support:])


def sinusoid(n_tasks: int, n_support: int = 5, n_query: int = 15, *, amp_range=(0.1, 5.0),
             phase_range=(0.0, np.pi), x_range=(-5.0, 5.0), noise: float = 0.0,
             world_seed: int = 0, seed: int = 0) -> TaskSet:
    """The MAML sinusoid benchmark: ``y = A sin(x - p)``, ``A``, ``p``, ``x`` uniform.

    Inputs are embedded as ``(x / 5, 1)`` (dim 2): a ReLU net without bias sees only the
    sign of a scalar input, the constant coordinate plays the bias.  ``world_seed`` is
    unused (the family has no shared hidden structure beyond its ranges).
    """
    del world_seed
    n_tasks, n_support, n_query = _sizes(n_tasks=n_tasks, n_support=n_support, n_query=n_query)
    noise = validate.nonnegative("noise", noise)
    seed = validate.integer("seed", seed, 0)
    rng = np.random.default_rng([seed, 3])
    amp = rng.uniform(*amp_range, size=(n_tasks, 1))
    phase = rng.uniform(*phase_range, size=(n_tasks, 1))
    t = rng.uniform(*x_range, size=(n_tasks, n_support + n_query))
    y = amp * np.sin(t - phase) + noise * rng.standard_normal(t.shape)
    x = np.stack([t / 5.0, np.ones_like(t)], axis=-1)
    y = y[..., None]
    return TaskSet(x[:, :n_support], y[:, :n_support], x[:, n_support:], y[:, n_support:])


def gaussian_clusters(n_tasks: int, n_way: int = 5, k_shot: int = 1, n_query: int = 3, *, dim: int = 16,
                      rank: int = 4, spread: float = 0.3, world_seed: int = 0, seed: int = 0) -> TaskSet:
    """Few-shot classification: ``n_way`` Gaussian clusters per task, one-hot targets.

    Class centres are drawn afresh per task inside a ``rank``-dimensional subspace shared
    by all tasks (``world_seed``); points are ``centre + spread * N(0, I_d)``, projected
    on the sphere.  Targets are one-hot rows minus ``1 / n_way`` (centred), out_dim
    ``n_way``.  Support holds ``k_shot`` and query ``n_query`` points per class.
    """
    n_tasks, n_way, k_shot, n_query, dim = _sizes(n_tasks=n_tasks, n_way=n_way, k_shot=k_shot, n_query=n_query,
                                                  dim=dim)
    rank = validate.integer("rank", rank, 1, dim)
    spread = validate.nonnegative("spread", spread)
    world_seed, seed = _seeds(world_seed, seed)
    basis = np.linalg.qr(np.random.default_rng([world_seed, 4]).standard_normal((dim, rank)))[0]
    rng = np.random.default_rng([seed, 5])
    centres = _sphere(rng, (n_tasks, n_way, rank)) @ basis.T            # (N, way, d)
    per_class = k_shot + n_query
    labels = np.tile(np.arange(n_way), per_class)                       # (per_class * way,)
    x = centres[:, labels] + spread * rng.standard_normal((n_tasks, labels.size, dim))
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    y = np.broadcast_to(np.eye(n_way)[labels] - 1.0 / n_way, (n_tasks, labels.size, n_way))
    cut = k_shot * n_way
    return TaskSet(x[:, :cut], y[:, :cut], x[:, cut:], y[:, cut:])


FAMILIES: dict[str, Callable[..., TaskSet]] = {
    "shared-feature": shared_feature,
    "sinusoid": sinusoid,
    "clusters": gaussian_clusters,
}


def make(family: str, n_tasks: int, **kwargs) -> TaskSet:
    """Draw ``n_tasks`` tasks from the family named ``family`` (a key of ``FAMILIES``)."""
    validate.choice("family", family, sorted(FAMILIES))
    return FAMILIES[family](n_tasks, **kwargs)
