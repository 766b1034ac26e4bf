"""The predictors of a spec's infinite-width kernels (theory.md §7's public contract): an :class:`MLPSpec`,
or a :class:`ConvSpec` on image tasks (theory.md §11)."""
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
    """``ValueError`` unless ``spec`` is an :class:`MLPSpec` or a :class:`ConvSpec`."""
    if not isinstance(spec, (MLPSpec, ConvSpec)):
        raise ValueError(f"spec must be an MLPSpec or a ConvSpec, got {type(spec).__name__}")


def bound(spec, tasks: TaskSet):
    """``spec`` reading ``tasks``' inputs: a :class:`ConvSpec` without ``image_shape`` takes the tasks' (their
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
    """The infinite-width kernel function of ``spec`` (:class:`MLPSpec` or :class:`ConvSpec`, which reads flat
    rows through its ``image_shape``: :func:`bound`): ``(x1, x2=None) -> Kernels``."""
    check_spec(spec)

    def kernel_fn(x1, x2=None) -> Kernels:
        return kernels(spec, x1, x2, backend=backend)

    return kernel_fn


def check_out_dim(spec, tasks: TaskSet, name: str):
    """``spec`` bound to ``tasks`` (:func:`bound`); ``ValueError`` unless ``tasks`` (called ``name``) is a
    :class:`TaskSet` with ``spec``'s ``out_dim``."""
    check_spec(spec)
    validate.instance(name, tasks, TaskSet)
    if tasks.out_dim != spec.out_dim:
        raise ValueError(f"{name}.ys has out_dim {tasks.out_dim}, spec.out_dim is {spec.out_dim}")
    return bound(spec, tasks)


def gbml(spec, train: TaskSet, test: TaskSet, *, algo: str = "anil", adapt: Adaptation = Adaptation(),
         split: str = "disjoint", ridge: float = 0.0, t=None, backend: str = "native", device: str = "numpy",
         return_info: bool = False):
    """Infinite-width GBML predictor of ``spec`` (see :func:`gbml_predictor`), ``(tasks, query, out_dim)``."""
    spec = check_out_dim(spec, train, "train")
    return gbml_from_kernels(analytic(spec, backend), train, test, algo=algo, adapt=adapt, split=split,
                             ridge=ridge, t=t, device=device, return_info=return_info)


def mtl(spec, train: TaskSet, test: TaskSet, *, heads: str = "shared", adapt: Adaptation = Adaptation(),
        ridge: float = 0.0, t=None, backend: str = "native", device: str = "numpy", return_info: bool = False):
    """Infinite-width MTL predictor of ``spec`` (see :func:`mtl_predictor`), ``(tasks, query, out_dim)``."""
    spec = check_out_dim(spec, train, "train")
    return mtl_from_kernels(analytic(spec, backend), train, test, heads=heads, adapt=adapt, ridge=ridge, t=t,
                            device=device, return_info=return_info)


def no_transfer(spec, test: TaskSet, *, adapt: Adaptation = Adaptation(), inner: str = "head",
                backend: str = "native", device: str = "numpy") -> np.ndarray:
    """Infinite-width no-transfer baseline of ``spec`` (see :func:`no_transfer_from_kernels`)."""
    spec = check_out_dim(spec, test, "test")
    return no_transfer_from_kernels(analytic(spec, backend), test, adapt=adapt, inner=inner, device=device)
