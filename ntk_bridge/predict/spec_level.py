"""The predictors of an :class:`MLPSpec`'s infinite-width kernels (theory.md §7's public contract)."""
from __future__ import annotations

import numpy as np

from .. import validate
from ..kernels import Kernels, kernels
from ..spec import MLPSpec
from ..tasks import TaskSet
from .inner_loop import Adaptation
from .kernel_blocks import KernelFn
from .meta_learning import gbml_from_kernels
from .multi_task import mtl_from_kernels, no_transfer_from_kernels


def analytic(spec: MLPSpec, backend: str = "native") -> KernelFn:
    """The infinite-width kernel function of ``spec``: ``(x1, x2=None) -> Kernels``."""
    validate.instance("spec", spec, MLPSpec)

    def kernel_fn(x1, x2=None) -> Kernels:
        return kernels(spec, x1, x2, backend=backend)

    return kernel_fn


def check_out_dim(spec: MLPSpec, tasks: TaskSet, name: str) -> None:
    """``ValueError`` unless ``tasks`` (called ``name``) is a :class:`TaskSet` with ``spec``'s ``out_dim``."""
    validate.instance("spec", spec, MLPSpec)
    validate.instance(name, tasks, TaskSet)
    if tasks.out_dim != spec.out_dim:
        raise ValueError(f"{name}.ys has out_dim {tasks.out_dim}, spec.out_dim is {spec.out_dim}")


def gbml(spec: MLPSpec, train: TaskSet, test: TaskSet, *, algo: str = "anil", adapt: Adaptation = Adaptation(),
         split: str = "disjoint", ridge: float = 0.0, t=None, backend: str = "native", device: str = "numpy",
         return_info: bool = False):
    """Infinite-width GBML predictor of ``spec`` (see :func:`gbml_predictor`), ``(tasks, query, out_dim)``."""
    check_out_dim(spec, train, "train")
    return gbml_from_kernels(analytic(spec, backend), train, test, algo=algo, adapt=adapt, split=split,
                             ridge=ridge, t=t, device=device, return_info=return_info)


def mtl(spec: MLPSpec, train: TaskSet, test: TaskSet, *, heads: str = "shared", adapt: Adaptation = Adaptation(),
        ridge: float = 0.0, t=None, backend: str = "native", device: str = "numpy", return_info: bool = False):
    """Infinite-width MTL predictor of ``spec`` (see :func:`mtl_predictor`), ``(tasks, query, out_dim)``."""
    check_out_dim(spec, train, "train")
    return mtl_from_kernels(analytic(spec, backend), train, test, heads=heads, adapt=adapt, ridge=ridge, t=t,
                            device=device, return_info=return_info)


def no_transfer(spec: MLPSpec, test: TaskSet, *, adapt: Adaptation = Adaptation(), inner: str = "head",
                backend: str = "native", device: str = "numpy") -> np.ndarray:
    """Infinite-width no-transfer baseline of ``spec`` (see :func:`no_transfer_from_kernels`)."""
    check_out_dim(spec, test, "test")
    return no_transfer_from_kernels(analytic(spec, backend), test, adapt=adapt, inner=inner, device=device)
