"""Task sets and the task families the experiments draw from.

A ``TaskSet`` holds ``N`` tasks, each with a support split ``(xs_i, ys_i)`` and a
query split ``(xq_i, yq_i)``; arrays are float64 with shapes ``(tasks, points, dim)`` and
``(tasks, points, out_dim)``.  Families are seeded: a ``world_seed`` fixes what tasks
share (a feature map, a subspace), a ``seed`` draws the tasks, so training and test
tasks of one family come from the same world with different seeds.  ``digits`` draws
few-shot episodes from real images (scikit-learn's bundled 8x8 digits), with disjoint
meta-train and meta-test class pools.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import numpy as np

from . import validate


@dataclasses.dataclass(frozen=True)
class TaskSet:
    """``N`` tasks with support ``(xs, ys)`` and query ``(xq, yq)`` splits.

    Shapes: ``xs (N, s, d)``, ``ys (N, s, k)``, ``xq (N, q, d)``, ``yq (N, q, k)``.  Image inputs
    ``xs (N, s, H, W, C)`` (and ``xq``) are stored flat, ``d = H W C`` (every predictor reads points
    as rows), with ``image_shape = (H, W, C)``; ``images`` gives them back as images and a
    ``ConvSpec`` with that ``image_shape`` reads the rows as images.

    Every array is stored as a read-only float64 copy; the properties ``n_tasks``, ``n_support``,
    ``n_query``, ``dim`` and ``out_dim`` read the shapes.

    Attributes:
      xs: support inputs ``(N, s, d)`` float64 (given as ``(N, s, H, W, C)`` images: stored flat).
      ys: support targets ``(N, s, k)`` float64.
      xq: query inputs ``(N, q, d)`` float64 (images stored flat, like ``xs``).
      yq: query targets ``(N, q, k)`` float64.
      image_shape: ``(H, W, C)`` of image inputs (taken from 5-d ``xs``/``xq`` when not given), or ``None``
        for vector inputs.

    Raises:
      ValueError: naming the field, for wrong rank, empty or mismatched shapes,
        non-numeric or non-finite values.

    Examples:
        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> xs, ys = np.zeros((3, 5, 4)), np.ones((3, 5, 1))         # 3 tasks, 5 support points each
        >>> xq, yq = np.zeros((3, 2, 4)), np.ones((3, 2, 1))         # and 2 query points
        >>> tasks = nb.TaskSet(xs, ys, xq, yq)
        >>> tasks.n_tasks, tasks.n_support, tasks.n_query, tasks.dim, tasks.out_dim
        (3, 5, 2, 4, 1)
        >>> [a.shape for a in tasks.merged()]
        [(3, 7, 4), (3, 7, 1)]
        >>> nb.TaskSet(xs, ys, xq, yq[:, :1])
        Traceback (most recent call last):
        ...
        ValueError: TaskSet.yq has 1 points per task, xq has 2
    """

    xs: np.ndarray
    ys: np.ndarray
    xq: np.ndarray
    yq: np.ndarray
    image_shape: tuple | None = None

    def __post_init__(self):
        shape = self.image_shape
        if shape is not None:
            if not isinstance(shape, (tuple, list)) or len(shape) != 3:
                raise ValueError(f"TaskSet.image_shape must be (H, W, C), got {shape!r}")
            shape = tuple(validate.integer("TaskSet.image_shape", v, 1) for v in shape)
        for name in ("xs", "xq"):
            try:
                x = np.asarray(getattr(self, name))
            except (TypeError, ValueError):                           # _as_float_array names the field below
                continue
            if x.ndim == 5:                                           # images: stored flat
                if shape is not None and tuple(x.shape[2:]) != shape:
                    raise ValueError(f"TaskSet.{name} has images of shape {tuple(x.shape[2:])}, image_shape is "
                                     f"{shape}")
                shape = tuple(int(v) for v in x.shape[2:])
                object.__setattr__(self, name, x.reshape(x.shape[:2] + (-1,)))
        object.__setattr__(self, "image_shape", shape)
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
        if shape is not None and int(np.prod(shape)) != self.xs.shape[2]:
            raise ValueError(f"TaskSet.image_shape {shape} holds {int(np.prod(shape))} values, the inputs have "
                             f"dim {self.xs.shape[2]}")

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

    def images(self, split: str = "xs") -> np.ndarray:
        """``xs`` or ``xq`` as images ``(N, points, H, W, C)``; ``ValueError`` without ``image_shape``."""
        validate.choice("split", split, ("xs", "xq"))
        if self.image_shape is None:
            raise ValueError("this TaskSet holds vectors, not images (image_shape is None)")
        x = getattr(self, split)
        return x.reshape(x.shape[:2] + self.image_shape)

    def merged(self) -> tuple[np.ndarray, np.ndarray]:
        """Each task's whole data ``D_i`` = support then query: ``(N, s+q, d), (N, s+q, k)``."""
        return (np.concatenate([self.xs, self.xq], axis=1),
                np.concatenate([self.ys, self.yq], axis=1))

    def take(self, n_tasks: int) -> "TaskSet":
        """The first ``n_tasks`` tasks."""
        n_tasks = validate.integer("n_tasks", n_tasks, 1, self.n_tasks)
        return TaskSet(self.xs[:n_tasks], self.ys[:n_tasks], self.xq[:n_tasks], self.yq[:n_tasks], self.image_shape)

    def check_compatible(self, other: "TaskSet", name: str = "test") -> None:
        """Raise ``ValueError`` unless ``other`` has this set's input and output dims."""
        if other.dim != self.dim:
            raise ValueError(f"{name}.xs has input dim {other.dim}, train tasks have {self.dim}")
        if other.out_dim != self.out_dim:
            raise ValueError(f"{name}.ys has out_dim {other.out_dim}, train tasks have {self.out_dim}")
        if None not in (self.image_shape, other.image_shape) and other.image_shape != self.image_shape:
            raise ValueError(f"{name} has images of shape {other.image_shape}, train tasks have {self.image_shape}")


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

    Args:
      n_tasks: number of tasks ``N >= 1``.
      n_support: support points per task ``s >= 1``.
      n_query: query points per task ``q >= 1``.
      dim: input dimension ``d`` (inputs uniform on the unit sphere ``S^{d-1}``).
      out_dim: outputs ``k`` (columns of ``w_i``).
      similarity: weight of the shared ``w_0`` in ``[0, 1]``.
      n_features: width ``m`` of the feature map.
      noise: standard deviation ``>= 0`` of Gaussian noise added to every label (support and query).
      world_seed: integer ``>= 0`` fixing ``A`` and ``w_0`` (what the tasks share).
      seed: integer ``>= 0`` drawing the tasks (``u_i``, inputs, noise).

    Returns:
      ``TaskSet``: ``xs (n_tasks, n_support, dim)``, ``ys (n_tasks, n_support, out_dim)``, ``xq``,
      ``yq`` likewise with ``n_query``; inputs on the unit sphere.

    Raises:
      ValueError: naming the bad argument (sizes below 1, ``similarity`` outside ``[0, 1]``, ...).

    Examples:
        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> tasks = nb.tasks.shared_feature(10, n_support=5, n_query=15, dim=16, seed=0)
        >>> tasks.xs.shape, tasks.yq.shape
        ((10, 5, 16), (10, 15, 1))
        >>> bool(np.allclose(np.linalg.norm(tasks.xs, axis=-1), 1.0))
        True
        >>> nb.tasks.shared_feature(3, similarity=1.5)
        Traceback (most recent call last):
        ...
        ValueError: similarity must be a finite number >= 0 and <= 1, got 1.5
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

    Args:
      n_tasks: number of tasks ``N >= 1``.
      n_support: support points per task ``s >= 1``.
      n_query: query points per task ``q >= 1``.
      amp_range: ``(low, high)`` of the amplitude ``A`` (uniform; finite, ``low <= high``).
      phase_range: ``(low, high)`` of the phase ``p`` (uniform; finite, ``low <= high``).
      x_range: ``(low, high)`` of the scalar input ``x`` (uniform; finite, ``low <= high``).
      noise: standard deviation ``>= 0`` of Gaussian noise added to every label.
      world_seed: unused; an integer ``>= 0`` like the other families'.
      seed: integer ``>= 0`` drawing amplitudes, phases, inputs and noise.

    Returns:
      ``TaskSet``: ``xs (n_tasks, n_support, 2)``, ``ys (n_tasks, n_support, 1)``, ``xq``, ``yq`` likewise
      with ``n_query``.

    Raises:
      ValueError: naming the bad argument (sizes below 1, a range not ``(low, high)`` with finite
        ``low <= high``, ``noise < 0``, ``seed`` or ``world_seed`` not an integer ``>= 0``).

    Examples:
        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> tasks = nb.tasks.sinusoid(4, n_support=5, n_query=10, seed=0)
        >>> tasks.xs.shape, tasks.yq.shape
        ((4, 5, 2), (4, 10, 1))
        >>> bool(np.all(tasks.xs[..., 1] == 1.0))
        True
    """
    validate.integer("world_seed", world_seed, 0)
    n_tasks, n_support, n_query = _sizes(n_tasks=n_tasks, n_support=n_support, n_query=n_query)
    amp_range, phase_range, x_range = (validate.interval(n, r) for n, r in
                                       (("amp_range", amp_range), ("phase_range", phase_range), ("x_range", x_range)))
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
    ``n_way >= 2``.  Support holds ``k_shot`` and query ``n_query`` points per class, ordered by
    class ``0, 1, ..., n_way - 1``, repeated.

    Args:
      n_tasks: number of tasks ``N >= 1``.
      n_way: classes per task, ``>= 2`` (one class would have all-zero centred targets).
      k_shot: support points per class ``>= 1``.
      n_query: query points per class ``>= 1``.
      dim: input dimension ``d``.
      rank: dimension of the shared subspace of the class centres, in ``[1, dim]``.
      spread: standard deviation ``>= 0`` of the points around their centre (before the projection).
      world_seed: integer ``>= 0`` fixing the shared subspace.
      seed: integer ``>= 0`` drawing the centres and points.

    Returns:
      ``TaskSet``: ``xs (n_tasks, n_way * k_shot, dim)``, ``ys (n_tasks, n_way * k_shot, n_way)``,
      ``xq``, ``yq`` with ``n_way * n_query`` points.

    Raises:
      ValueError: naming the bad argument (``n_way < 2``, ``rank`` outside ``[1, dim]``, ...).

    Examples:
        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> tasks = nb.tasks.gaussian_clusters(3, n_way=5, k_shot=1, n_query=3, dim=16, seed=0)
        >>> tasks.xs.shape, tasks.ys.shape, tasks.xq.shape
        ((3, 5, 16), (3, 5, 5), (3, 15, 16))
        >>> bool(np.allclose(tasks.ys.sum(-1), 0.0))            # centred one-hot targets
        True
    """
    n_tasks, k_shot, n_query, dim = _sizes(n_tasks=n_tasks, k_shot=k_shot, n_query=n_query, dim=dim)
    n_way = validate.integer("n_way", n_way, 2)   # one class: the centred targets e_0 - 1 are all 0
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


# --------------------------------------------------------------- digits (real images)
# The default meta-train / meta-test split of the ten digit classes: disjoint halves, so the
# default 5-way episodes run on both pools.
DIGIT_CLASSES = {"train": (0, 1, 2, 3, 4), "test": (5, 6, 7, 8, 9), "all": tuple(range(10))}
NORMALIZATIONS = ("sphere", "sphere-uncentered", "standardize", "none")
LABELS = ("permuted", "fixed")


@functools.lru_cache(maxsize=None)
def digit_images(normalize: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as ``(images (1797, 64) float64, classes (1797,) int)``, read-only.

    ``normalize`` (one of ``NORMALIZATIONS``): ``"sphere"`` centers the pixels and puts each
    image on the unit sphere, ``"sphere-uncentered"`` only the latter, ``"standardize"`` scales
    each pixel to zero mean and unit variance, ``"none"`` keeps the intensities 0..16.  The data
    ship inside scikit-learn's wheel (no download); imported here, not at module import, so
    ``import ntk_bridge`` stays light.  Cached: each normalization is computed once per process.

    Args:
      normalize: one of ``NORMALIZATIONS``.

    Returns:
      ``(images, classes)``: ``(1797, 64)`` float64 and ``(1797,)`` integer class labels 0..9, both read-only.

    Raises:
      ValueError: when ``normalize`` is not one of ``NORMALIZATIONS``.

    Examples:
      >>> import numpy as np
      >>> from ntk_bridge.tasks import digit_images
      >>> images, classes = digit_images("sphere")
      >>> images.shape, sorted(set(classes.tolist())) == list(range(10)), images.flags.writeable
      ((1797, 64), True, False)
      >>> bool(np.allclose(np.linalg.norm(images, axis=1), 1.0))
      True
    """
    validate.choice("normalize", normalize, NORMALIZATIONS)
    from sklearn.datasets import load_digits

    data = load_digits()
    x = np.asarray(data.data, dtype=np.float64)               # pixel intensities 0..16
    if normalize == "sphere":
        x = x - x.mean(axis=0)
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    elif normalize == "sphere-uncentered":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    elif normalize == "standardize":
        std = x.std(axis=0)
        x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)  # 3 border pixels are always 0: left at 0
    y = np.asarray(data.target, dtype=np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _class_pool(classes) -> tuple[int, ...]:
    if isinstance(classes, str):
        return DIGIT_CLASSES[validate.choice("classes", classes, sorted(DIGIT_CLASSES))]
    pool = validate.integers("classes", classes, 0, 9)
    if len(set(pool)) != len(pool):
        raise ValueError(f"classes must be distinct digits, got {classes!r}")
    return pool


DIGIT_IMAGE = (8, 8, 1)   # scikit-learn's digits: 8x8 pixels, one channel (rows of 64 in pixel order)


def digits(n_tasks: int, n_way: int = 5, k_shot: int = 1, n_query: int = 3, *, classes="train",
           labels: str = "permuted", normalize: str = "sphere", allow_repeats: bool = False,
           exclude: TaskSet | None = None, as_images: bool = False, world_seed: int = 0, seed: int = 0) -> TaskSet:
    """Few-shot ``n_way``-way ``k_shot``-shot episodes from scikit-learn's 8x8 handwritten digits.

    The data: the 1,797 images (10 classes, 174 to 183 images each, all distinct) that
    scikit-learn ships with its wheel (``sklearn.datasets.load_digits``), 64 pixels each:
    a real image set available offline.

    Each task picks ``n_way`` classes of the pool ``classes`` and, per class, ``k_shot``
    support and ``n_query`` query images.  Support and query are ordered like
    ``gaussian_clusters``: output position ``0, 1, ..., n_way - 1``, repeated.  Targets are
    centred one-hot rows, ``e_j - 1 / n_way`` for the class at output position ``j``
    (out_dim ``n_way``; rows sum to 0).

    Class pools: ``classes="train"`` = digits 0-4 (meta-train) and ``"test"`` = 5-9
    (meta-test) are the default split, disjoint halves so that the default 5-way episodes
    fit both; ``"all"`` = 0-9; or an explicit tuple of distinct digits.

    Labels, and what each lets transfer in the kernel regime:

    * ``"permuted"`` (the few-shot convention): each task takes ``n_way`` classes and a
      random class-to-output assignment.  An output position has no fixed meaning, so the
      only thing that transfers from training tasks is an initial function (the trained
      network / meta-learned head), which for a new task's new labelling acts as noise
      the test-time adaptation must undo; kernel regression on the support does the rest.
    * ``"fixed"``: class ``classes[j]`` is always output ``j``; requires ``n_way ==
      len(classes)`` (every task is the whole pool).  Class semantics transfer: a test task
      on the same classes (new images) is helped by the trained function itself.

    Images are never repeated within a task, and (unless ``allow_repeats``) not across the
    tasks of one TaskSet either: one image in two tasks with different one-hot positions
    makes the meta-NTK singular.  Without repeats, classes are drawn balanced: each task
    takes the ``n_way`` classes with the most images left (ties broken at random), so every
    class serves about ``n_tasks * n_way / len(classes)`` tasks, and the request fits
    whenever ``sum_c min(n_tasks, available_c // (k_shot + n_query)) >= n_tasks * n_way``.
    With ``allow_repeats=True`` each task picks its classes and images uniformly at random.

    Normalization (``normalize``):

    * ``"sphere"`` (default): subtract the data set's mean image (over all 1,797 images: a
      fixed, label-free constant of the data), then scale each image to unit norm.  The
      kernels of ``ntk_bridge.kernels`` are analysed on the unit sphere, and centring
      matters: raw pixels are all ``>= 0`` and every digit shares the same central blob,
      so raw images have cosine ~0.67 across classes and ~0.82 within (the kernel barely
      tells classes apart); after subtracting the mean image the cosines are ~0 across and
      ~0.42 within.  Per-image centring (its own mean pixel) leaves the blob (0.46 / 0.71).
      The mean over the meta-train classes only gives nearly the same cosines (-0.03 / 0.43).
    * ``"sphere-uncentered"``: raw images scaled to unit norm (an ablation of the above).
    * ``"standardize"``: per-pixel z-scores over the data set (constant pixels left at 0),
      not projected on the sphere.
    * ``"none"``: raw pixel intensities 0..16.

    Args:
      n_tasks: number of tasks (episodes) ``>= 1``.
      n_way: classes per task, ``>= 2`` (one class has all-zero centred targets).
      k_shot: support images per class ``>= 1``.
      n_query: query images per class ``>= 1``.
      classes: the class pool (see above).
      labels: ``"permuted"`` or ``"fixed"`` (see above).
      normalize: one of ``NORMALIZATIONS`` (see above).
      allow_repeats: allow one image in several tasks of this TaskSet.
      exclude: a TaskSet drawn by this function with the same ``normalize``; its images are
        not drawn (so training and test sets on overlapping pools share no image).
      as_images: the inputs as 8x8x1 images (``image_shape (8, 8, 1)``, for a
        ``ConvSpec``); the same values (every normalization above acts on
        each image as a whole, or per pixel over the data set).
      world_seed: unused (the data set is the world); validated so every family takes it.
      seed: draws the episodes: the same arguments and seed give the identical TaskSet.
    Returns:
      ``TaskSet`` ``xs (n_tasks, n_way*k_shot, 64)``, ``ys (n_tasks, n_way*k_shot,
      n_way)``, ``xq (n_tasks, n_way*n_query, 64)``, ``yq (n_tasks, n_way*n_query, n_way)``.
    Raises:
      ValueError: naming the argument, for bad values; for a pool with too few classes
        (``n_way``) or images (``n_tasks``, ``k_shot + n_query``), saying how many are available.

    Examples:
        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> train = nb.tasks.digits(4, n_way=2, k_shot=3, n_query=2, seed=0)
        >>> train.xs.shape, train.ys.shape, train.xq.shape
        ((4, 6, 64), (4, 6, 2), (4, 4, 64))
        >>> bool(np.allclose(np.linalg.norm(train.xs, axis=-1), 1.0))     # "sphere": unit-norm images
        True
        >>> nb.tasks.digits(2, n_way=2, k_shot=1, n_query=1, as_images=True, seed=0).images().shape
        (2, 2, 8, 8, 1)
    """
    n_tasks, k_shot, n_query = _sizes(n_tasks=n_tasks, k_shot=k_shot, n_query=n_query)
    n_way = validate.integer("n_way", n_way, 2)   # one class: the centred targets e_0 - 1 are all 0
    pool = _class_pool(classes)
    labels = validate.choice("labels", labels, LABELS)
    normalize = validate.choice("normalize", normalize, NORMALIZATIONS)
    allow_repeats = validate.flag("allow_repeats", allow_repeats)
    as_images = validate.flag("as_images", as_images)
    world_seed, seed = _seeds(world_seed, seed)
    del world_seed
    if n_way > len(pool):
        raise ValueError(f"n_way must be <= the {len(pool)} classes of the pool {pool}, got {n_way}")
    if labels == "fixed" and n_way != len(pool):
        raise ValueError(f"n_way must equal the number of classes ({len(pool)}, {pool}) with labels='fixed' "
                         f"(each class has its own output), got {n_way}")
    x, y = digit_images(normalize)
    available = np.ones(len(x), dtype=bool)
    if exclude is not None:
        validate.instance("exclude", exclude, TaskSet)
        index = {row.tobytes(): i for i, row in enumerate(x)}
        rows = exclude.merged()[0].reshape(-1, exclude.dim)
        hits = [index.get(r.tobytes()) for r in rows] if exclude.dim == x.shape[1] else [None]
        if any(h is None for h in hits):
            raise ValueError(f"exclude holds points that are not digits images under normalize={normalize!r}: "
                             f"pass a TaskSet drawn by tasks.digits with the same normalize")
        available[hits] = False
    members = {c: np.flatnonzero((y == c) & available) for c in pool}
    per_class = k_shot + n_query
    counts = {c: members[c].size for c in pool}
    if sum(n >= per_class for n in counts.values()) < n_way:
        raise ValueError(f"k_shot + n_query = {per_class} images per class is more than the pool has for "
                         f"{n_way} classes: available images per class {counts}")
    rng = np.random.default_rng([seed, 6])
    chosen = np.empty((n_tasks, n_way), dtype=np.int64)       # class at each output position
    images = np.empty((n_tasks, n_way, per_class), dtype=np.int64)
    if allow_repeats:
        usable = np.array([c for c in pool if counts[c] >= per_class])
        for t in range(n_tasks):
            chosen[t] = pool if labels == "fixed" else rng.choice(usable, n_way, replace=False)
            for j, c in enumerate(chosen[t]):
                images[t, j] = rng.choice(members[c], per_class, replace=False)
    else:
        slots = {c: min(n_tasks, counts[c] // per_class) for c in pool}   # tasks each class can serve
        if sum(slots.values()) < n_tasks * n_way:
            raise ValueError(
                f"n_tasks = {n_tasks} is too many without repeated images: each task takes {per_class} images "
                f"(k_shot + n_query) of each of its {n_way} classes, and the pool has {counts} images per class, "
                f"enough for at most {_max_tasks(list(counts.values()), n_way, per_class)} tasks; draw fewer "
                f"tasks or images, widen classes, or pass allow_repeats=True")
        order = {c: rng.permutation(members[c]) for c in pool}
        used = dict.fromkeys(pool, 0)
        for t in range(n_tasks):
            if labels == "fixed":
                chosen[t] = pool
            else:
                # the n_way classes with the most tasks left to serve, ties at random: never runs dry
                cand = rng.permutation(np.array(pool))
                left = np.array([slots[c] - used[c] for c in cand])
                chosen[t] = rng.permutation(cand[np.argsort(-left, kind="stable")[:n_way]])
            for j, c in enumerate(chosen[t]):
                images[t, j] = order[c][used[c] * per_class:(used[c] + 1) * per_class]
                used[c] += 1

    def split(part):                                          # (N, way, m) -> points ordered like clusters
        idx = part.transpose(0, 2, 1).reshape(n_tasks, -1)
        pos = np.tile(np.arange(n_way), part.shape[2])
        return x[idx], np.broadcast_to(np.eye(n_way)[pos] - 1.0 / n_way, idx.shape + (n_way,))
    xs, ys = split(images[:, :, :k_shot])
    xq, yq = split(images[:, :, k_shot:])
    return TaskSet(xs, ys, xq, yq, DIGIT_IMAGE if as_images else None)


def _max_tasks(counts: list[int], n_way: int, per_class: int) -> int:
    """The most tasks a pool with ``counts`` images per class serves without repeats."""
    n = 0
    while sum(min(n + 1, c // per_class) for c in counts) >= (n + 1) * n_way:
        n += 1
    return n


FAMILIES: dict[str, Callable[..., TaskSet]] = {
    "shared-feature": shared_feature,
    "sinusoid": sinusoid,
    "clusters": gaussian_clusters,
    "digits": digits,
}
# Families whose targets are centred one-hot rows (scored by accuracy; sizes are per class).
CLASSIFICATION = frozenset({"clusters", "digits"})


def make(family: str, n_tasks: int, **kwargs) -> TaskSet:
    """Draw ``n_tasks`` tasks from the family named ``family`` (a key of ``FAMILIES``).

    ``make(family, n_tasks, **kwargs)`` is ``FAMILIES[family](n_tasks, **kwargs)``: the experiments
    name their family in their configuration.

    Args:
      family: ``"shared-feature"``, ``"sinusoid"``, ``"clusters"`` or ``"digits"``.
      n_tasks: number of tasks, passed on.
      **kwargs: the family's keyword arguments (sizes, seeds, ...).

    Returns:
      ``TaskSet``: what the family function returns.

    Raises:
      ValueError: when ``family`` is not a key of ``FAMILIES``, or the family rejects an argument.

    Examples:
        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> tasks = nb.tasks.make("sinusoid", 3, n_support=2, n_query=4, seed=1)
        >>> tasks.xs.shape, tasks.yq.shape
        ((3, 2, 2), (3, 4, 1))
        >>> bool(np.array_equal(tasks.yq, nb.tasks.sinusoid(3, 2, 4, seed=1).yq))
        True
        >>> sorted(nb.tasks.FAMILIES)
        ['clusters', 'digits', 'shared-feature', 'sinusoid']
    """
    validate.choice("family", family, sorted(FAMILIES))
    return FAMILIES[family](n_tasks, **kwargs)
