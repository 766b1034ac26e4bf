"""What one finite training run computes: the method resolved into the static ``Problem`` of the engine.

The one dispatch from a ``Method`` to finite training: which outputs
the outer loss compares with the targets (MTL: each task's head on its points; GBML: the
meta-outputs after the inner loop), which parameters the inner loop adapts (head or all),
whether the inner update is differentiated (second order) or not (FOMAML), and what the test
tasks start from.  Everything else in ``ntk_bridge.finite`` reads these fields, never a name.
"""
from __future__ import annotations

import dataclasses

from .. import methods, validate
from ..predict import Adaptation
from ..spec import MLPSpec

METHODS = ("mtl-shared", "mtl-independent", "anil", "maml", "fomaml")  # the trained methods (theory.md §7)
DTYPES = ("float32", "float64")
DEVICES = (None, "cpu", "gpu")


def resolve(method, split: str | None = None, test_head: str | None = None) -> methods.Method:
    """A ``Method`` from a ``Method`` or a name (``"anil"``, ``"anil-same"``, ``"mtl-shared+fresh"``, ...).

    ``split``/``test_head`` override what the name says when given (``methods.parse``); a GBML
    name without a split trains on ``"disjoint"``.  Raises ``ValueError`` naming ``method``.
    """
    if split is not None:  # checked for every kind: MTL ignores the split, but a typo is still a typo
        validate.choice("split", split, methods.SPLITS)
    return methods.parse(method, split=split, test_head=test_head)


@dataclasses.dataclass(frozen=True)
class Problem:
    """Static (hashable) description of one training problem, a ``jit`` static argument.

    ``outputs``: ``"mtl"`` (task ``i``'s head on ``D_i``), ``"meta"`` (GBML meta-outputs) or
    ``"none"`` (no transfer: nothing is trained); ``inner``: ``"head"`` (ANIL in training; MTL
    and ANIL at test time) or ``"all"`` (MAML, FOMAML); ``first_order``: the inner update is a
    constant of the outer gradient (FOMAML); ``inner_lr``/``inner_steps``: per inner step (flow:
    ``adapt.lr / flow_substeps`` and ``adapt.steps * flow_substeps``).
    """

    spec: MLPSpec
    outputs: str
    inner: str
    first_order: bool
    inner_lr: float
    inner_steps: int

    @property
    def mtl(self) -> bool:
        return self.outputs == "mtl"

    @property
    def head_only(self) -> bool:
        return self.inner == "head"

    def for_test(self) -> "Problem":
        """The test-time problem: the same inner loop, differentiated by nobody."""
        return dataclasses.replace(self, outputs="meta", first_order=False)


def problem(spec: MLPSpec, method, adapt: Adaptation, flow_substeps: int = 20) -> Problem:
    """The ``Problem`` of ``method`` (a ``Method`` or a name).

    Flow: ``flow_substeps * steps`` steps of ``lr / flow_substeps``.
    """
    m = resolve(method)
    sub = flow_substeps if adapt.flow else 1
    outputs = {"mtl": "mtl", "gbml": "meta", "none": "none"}[m.kind]
    return Problem(spec, outputs, m.inner, m.first_order, float(adapt.lr) / sub, int(adapt.steps) * sub)
