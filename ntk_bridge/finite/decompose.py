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
through a cross-head kernel the closed forms do not take, and get ``None`` there.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import metrics
from ..errors import NotComputable
from ..kernels import empirical
from ..precision import x64
from ..predict import Adaptation, analytic, closed_form
from ..spec import MLPSpec
from ..tasks import TaskSet
from .initial import prepare
from .problem import resolve


def initial_params(spec: MLPSpec, train: TaskSet, test: TaskSet, *, method="anil", split=None, seed: int = 0):
    """The engine's initial net of ``seed`` with the head the test tasks start from, ``{"body", "head"}``, float64.

    The very ``p0`` :func:`~ntk_bridge.finite.fit_predict` trains (``initial.prepare``'s draw), so the
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
    initial net (:func:`initial_params`); centered, so it starts from the zero function.

    Raises:
      ValueError: a fresh test head or MTL's independent heads (no closed form in the net's own kernels).
    """
    m = resolve(method, split)
    if m.test_head == "fresh" or m.heads == "independent":
        raise ValueError(f"linearized_predict: {m.label} reads the trained body through a fresh head (a "
                         f"cross-head kernel); only test_head='trained' with shared-init heads is supported")
    p0 = initial_params(spec, train, test, method=m, seed=seed)
    return np.asarray(closed_form(m, empirical_kernel_fn(spec, p0), train, test, adapt=adapt, ridge=ridge),
                      dtype=np.float64)


def decompose(spec: MLPSpec, train: TaskSet, test: TaskSet, *, method="anil", adapt: Adaptation = Adaptation(),
              split: str | None = None, test_head: str | None = None, seed: int = 0, closed=None,
              **fit_kw) -> dict:
    """Train the net of ``seed`` and split its error to the closed form into fluctuation + drift.

    ``closed``: the infinite-width prediction if already computed (else the analytic closed form);
    ``fit_kw``: ``fit_predict`` options (not ``return_info``).  Returns ``{"trained", "linearized",
    "closed"}`` predictions ``(tasks, query, k)`` (``linearized`` ``None`` where undefined, see the
    module), ``err``, ``fluctuation``, ``drift`` (floats or ``None``) and ``info`` (``fit_predict``'s).
    """
    from .fit import fit_predict

    m = resolve(method, split, test_head)
    if closed is None:
        closed = closed_form(m, analytic(spec), train, test, adapt=adapt)
    closed = np.asarray(closed, dtype=np.float64)
    trained, info = fit_predict(spec, train, test, method=m, adapt=adapt, seed=seed, return_info=True, **fit_kw)
    lin = None
    if m.test_head == "trained" and m.heads != "independent":
        lin = linearized_predict(spec, train, test, method=m, adapt=adapt, seed=seed)
        if not np.all(np.isfinite(lin)):
            raise NotComputable(f"{m.label}: the linearized net's closed form is not finite at width {spec.width}")
    return {"trained": trained, "linearized": lin, "closed": closed, "err": metrics.rel_gap(trained, closed),
            "fluctuation": None if lin is None else metrics.rel_gap(lin, closed),
            "drift": None if lin is None else metrics.rel_gap(trained, lin), "info": info}
