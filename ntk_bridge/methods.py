"""One description of a training method, for closed forms, finite training, experiments and reports.

A ``Method`` says *what is trained and how it is used on an unseen task* (theory.md
§3–4, §6); the closed form (``nb.predict.closed_form``) and the finite engine
(``nb.finite.fit_predict(..., method=...)``) both take it, so the two sides can never
describe different methods under one name.

    kind       "mtl" | "gbml" | "none"   (none: the no-transfer baseline, nothing trained)
    algo       GBML: "anil" | "maml" | "fomaml"
    heads      MTL: "shared" | "independent"  (head initialization, theory.md §4)
    split      GBML: "disjoint" | "same"  (theory.md §6; MTL always trains on support ∪ query)
    test_head  "trained" (the project's protocol: ANIL/MAML keep their meta-learned head, MTL
               uses the common initial head with the trained body) | "fresh" (the paper's: a
               fresh random head on the trained body, the same for every method)

Names (``Method.name``, ``parse``): ``"mtl-shared"``, ``"mtl-independent"``, ``"anil"``,
``"maml"``, ``"fomaml"``, ``"no-transfer"``; GBML names take the split as a suffix
(``"anil-same"``) where the split matters, and ``"+fresh"`` marks the fresh test head.
"""
from __future__ import annotations

import dataclasses

from . import validate

KINDS = ("mtl", "gbml", "none")
ALGOS = ("anil", "maml", "fomaml")
HEADS = ("shared", "independent")
SPLITS = ("disjoint", "same")
TEST_HEADS = ("trained", "fresh")
NAMES = ("mtl-shared", "mtl-independent", "anil", "maml", "fomaml", "no-transfer")


@dataclasses.dataclass(frozen=True)
class Method:
    """What is trained (``kind``, ``algo``/``heads``), on which split, and the test-time head.

    Attributes:
      kind: ``"gbml"``, ``"mtl"`` or ``"none"`` (no transfer).
      algo: GBML's ``"anil" | "maml" | "fomaml"`` (``None`` otherwise).
      heads: MTL's ``"shared" | "independent"`` (``None`` otherwise).
      split: GBML's data setting, ``"disjoint"`` or ``"same"`` (theory.md §6).
      test_head: ``"trained"`` (the project's protocol) or ``"fresh"`` (the paper's: a fresh random head).

    Raises:
      ValueError: naming the field, for a value outside its choices or a field of the other kind.

    Examples:
        >>> import ntk_bridge as nb
        >>> m = nb.Method.gbml("anil", split="same")
        >>> m.name, m.display, m == nb.methods.parse("anil-same")
        ('anil', 'ANIL (same)', True)
        >>> nb.Method(kind="mtl", algo="anil", heads="shared")
        Traceback (most recent call last):
        ...
        ValueError: Method.algo is for GBML only, got algo='anil' for MTL
    """

    kind: str = "gbml"
    algo: str | None = "anil"
    heads: str | None = None
    split: str = "disjoint"
    test_head: str = "trained"

    def __post_init__(self):
        validate.choice("Method.kind", self.kind, KINDS)
        validate.choice("Method.split", self.split, SPLITS)
        validate.choice("Method.test_head", self.test_head, TEST_HEADS)
        if self.kind == "gbml":
            validate.choice("Method.algo", self.algo, ALGOS)
            if self.heads is not None:
                raise ValueError(f"Method.heads is for MTL only, got heads={self.heads!r} for GBML")
        elif self.kind == "mtl":
            validate.choice("Method.heads", self.heads, HEADS)
            if self.algo is not None:
                raise ValueError(f"Method.algo is for GBML only, got algo={self.algo!r} for MTL")
        elif self.algo is not None or self.heads is not None:
            raise ValueError("Method(kind='none') (no transfer) takes neither algo nor heads")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def gbml(cls, algo: str = "anil", split: str = "disjoint", test_head: str = "trained") -> "Method":
        return cls("gbml", algo, None, split, test_head)

    @classmethod
    def mtl(cls, heads: str = "shared", test_head: str = "trained") -> "Method":
        return cls("mtl", None, heads, "disjoint", test_head)

    @classmethod
    def none(cls) -> "Method":
        return cls("none", None, None, "disjoint", "trained")

    def replace(self, **changes) -> "Method":
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        """``"mtl-shared" | "mtl-independent" | "anil" | "maml" | "fomaml" | "no-transfer"``."""
        if self.kind == "mtl":
            return f"mtl-{self.heads}"
        return self.algo if self.kind == "gbml" else "no-transfer"

    @property
    def label(self) -> str:
        """The name with the split (GBML) and ``+fresh`` (fresh test head): unique per method."""
        out = self.name + (f"-{self.split}" if self.kind == "gbml" else "")
        return out + ("+fresh" if self.test_head == "fresh" else "")

    @property
    def inner(self) -> str:
        """Which parameters the inner loop adapts at test time: ``"head"`` or ``"all"`` (MAML, FOMAML)."""
        return "all" if self.algo in ("maml", "fomaml") else "head"

    @property
    def first_order(self) -> bool:
        return self.algo == "fomaml"

    @property
    def display(self) -> str:
        """Human-readable name for figures and tables (``"MTL"``, ``"ANIL (same)"``, ...)."""
        base = {"mtl-shared": "MTL", "mtl-independent": "MTL (indep. heads)", "anil": "ANIL", "maml": "MAML",
                "fomaml": "FOMAML", "no-transfer": "no transfer"}[self.name]
        if self.kind == "gbml":
            base += f" ({self.split})"
        return base + (", fresh head" if self.test_head == "fresh" else "")


def parse(method, *, split: str | None = None, test_head: str | None = None) -> Method:
    """A ``Method`` from itself or a name (``"anil"``, ``"anil-same"``, ``"mtl-shared+fresh"``, ...).

    ``split``/``test_head``, when given, override what the name says (a plain GBML name
    defaults to ``"disjoint"``).

    Args:
      method: a ``Method`` (returned as it is unless overridden) or a name: one of ``NAMES``, a GBML name
        with a ``-same``/``-disjoint`` suffix, any of them ending in ``+fresh`` (the fresh test head).
      split: ``"disjoint"`` or ``"same"``, overriding the name's split (checked for every kind; MTL and no
        transfer have no split and keep theirs).
      test_head: ``"trained"`` or ``"fresh"``, overriding the name's test head.

    Returns:
      The ``Method``.

    Raises:
      ValueError: when ``method`` is neither a Method nor one of ``NAMES`` (with an optional split and
        ``+fresh``), or ``test_head`` or ``split`` is not one of its choices.

    Examples:
        >>> import ntk_bridge as nb
        >>> nb.methods.parse("mtl-shared+fresh")
        Method(kind='mtl', algo=None, heads='shared', split='disjoint', test_head='fresh')
        >>> nb.methods.parse("maml", split="same").split
        'same'
    """
    if isinstance(method, Method):
        m = method
    else:
        if not isinstance(method, str):
            raise ValueError(f"method must be a Method or one of {NAMES} (GBML names may end in "
                             f"'-same'/'-disjoint', any name in '+fresh'), got {method!r}")
        name, fresh = (method[:-len("+fresh")], True) if method.endswith("+fresh") else (method, False)
        name_split = None
        for s in SPLITS:
            if name.endswith(f"-{s}") and name[:-len(s) - 1] in ALGOS:
                name, name_split = name[:-len(s) - 1], s
        if name not in NAMES:
            raise ValueError(f"method must be a Method or one of {NAMES} (GBML names may end in "
                             f"'-same'/'-disjoint', any name in '+fresh'), got {method!r}")
        th = "fresh" if fresh else "trained"
        if name.startswith("mtl-"):
            m = Method.mtl(name[len("mtl-"):], test_head=th)
        elif name == "no-transfer":
            m = Method.none().replace(test_head=th)
        else:
            m = Method.gbml(name, name_split or "disjoint", th)
    if split is not None:
        split = validate.choice("split", split, SPLITS)
        if m.kind == "gbml":
            m = m.replace(split=split)
    if test_head is not None:
        m = m.replace(test_head=validate.choice("test_head", test_head, TEST_HEADS))
    return m

