"""The predictors of a spec's infinite-width kernels (theory.md §7's public contract): an ``MLPSpec``,
or a ``ConvSpec`` on image tasks (theory.md §11)."""
from __future__ import annotations

import numpy as np

from .. import validate
from ..kernels import Kernels, kernels
from ..spec import ConvSpec, MLPSpec
from ..tasks import TaskSet
from .inner_loop import Adaptation
from .kernel_blocks import KernelFn
from .meta_learning import gbml_from_kernels
from .multi_task import mtl_from_kernels, no_transfer_from_kernels


def check_spec(spec) -> None:
    """``ValueError`` unless ``spec`` is an ``MLPSpec`` or a ``ConvSpec``."""
    if not isinstance(spec, (MLPSpec, ConvSpec)):
        raise ValueError(f"spec must be an MLPSpec or a ConvSpec, got {type(spec).__name__}")


def bound(spec, tasks: TaskSet):
    """``spec`` reading ``tasks``' inputs: a ``ConvSpec`` without ``image_shape`` takes the tasks' (their
    rows are flat images); ``ValueError`` if a ConvSpec meets tasks that hold no images, or other images."""
    check_spec(spec)
    if not isinstance(spec, ConvSpec):
        return spec
    if tasks.image_shape is None and spec.image_shape is None:
        raise ValueError("a ConvSpec needs image inputs: these tasks hold vectors (image_shape None); draw image tasks "
                         "(e.g. tasks.digits(..., as_images=True)) or set ConvSpec.image_shape")
    if spec.image_shape is None:
        return spec.replace(image_shape=tasks.image_shape)
    if tasks.image_shape not in (None, spec.image_shape):
        raise ValueError(f"ConvSpec.image_shape is {spec.image_shape}, the tasks hold images of {tasks.image_shape}")
    return spec


def analytic(spec, backend: str = "native") -> KernelFn:
    """The infinite-width kernel function of ``spec`` (``MLPSpec`` or ``ConvSpec``, which reads flat
    rows through its ``image_shape``: ``bound``): ``(x1, x2=None) -> Kernels``.

    Args:
      spec: the net.
      backend: ``"native"`` (NumPy, the default) or ``"nt"`` (neural-tangents, the ``nt`` extra).

    Returns:
      ``kernel_fn(x1 (n1, d), x2 (n2, d) = None) -> Kernels(theta (n1, n2), sigma (n1, n2))``, float64.

    Raises:
      ValueError: ``spec`` is neither an MLPSpec nor a ConvSpec.

    Examples:
        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> kernel_fn = nb.predict.analytic(nb.MLPSpec(depth=3))
        >>> x = np.eye(4)
        >>> k = kernel_fn(x)
        >>> k.theta.shape, k.sigma.shape
        ((4, 4), (4, 4))

        With ``w_std = sqrt(2)``, ``b_std = 0`` the head owns ``1/(L+1)`` of the NTK's diagonal (theory.md §1):

        >>> bool(np.allclose(np.diag(k.theta), 4 * np.diag(k.sigma)))
        True
    """
    check_spec(spec)

    def kernel_fn(x1, x2=None) -> Kernels:
        return kernels(spec, x1, x2, backend=backend)

    return kernel_fn


def check_out_dim(spec, tasks: TaskSet, name: str):
    """``spec`` bound to ``tasks`` (``bound``); ``ValueError`` unless ``tasks`` (called ``name``) is a
    ``TaskSet`` with ``spec``'s ``out_dim``."""
    check_spec(spec)
    validate.instance(name, tasks, TaskSet)
    if tasks.out_dim != spec.out_dim:
        raise ValueError(f"{name}.ys has out_dim {tasks.out_dim}, spec.out_dim is {spec.out_dim}")
    return bound(spec, tasks)


def gbml(spec, train: TaskSet, test: TaskSet, *, algo: str = "anil", adapt: Adaptation = Adaptation(),
         split: str = "disjoint", ridge: float = 0.0, t=None, backend: str = "native", device: str = "numpy",
         return_info: bool = False):
    """Infinite-width GBML predictions of ``spec``'s analytic kernels: ``gbml_from_kernels(analytic(spec), ...)``.

    Meta-training to time ``t`` on the meta-NTK ``Phi`` (theory.md §3), then each test task's inner loop:
    ANIL adapts the head (kernel ``Sigma``), MAML and FOMAML every parameter (``Theta``).

    Args:
      spec: ``MLPSpec`` (or ``ConvSpec`` on image tasks) whose ``out_dim`` is the tasks'.
      train: the training ``TaskSet``.
      test: the test ``TaskSet``, of ``train``'s input and output dims.
      algo: ``"anil" | "maml" | "fomaml"``.
      adapt: the inner loop.
      split: ``"disjoint"`` (inner loop on the support, outer loss on the query) or ``"same"`` (both on
        every point: the theorem's setting, theory.md §6).
      ridge: ``>= 0``, added to the diagonal of the meta-NTK.
      t: outer training time: ``None`` (to convergence), a number ``>= 0``, or a sequence of them
        (then ``(len(t), test tasks, query, out_dim)``).
      backend: the kernels', as for ``analytic``: ``"native"`` or ``"nt"``.
      device: where the outer solve runs: ``"numpy"``, ``"cpu"`` or ``"gpu"``.
      return_info: also return ``{"cond", "n_outer", "train_tasks"}``.

    Returns:
      ``(test tasks, query, out_dim)`` float64 (and ``info`` with ``return_info``).

    Raises:
      NotComputable: see ``gbml_predictor``.
      ValueError: naming the bad argument, e.g. ``train.ys has out_dim 1, spec.out_dim is 3``.

    Examples:
        >>> import ntk_bridge as nb
        >>> train = nb.tasks.sinusoid(4, 3, 5, seed=0)
        >>> test = nb.tasks.sinusoid(2, 3, 5, seed=1)
        >>> pred = nb.predict.gbml(nb.MLPSpec(depth=2), train, test, algo="maml", adapt=nb.Adaptation(lr=0.05))
        >>> pred.shape
        (2, 5, 1)
    """
    spec = check_out_dim(spec, train, "train")
    return gbml_from_kernels(analytic(spec, backend), train, test, algo=algo, adapt=adapt, split=split,
                             ridge=ridge, t=t, device=device, return_info=return_info)


def mtl(spec, train: TaskSet, test: TaskSet, *, heads: str = "shared", adapt: Adaptation = Adaptation(),
        ridge: float = 0.0, t=None, backend: str = "native", device: str = "numpy", return_info: bool = False):
    """Infinite-width MTL predictions of ``spec``'s analytic kernels: ``mtl_from_kernels(analytic(spec), ...)``.

    A shared body and one head per training task trained on every point of every training task
    (theory.md §4); on a test task the trained body with the common initial head, then the head's
    inner loop.

    Args:
      spec: as for ``gbml``.
      train: the training ``TaskSet``.
      test: the test ``TaskSet``, of ``train``'s input and output dims.
      heads: ``"shared"`` (every head starts at one ``w0``) or ``"independent"`` (then the prediction
        is no transfer's: a fresh head cannot see what the body learned, at infinite width).
      adapt: the test-time inner loop of the head.
      ridge: ``>= 0``, added to the diagonal of the MTL kernel.
      t: training time, as for ``gbml``.
      backend: as for ``gbml``.
      device: as for ``gbml``.
      return_info: as for ``gbml`` (``n_outer``: every training point).

    Returns:
      ``(test tasks, query, out_dim)`` float64 (and ``info`` with ``return_info``).

    Raises:
      NotComputable: see ``mtl_predictor``.
      ValueError: naming the bad argument.

    Examples:
        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> spec, adapt = nb.MLPSpec(depth=2), nb.Adaptation(lr=0.1, steps=5)
        >>> train = nb.tasks.shared_feature(4, 3, 4, dim=4, seed=0)
        >>> test = nb.tasks.shared_feature(2, 3, 4, dim=4, seed=1)
        >>> nb.predict.mtl(spec, train, test, adapt=adapt).shape
        (2, 4, 1)
        >>> independent = nb.predict.mtl(spec, train, test, heads="independent", adapt=adapt)
        >>> bool(np.allclose(independent, nb.predict.no_transfer(spec, test, adapt=adapt)))
        True
    """
    spec = check_out_dim(spec, train, "train")
    return mtl_from_kernels(analytic(spec, backend), train, test, heads=heads, adapt=adapt, ridge=ridge, t=t,
                            device=device, return_info=return_info)


def no_transfer(spec, test: TaskSet, *, adapt: Adaptation = Adaptation(), inner: str = "head",
                backend: str = "native", device: str = "numpy") -> np.ndarray:
    """Infinite-width no-transfer baseline of ``spec``: each test task's inner loop from the zero function.

    ``f(X') = K(X', X) K^{-1} (I - (I - lr K)^s) Y`` per test task (theory.md §2), with ``K = Sigma``
    (``inner="head"``) or ``Theta`` (``inner="all"``).

    Args:
      spec: as for ``gbml``.
      test: ``TaskSet``.
      adapt: the inner loop.
      inner: ``"head"`` or ``"all"``: which parameters the inner loop adapts.
      backend: as for ``gbml``.
      device: as for ``gbml``.

    Returns:
      ``(test tasks, query, out_dim)`` float64.

    Raises:
      NotComputable: the inner loop diverges (``lr * lambda_max(K) > 2``).
      ValueError: naming the bad argument.

    Examples:
        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> spec, adapt = nb.MLPSpec(depth=1), nb.Adaptation(lr=0.2, steps=3)
        >>> test = nb.tasks.shared_feature(1, 3, 2, dim=4, seed=0)
        >>> sigma = nb.kernels.kernels(spec, test.xs[0]).sigma
        >>> sigma_qs = nb.kernels.kernels(spec, test.xq[0], test.xs[0]).sigma
        >>> gain = np.eye(3) - np.linalg.matrix_power(np.eye(3) - 0.2 * sigma, 3)
        >>> by_hand = sigma_qs @ np.linalg.solve(sigma, gain @ test.ys[0])
        >>> bool(np.allclose(nb.predict.no_transfer(spec, test, adapt=adapt)[0], by_hand))
        True
    """
    spec = check_out_dim(spec, test, "test")
    return no_transfer_from_kernels(analytic(spec, backend), test, adapt=adapt, inner=inner, device=device)
