"""A trained net's error to its closed form, split into kernel fluctuation and training drift (theory.md §8).

For one initialization ``p0`` (seed) of a finite net, three predictions on the test queries:

* ``trained``: the centered net actually trained (``fit_predict``);
* ``linearized``: the same net linearized at ``p0`` and trained to convergence, computed
  exactly as the closed form fed the net's **empirical** kernels at ``p0``
  (``predict.closed_form(method, empirical kernel_fn, ...)``);
* ``closed``: the infinite-width closed form (analytic kernels).

Then, with ``rel(a, b) = ||a - b|| / ||b||``::

    err         = rel(trained, closed)       what a trained net misses of the theory
    fluctuation = rel(linearized, closed)    the kernel's finite-width fluctuation at init
    drift       = rel(trained, linearized)   the net leaving its linearization during training

(``||trained - closed|| <= ||linearized - closed|| + ||trained - linearized||``.)  The
linearized prediction is defined for the project's protocol (``test_head="trained"``) with
shared-init heads: a fresh test head, or MTL's independent heads, read the trained body
through a cross-head kernel the closed forms do not take, and get ``None`` there.  Under a
fresh head the error splits instead into the *untrained* net's test-time loop against the
closed form (``fluctuation``; the closed form is no transfer there) and what of the body's
training the fresh head sees (``seen``, zero at infinite width): ``decompose``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import metrics
from ..errors import NotComputable
from ..kernels import empirical
from ..methods import TEST_HEADS, parse
from ..precision import x64
from ..predict import Adaptation, analytic, closed_form
from ..predict.spec_level import bound
from ..spec import MLPSpec
from ..tasks import TaskSet
from .initial import prepare
from .problem import resolve


def initial_params(spec: MLPSpec, train: TaskSet, test: TaskSet, *, method="anil", split=None, seed: int = 0):
    """The engine's initial net of ``seed`` with the head the test tasks start from, ``{"body", "head"}``, float64.

    The very ``p0`` ``fit_predict`` trains (``initial.prepare``'s draw), so the
    empirical kernels below are those of the nets the engine trains.
    """
    m = resolve(method, split)
    with x64():
        prep = prepare(spec, train, test, method=m, seed=seed, dtype="float64")
        return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), prep.test_base)


def empirical_kernel_fn(spec: MLPSpec, params):
    """``kernel_fn(x1, x2=None) -> Kernels`` of the finite net ``params`` (float64, ``nb.kernels.empirical``)."""
    def kernel_fn(x1, x2=None):
        with x64():  # without it JAX computes the float64 params in float32
            return empirical(spec, params, x1, x2)
    return kernel_fn


def linearized_predict(spec: MLPSpec, train: TaskSet, test: TaskSet, *, method="anil",
                       adapt: Adaptation = Adaptation(), split: str | None = None, seed: int = 0,
                       ridge: float = 0.0) -> np.ndarray:
    """The prediction of the net of ``seed`` linearized at init and trained to convergence, ``(tasks, query, k)``.

    Exactly ``predict.closed_form(method, kernel_fn)`` with the empirical kernels of the engine's
    initial net (``initial_params``); centered, so it starts from the zero function.

    Args:
      spec: the architecture of the finite net.
      train: the training tasks.
      test: the test tasks.
      method: a ``Method`` or a name (``resolve``) with the trained test head and shared-init heads.
      adapt: the inner loop (``Adaptation``).
      split: GBML's ``"disjoint"``/``"same"``, overriding the method's.
      seed: the initialization (the very ``p0`` ``fit_predict`` trains for this seed).
      ridge: added to the diagonal of the outer kernel (``predict.closed_form``).

    Returns:
      ``(test tasks, query, out_dim)`` float64.

    Raises:
      ValueError: a fresh test head or MTL's independent heads (no closed form in the net's own kernels).
      NotComputable: as ``predict.closed_form`` (a diverging inner loop, an ill-conditioned outer kernel).

    Examples:
      A wide net's linearization is near the infinite-width closed form (its kernel fluctuates ``O(n^-1/2)``):

      >>> import ntk_bridge as nb
      >>> train = nb.tasks.shared_feature(3, 3, 3, dim=3, seed=0)
      >>> test = nb.tasks.shared_feature(2, 3, 3, dim=3, seed=1)
      >>> adapt = nb.Adaptation(lr=0.1, steps=2)
      >>> lin = nb.finite.linearized_predict(nb.MLPSpec(depth=1, width=1024), train, test, method="mtl-shared",
      ...                                    adapt=adapt)
      >>> closed = nb.predict.closed_form("mtl-shared", nb.predict.analytic(nb.MLPSpec(depth=1)), train, test,
      ...                                 adapt=adapt)
      >>> lin.shape, bool(nb.metrics.rel_gap(lin, closed) < 0.2)
      ((2, 3, 1), True)
      >>> nb.finite.linearized_predict(nb.MLPSpec(depth=1, width=16), train, test, method="anil+fresh")
      Traceback (most recent call last):
      ...
      ValueError: linearized_predict: anil-disjoint+fresh reads the trained body through a fresh head ...
    """
    m = resolve(method, split)
    if m.test_head == "fresh" or m.heads == "independent":
        raise ValueError(f"linearized_predict: {m.label} reads the trained body through a fresh head (a "
                         f"cross-head kernel); only test_head='trained' with shared-init heads is supported")
    spec = bound(spec, train)
    p0 = initial_params(spec, train, test, method=m, seed=seed)
    return np.asarray(closed_form(m, empirical_kernel_fn(spec, p0), train, test, adapt=adapt, ridge=ridge),
                      dtype=np.float64)


def decompose(spec: MLPSpec, train: TaskSet, test: TaskSet, *, method="anil", adapt: Adaptation = Adaptation(),
              split: str | None = None, test_head: str | None = None, seed: int = 0, closed=None,
              both_heads: bool = False, **fit_kw) -> dict:
    """Train the net of ``seed`` and split its error to the closed form into its parts.

    Under the trained test head (the project's protocol): ``err = rel(trained, closed)``, ``fluctuation =
    rel(linearized, closed)`` and ``drift = rel(trained, linearized)`` (module docstring).
    ``fit_kw``: further ``fit_predict`` options (``outer_steps``, ``tol``, ``dtype``, ...; not ``return_info``).

    Under a fresh test head (theory.md §6) the parts are ``fluctuation = rel(untrained, closed)``, the
    untrained net's test-time loop (the closed form on the net's empirical kernels with the fresh head:
    no transfer) against its infinite-width mean, and ``seen = ||trained - untrained|| / ||closed||``, how
    much of the body's training the fresh head sees (zero at infinite width; normalized by the closed
    form so that ``err <= fluctuation + seen``); ``drift`` is ``None`` there.

    ``both_heads``: one training read under both protocols (``fit_predict(both_heads=True)``):
    ``{"info", "trained": {...}, "fresh": {...}}``, each part as above without ``info`` (``None`` where the
    protocol's test-time loop was not computable; ``info["prediction_errors"]`` says why); ``closed`` is then
    ``{"trained": ..., "fresh": ...}`` or ``None``.

    Args:
      spec: the architecture of the finite net.
      train: the training tasks.
      test: the test tasks.
      method: a ``Method`` or a name (``resolve``).
      adapt: the inner loop (``Adaptation``).
      split: GBML's ``"disjoint"``/``"same"``, overriding the method's.
      test_head: ``"trained"``/``"fresh"``, overriding the method's.
      seed: the initialization of the trained net (and of its linearization).
      closed: the infinite-width prediction ``(tasks, query, k)`` if already computed (with ``both_heads``: a
        dict per test head); ``None``: the analytic closed form.
      both_heads: read the one trained net under both test-time protocols (above).

    Returns:
      A dict: ``"trained"``, ``"linearized"``, ``"untrained"`` and ``"closed"`` predictions ``(tasks, query,
      k)`` float64 (``linearized`` under the trained head, ``untrained`` under a fresh one, else ``None``;
      MTL's independent heads get neither), the floats ``"err"``, ``"fluctuation"``, ``"drift"`` (trained
      head) and ``"seen"`` (fresh head), ``None`` where undefined, and ``"info"`` (``fit_predict``'s); with
      ``both_heads``, ``{"info", "trained": {...}, "fresh": {...}}`` as above.

    Raises:
      NotComputable: a linearized prediction that is not finite; and whatever ``fit_predict`` or
        ``predict.closed_form`` raise.
      ValueError: a bad argument (``fit_predict``).

    Examples:
      >>> import ntk_bridge as nb
      >>> train = nb.tasks.shared_feature(3, 3, 3, dim=3, seed=0)
      >>> test = nb.tasks.shared_feature(2, 3, 3, dim=3, seed=1)
      >>> r = nb.finite.decompose(nb.MLPSpec(depth=1, width=1024), train, test, method="mtl-shared",
      ...                         adapt=nb.Adaptation(lr=0.1, steps=2), outer_steps=300, tol=1e-5)
      >>> sorted(r)
      ['closed', 'drift', 'err', 'fluctuation', 'info', 'linearized', 'seen', 'trained', 'untrained']
      >>> r["trained"].shape, r["seen"], r["err"] == nb.metrics.rel_gap(r["trained"], r["closed"])
      ((2, 3, 1), None, True)
      >>> bool(r["fluctuation"] < 0.2), bool(r["drift"] < 0.2)      # wide: both parts small
      (True, True)
    """
    from .fit import fit_predict

    m = resolve(method, split, test_head)
    spec = bound(spec, train)
    if not both_heads:
        closed = {m.test_head: closed} if closed is not None else None
    heads = TEST_HEADS if both_heads else (m.test_head,)
    closed = {h: np.asarray(closed[h] if closed is not None else
                            closed_form(parse(m, test_head=h), analytic(spec), train, test, adapt=adapt),
                            dtype=np.float64) for h in heads}
    pred, info = fit_predict(spec, train, test, method=m, adapt=adapt, seed=seed, return_info=True,
                             both_heads=both_heads, **fit_kw)
    preds = info["predictions"] if both_heads else {m.test_head: pred}
    parts = {h: None if preds[h] is None else _parts(spec, train, test, parse(m, test_head=h), adapt, seed,
                                                     preds[h], closed[h]) for h in heads}
    if both_heads:
        return {"info": info, **parts}
    return {**parts[m.test_head], "info": info}


def _parts(spec, train, test, m, adapt, seed, trained, closed) -> dict:
    """One protocol's predictions and error parts (``decompose``)."""
    if m.heads == "independent":
        return {"trained": trained, "linearized": None, "closed": closed, "err": metrics.rel_gap(trained, closed),
                "fluctuation": None, "drift": None, "seen": None}
    if m.test_head == "fresh":
        p0 = initial_params(spec, train, test, method=m, seed=seed)   # the body at init with the fresh head
        lin = np.asarray(closed_form(m, empirical_kernel_fn(spec, p0), train, test, adapt=adapt), dtype=np.float64)
    else:
        lin = linearized_predict(spec, train, test, method=m, adapt=adapt, seed=seed)
    if not np.all(np.isfinite(lin)):
        raise NotComputable(f"{m.label}: the linearized net's closed form is not finite at width {spec.width}")
    fresh = m.test_head == "fresh"
    return {"trained": trained, "linearized": None if fresh else lin, "untrained": lin if fresh else None,
            "closed": closed, "err": metrics.rel_gap(trained, closed), "fluctuation": metrics.rel_gap(lin, closed),
            "drift": None if fresh else metrics.rel_gap(trained, lin),
            "seen": float(np.linalg.norm(trained - lin) / np.linalg.norm(closed)) if fresh else None}
