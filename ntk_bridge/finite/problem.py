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
    name without a split trains on ``"disjoint"``.

    Args:
      method: a ``Method`` or a name (``methods.NAMES``, GBML names with ``-same``/``-disjoint``, any with
        ``+fresh``).
      split: ``"disjoint"`` or ``"same"``, or ``None`` (the name's); checked for every kind (MTL ignores it).
      test_head: ``"trained"`` or ``"fresh"``, or ``None`` (the name's).

    Returns:
      The ``methods.Method``.

    Raises:
      ValueError: naming ``method``, ``split`` or ``test_head`` when it is not one of its choices.

    Examples:
      >>> from ntk_bridge.finite import resolve
      >>> resolve("anil", split="same").label, resolve("mtl-shared+fresh").test_head
      ('anil-same', 'fresh')
      >>> resolve("mtl-shared", split="sideways")
      Traceback (most recent call last):
      ...
      ValueError: split must be one of ('disjoint', 'same'), got 'sideways'
    """
    if split is not None:  # checked for every kind: MTL ignores the split, but a typo is still a typo
        validate.choice("split", split, methods.SPLITS)
    return methods.parse(method, split=split, test_head=test_head)


@dataclasses.dataclass(frozen=True)
class Problem:
    """Static (hashable) description of one training problem, a ``jit`` static argument.

    Built by ``problem``; ``for_test()`` is the same inner loop at test time (``outputs="meta"``,
    not first order); ``mtl`` and ``head_only`` are ``outputs == "mtl"`` and ``inner == "head"``.

    Attributes:
      spec: the architecture of the trained net (``MLPSpec``, or a ``ConvSpec`` bound to the tasks).
      outputs: what the outer loss compares with the targets: ``"mtl"`` (task ``i``'s head on ``D_i``),
        ``"meta"`` (GBML meta-outputs) or ``"none"`` (no transfer: nothing is trained).
      inner: ``"head"`` (ANIL in training; MTL and ANIL at test time) or ``"all"`` (MAML, FOMAML).
      first_order: the inner update is a constant of the outer gradient (FOMAML).
      inner_lr: the step of one inner GD step (flow: ``adapt.lr / flow_substeps``).
      inner_steps: the number of inner steps (flow: ``adapt.steps * flow_substeps``).

    Examples:
      >>> import ntk_bridge as nb
      >>> cfg = nb.finite.problem(nb.MLPSpec(depth=1, width=8), "fomaml", nb.Adaptation(lr=0.1, steps=3))
      >>> cfg.outputs, cfg.inner, cfg.first_order, cfg.inner_lr, cfg.inner_steps
      ('meta', 'all', True, 0.1, 3)
      >>> cfg.for_test().outputs, cfg.for_test().first_order
      ('meta', False)
      >>> {cfg: 1}[nb.finite.problem(cfg.spec, "fomaml", nb.Adaptation(lr=0.1, steps=3))]    # hashable, by value
      1
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

    Args:
      spec: the architecture.
      method: a ``Method`` or a name (``resolve``); the split and test head do not enter the ``Problem``.
      adapt: the inner loop (``Adaptation``).
      flow_substeps: inner steps per step of ``adapt`` when ``adapt.flow`` (ignored otherwise).

    Returns:
      The ``Problem``: ``outputs`` ``"mtl"``/``"meta"``/``"none"`` for MTL/GBML/no transfer, ``inner``
      and ``first_order`` from the method, ``inner_lr`` and ``inner_steps`` as above.

    Raises:
      ValueError: an unknown method name (``resolve``).

    Examples:
      Gradient flow for time ``0.1 * 3`` becomes 60 steps of ``0.1 / 20``:

      >>> import ntk_bridge as nb
      >>> cfg = nb.finite.problem(nb.MLPSpec(depth=1, width=8), "anil", nb.Adaptation(lr=0.1, steps=3, flow=True))
      >>> cfg.outputs, cfg.inner, cfg.inner_lr, cfg.inner_steps
      ('meta', 'head', 0.005, 60)
      >>> nb.finite.problem(cfg.spec, "mtl-shared", nb.Adaptation()).outputs
      'mtl'
    """
    m = resolve(method)
    sub = flow_substeps if adapt.flow else 1
    outputs = {"mtl": "mtl", "gbml": "meta", "none": "none"}[m.kind]
    return Problem(spec, outputs, m.inner, m.first_order, float(adapt.lr) / sub, int(adapt.steps) * sub)
