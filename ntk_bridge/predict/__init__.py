"""Closed-form infinite-width predictors: GBML (MAML, ANIL, first-order MAML), MTL, no transfer.

Every predictor is a function of a kernel function ``kernel_fn(x1, x2=None) -> Kernels``
(``*_from_kernels``, ``*_predictor``) with a thin wrapper taking an ``MLPSpec``
(analytic kernels).  Feeding the empirical kernels of a finite net gives the exact
predictions of its linearization, which is how the tests check the formulas.  Contract:
theory.md §2-4, §6.

Shapes: ``train``/``test`` are ``TaskSet``; predictions are ``(test tasks, query, out_dim)``.
Loss convention: ``0.5 * sum of squared errors`` over a split (not the mean).

Modules, one idea each:

    inner_loop      Adaptation, inner_operator T(K; lr, s)              theory.md §2
    outer_solve     OuterSolve: coef(t) from one factorization          §3-4
    meta_learning   meta_ntk, gbml_predictor, gbml_from_kernels         §3
    multi_task      mtl_predictor, mtl_from_kernels, no_transfer_...    §4, §6
    predictor       Predictor fn(t), Finetune (test-time inner loop)
    kernel_blocks   which kernel blocks are evaluated (each once), input checks
    assembly        outer kernels and test rows assembled tile by tile, in place
    device          device="numpy" (NumPy/SciPy, the default) | "cpu" | "gpu" (JAX, float64)
    progress        stages of a closed form that runs longer than a few seconds, on stderr
    spec_level      analytic, gbml, mtl, no_transfer of an MLPSpec
    method_level    closed_form of a Method (nb.methods)
    predictive      distribution, gap_distribution, uncentered: over initializations  §9

The formulas a closed form is built on are parameters: ``meta_ntk(..., inner_operator=)`` and
``gbml_predictor(..., meta_ntk=)`` (default: the functions here), so a check can run the
predictors on a replaced formula.
"""
from ..methods import ALGOS, HEADS, SPLITS
from .device import DEVICES
from .inner_loop import Adaptation, inner_operator
from .meta_learning import MetaNTK, gbml_from_kernels, gbml_predictor, gbml_sets, meta_ntk
from .method_level import closed_form
from .multi_task import mtl_from_kernels, mtl_predictor, no_transfer_from_kernels
from .outer_solve import MAX_COND, OuterSolve
from .predictive import Distribution, GapDistribution, distribution, gap_distribution, uncentered
from .predictor import INNER, Predictor
from .spec_level import analytic, gbml, mtl, no_transfer

__all__ = ["ALGOS", "Adaptation", "DEVICES", "Distribution", "GapDistribution", "HEADS", "INNER", "MAX_COND",
           "MetaNTK", "OuterSolve", "Predictor", "SPLITS", "analytic", "closed_form", "distribution", "gap_distribution",
           "gbml", "gbml_from_kernels", "gbml_predictor", "gbml_sets", "inner_operator",
           "meta_ntk", "mtl", "mtl_from_kernels", "mtl_predictor", "no_transfer", "no_transfer_from_kernels", "uncentered"]
