"""GBML in the NTK regime: MAML, ANIL and first-order MAML (theory.md §3).

``N`` training tasks with inner sets ``(X_i, Y_i)`` (``s`` points) and outer sets
``(X'_i, Y'_i)`` (``q`` points); ``K_in = Theta`` (MAML, FOMAML) or ``Sigma`` (ANIL)::

    T_i    = T(K_in(X_i, X_i))                                   inner operator, theory.md §2
    A_i    = T_i K_in(X_i, X'_i)                                 (s, q)
    F0_i   = A_i^T Y_i                                           initial meta-output (f_0 = 0)
    Phi_ij = dF_i dF_j^T,   dF_i = J(X'_i) - A_i^T J(X_i)        meta-NTK, (N q, N q)
    psi(x)_j = Theta(x, X'_j) - Theta(x, X_j) A_j                (FOMAML: Theta(x, X'_j))
    g(x)   = psi(x) coef(t),   coef(None) = Phi^-1 (Y' - F0)     meta-trained initial function

First-order MAML replaces ``Phi`` by the non-symmetric ``Psi_ij = dF_i J(X'_j)^T``.  With
``split="same"`` the inner and outer sets are both ``D_i`` = support ∪ query.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .. import validate
from ..errors import NotComputable
from ..methods import ALGOS, SPLITS
from ..tasks import TaskSet
from . import assembly
from .device import backend
from .inner_loop import Adaptation, inner_operator
from .kernel_blocks import KernelFn, check_common, check_times, flat, stacked_points
from .outer_solve import OuterSolve
from .predictor import Finetune, Predictor, Spread
from .progress import Progress


class MetaNTK(NamedTuple):
    """The meta-NTK and what the GBML predictor needs besides it (NumPy float64).

    ``N`` training tasks, ``s`` inner and ``q`` outer points per task (``s = q = s + q`` of the
    task set for ``split="same"``), ``d`` inputs, ``k`` outputs.

    Attributes:
      phi: ``Phi`` (or first-order ``Psi``) ``(N q, N q)``, rows and columns task by task.
      f0: ``F0_i = A_i^T Y_i`` ``(N, q, k)``, the meta-outputs of the zero initial function.
      a: ``A_i = T_i K_in(X_i, X'_i)`` ``(N, s, q)``.
      x_in: inner-loop inputs ``X_i`` ``(N, s, d)``.
      y_in: inner-loop targets ``Y_i`` ``(N, s, k)``.
      x_out: outer inputs ``X'_i`` ``(N, q, d)``.
      y_out: outer targets ``Y'_i`` ``(N, q, k)``.
      phi_sigma: ``C Sigma(P, P) C^T`` ``(N q, N q)`` when asked for (``meta_ntk(..., sigma=True)``: the
        covariance part, theory.md §9), else ``None``.

    Examples:
        >>> import numpy as np, ntk_bridge as nb
        >>> train = nb.tasks.shared_feature(3, 4, 5, dim=4, seed=0)
        >>> m = nb.predict.meta_ntk(nb.predict.analytic(nb.MLPSpec(depth=2)), train, adapt=nb.Adaptation(lr=0.1))
        >>> m.phi.shape, m.f0.shape, m.a.shape, m.x_in.shape, m.y_out.shape, m.phi_sigma is None
        ((15, 15), (3, 5, 1), (3, 4, 5), (3, 4, 4), (3, 5, 1), True)
        >>> bool(np.allclose(m.f0, np.einsum("nsq,nsk->nqk", m.a, m.y_in)))       # F0_i = A_i^T Y_i
        True
    """

    phi: np.ndarray
    f0: np.ndarray
    a: np.ndarray
    x_in: np.ndarray
    y_in: np.ndarray
    x_out: np.ndarray
    y_out: np.ndarray
    phi_sigma: np.ndarray | None = None


def gbml_sets(train: TaskSet, split: str):
    """Inner and outer sets ``x_in, y_in, x_out, y_out``: support/query, or ``D_i`` twice (``"same"``).

    Args:
      train: the training ``TaskSet``.
      split: ``"same"`` (inner and outer sets both ``D_i`` = support then query) or ``"disjoint"`` (the
        support as inner and the query as outer set).

    Returns:
      ``(x_in, y_in, x_out, y_out)`` float64 arrays: ``(N, s, d), (N, s, k), (N, q, d), (N, q, k)``, or
      ``(N, s + q, d), (N, s + q, k)`` twice for ``"same"`` (views of ``train``'s read-only arrays, or new
      concatenations).

    Raises:
      ValueError: when ``split`` is not one of ``SPLITS``.

    Examples:
        >>> import ntk_bridge as nb
        >>> train = nb.tasks.shared_feature(3, 4, 5, dim=4, seed=0)
        >>> [a.shape for a in nb.predict.gbml_sets(train, "disjoint")]
        [(3, 4, 4), (3, 4, 1), (3, 5, 4), (3, 5, 1)]
        >>> [a.shape for a in nb.predict.gbml_sets(train, "same")]
        [(3, 9, 4), (3, 9, 1), (3, 9, 4), (3, 9, 1)]
    """
    if validate.choice("split", split, SPLITS) == "same":
        x, y = train.merged()
        return x, y, x, y
    return train.xs, train.ys, train.xq, train.yq


def meta_ntk(kernel_fn: KernelFn, train: TaskSet, *, algo: str = "anil", adapt: Adaptation = Adaptation(),
             split: str = "disjoint", device: str = "numpy", lower_only: bool = False,
             inner_operator: Callable = inner_operator, sigma: bool = False) -> MetaNTK:
    """``Phi_ij = Theta(X'_i,X'_j) - A_i^T Theta(X_i,X'_j) - Theta(X'_i,X_j) A_j + A_i^T Theta(X_i,X_j) A_j``.

    FOMAML: ``Psi_ij = Theta(X'_i,X'_j) - A_i^T Theta(X_i,X'_j)``.  Assembled block by block on the
    host, in place, without the ``(N (s+q))^2`` training Gram matrix (``.assembly``): one kernel
    call per pair of task blocks, each kernel entry once.  ``device`` is only validated (the
    solves run there, not the assembly).  ``lower_only=True`` writes the lower triangle of the
    symmetric ``Phi`` only (upper left zero), for the in-place NumPy solve; ``Psi`` is always full.
    ``inner_operator(K, adapt) -> T``: the inner operator ``T_i`` is built with (theory.md §2).
    ``sigma=True`` also assembles ``phi_sigma`` (same kernel calls).

    Args:
      kernel_fn: ``(x1, x2=None) -> Kernels(theta, sigma)`` (``analytic`` of a spec, or empirical kernels).
      train: the training ``TaskSet``.
      algo: ``"anil"`` (``K_in = Sigma``), ``"maml"`` or ``"fomaml"`` (``K_in = Theta``).
      adapt: the inner loop (``Adaptation``).
      split: ``"disjoint"`` (inner loop on the support, outer loss on the query) or ``"same"`` (both on ``D_i``).
      device: one of ``DEVICES``; only validated here.
      lower_only: write only the lower triangle of ``Phi`` (not for FOMAML's ``Psi``).
      inner_operator: ``(K, adapt) -> T``, the formula for ``T_i`` (default: ``inner_loop.inner_operator``).
      sigma: also assemble ``phi_sigma``.

    Returns:
      ``MetaNTK`` (NumPy float64): ``phi (N q, N q)``, ``f0 (N, q, k)``, ``a (N, s, q)``, the inner and outer
      sets, and ``phi_sigma`` (``None`` unless ``sigma``); ``s = q = s + q`` of ``train`` for ``split="same"``.

    Raises:
      NotComputable: a diverging inner loop (``lr * lambda_max > 2``) or non-finite kernels (``inner_operator``).
      ValueError: naming a bad argument (``train``, ``algo``, ``split``, ``adapt``, ``device``, a flag).

    Examples:
      ANIL's and MAML's ``Phi`` is the Gram matrix of the meta-outputs' Jacobian: symmetric, positive
      semi-definite, one row per query point of every training task.

      >>> import numpy as np, ntk_bridge as nb
      >>> train = nb.tasks.shared_feature(3, 4, 5, dim=4, seed=0)
      >>> m = nb.predict.meta_ntk(nb.predict.analytic(nb.MLPSpec(depth=2)), train, algo="maml",
      ...                         adapt=nb.Adaptation(lr=0.1, steps=2))
      >>> m.phi.shape, bool(np.allclose(m.phi, m.phi.T)), bool(np.linalg.eigvalsh(m.phi)[0] > -1e-10)
      ((15, 15), True, True)
    """
    validate.instance("train", train, TaskSet)
    validate.choice("algo", algo, ALGOS)
    validate.choice("split", split, SPLITS)
    validate.instance("adapt", adapt, Adaptation)
    validate.flag("lower_only", lower_only)
    backend(device)
    x_in, y_in, x_out, y_out = gbml_sets(train, split)
    phi, a, f0, phi_sigma = assembly.meta_blocks(kernel_fn, x_in, x_out, y_in, algo=algo, adapt=adapt,
                                                 same=split == "same", lower_only=bool(lower_only),
                                                 inner_operator=inner_operator, sigma=validate.flag("sigma", sigma))
    return MetaNTK(phi, f0, a, x_in, y_in, x_out, y_out, phi_sigma)


def check_conflicting_duplicates(x_out: np.ndarray, y_out: np.ndarray, split: str) -> None:
    """Raise if one input point sits in the outer sets of two tasks (or twice in one) with different labels.

    Meta-training must then fit two labels at (almost) one meta-output: the rows of ``dF`` at
    the two copies differ only through the tasks' inner loops (a head-only or short inner loop
    barely moves them), so ``Phi`` is nearly singular and ``coef`` huge and meaningless.  Measured
    (shared-feature, 20 tasks of 5 + 10 points, lr 0.02 x 5, depths 1-64), one such point raises
    the condition number from 30-6e3 to 1e5-5e6 (ANIL, disjoint), 3e8-2e10 (split="same") and
    6e2-3e6 (MAML, disjoint: a deep MAML inner loop does tell the copies apart).  A condition
    threshold cannot separate these from legitimate cases (MAML, split="same", depth 64: 3e7).
    """
    n, q = x_out.shape[:2]
    pts, ys = flat(x_out), y_out.reshape(n * q, -1)
    _, first, inverse = np.unique(pts, axis=0, return_index=True, return_inverse=True)
    twin = first[np.reshape(inverse, -1)]
    clash = np.flatnonzero(np.any(ys != ys[twin], axis=1))
    if clash.size:
        i, j = int(twin[clash[0]]), int(clash[0])
        where = "query" if split == "disjoint" else "support ∪ query"
        raise NotComputable(
            f"training tasks {i // q} and {j // q} have the same input point in their outer sets ({where}; "
            f"points {i % q} and {j % q}) with different labels {ys[i].tolist()} vs {ys[j].tolist()} "
            f"({clash.size} such points in all): the two copies differ only through their tasks' inner loops, so "
            f"the meta-NTK can be nearly singular (condition numbers up to 1e10 measured, against 1e2-1e4 without) and "
            f"the predictions meaningless; deduplicate the training tasks, or pass ridge > 0 to regularize")


def gbml_predictor(kernel_fn: KernelFn, train: TaskSet, test: TaskSet, *, algo: str = "anil",
                   adapt: Adaptation = Adaptation(), split: str = "disjoint", ridge: float = 0.0,
                   device: str = "numpy", consume: bool = False,
                   meta_ntk: Callable[..., MetaNTK] = meta_ntk, covariance: bool = False) -> Predictor:
    """GBML meta-trained for outer time ``t``, then adapted on each test task: ``fn(t=None)``.

    Builds the meta-NTK, ``psi`` on the test points and the test-time inner loop once; each
    ``fn(t)`` costs a product with the cached factorization of ``Phi`` (theory.md §3).  A build or
    factorization longer than a few seconds reports its stages on stderr (``.progress``).
    ``consume=True`` lets the factorization overwrite the meta-NTK instead of copying it (one
    ``(N q)^2`` array less; ``fn`` then takes one kind of ``t`` only, ``OuterSolve``).
    ``meta_ntk``: the function building the meta-NTK (default ``meta_ntk``).  ``covariance=True`` also
    builds the parts of ``fn.cov(t)``, the covariance over random initial functions (theory.md §9,
    ``.predictor``): ``meta_ntk(..., sigma=True)`` and the rows' ``Sigma`` twins, same kernel calls.

    ``fn(t)`` computes ``g = psi(Z) coef(t)`` on the test points ``Z``, ``coef(t) = Phi^-1 (I - exp(-t Phi))
    (Y' - F0)`` (``Phi + ridge I`` in place of ``Phi``), then each test task's inner loop ``g(X') + K_in(X',
    X) T (Y - g(X))`` with ``K_in = Sigma`` (ANIL) or ``Theta`` (MAML, FOMAML).

    Args:
      kernel_fn: ``(x1, x2=None) -> Kernels(theta, sigma)``.
      train: the training ``TaskSet``.
      test: the test ``TaskSet``, of ``train``'s input and output dims.
      algo: ``"anil"``, ``"maml"`` or ``"fomaml"``.
      adapt: the inner loop (``Adaptation``), at meta-training and at test time.
      split: ``"disjoint"`` or ``"same"`` (inner and outer sets, ``gbml_sets``).
      ridge: ``>= 0``, added to the diagonal of the meta-NTK.
      device: ``"numpy"`` (default), ``"cpu"`` or ``"gpu"``: where the outer solve runs (``.device``).
      consume: let the factorization overwrite the meta-NTK (one kind of ``t`` only afterwards).
      meta_ntk: the function building the meta-NTK (default ``meta_ntk``), with ``meta_ntk``'s signature.
      covariance: also build the parts of ``fn.cov(t)``.

    Returns:
      ``Predictor``: ``fn(t)`` -> ``(test tasks, query, out_dim)`` float64 (``(len(t), ...)`` for a sequence);
      ``fn.info`` is ``{"cond", "n_outer", "train_tasks"}`` (``n_outer = N q``).
    Raises:
      NotComputable: a diverging inner loop; a singular, indefinite or ill-conditioned meta-NTK; a
        first-order ``Psi`` whose gradient flow does not converge; an input repeated across the
        outer sets with different labels (``ridge=0`` only).  The solve's errors are raised by ``fn(t)``.
      ValueError: bad arguments.

    Examples:
        At ``t = 0`` nothing is meta-trained (MAML's test loop from the zero function: no transfer with
        ``inner="all"``); one factorization serves every ``t``:

        >>> import numpy as np, ntk_bridge as nb
        >>> kernel_fn, adapt = nb.predict.analytic(nb.MLPSpec(depth=2)), nb.Adaptation(lr=0.1, steps=2)
        >>> train = nb.tasks.shared_feature(3, 4, 5, dim=4, seed=0)
        >>> test = nb.tasks.shared_feature(2, 4, 5, dim=4, seed=1)
        >>> fn = nb.predict.gbml_predictor(kernel_fn, train, test, algo="maml", adapt=adapt)
        >>> fn().shape, fn([0.0, 1.0, None]).shape, fn.info["n_outer"]
        ((2, 5, 1), (3, 2, 5, 1), 15)
        >>> base = nb.predict.no_transfer_from_kernels(kernel_fn, test, adapt=adapt, inner="all")
        >>> bool(np.allclose(fn(0.0), base)), bool(np.allclose(fn(1e300), fn(None)))
        (True, True)
    """
    ridge = check_common(train, test, adapt, ridge)
    validate.choice("algo", algo, ALGOS)
    validate.choice("split", split, SPLITS)
    consume = validate.flag("consume", consume)
    covariance = validate.flag("covariance", covariance)
    be = backend(device)
    x_in, _, x_out, y_out = gbml_sets(train, split)
    if ridge == 0.0:
        check_conflicting_duplicates(x_out, y_out, split)
    same, first_order = split == "same", algo == "fomaml"
    with Progress(f"GBML closed form ({algo}, split={split!r}, {train.n_tasks} training tasks)",
                  "meta-NTK assembly") as progress:
        mk = meta_ntk(kernel_fn, train, algo=algo, adapt=adapt, split=split, device=device,
                      lower_only=be.is_numpy and not first_order, **({"sigma": True} if covariance else {}))
        progress.stage("test rows")
        # psi(x)_j = Theta(x, X'_j) - Theta(x, X_j) A_j = Theta(x, P_j) C_j^T (FOMAML: Theta(x, P_j) E^T = Theta(x, X'_j))
        pts = assembly.points(mk.x_in, mk.x_out, same)
        c = assembly.row_maps(mk.a, pts.shape[1], same=same, first_order=False)
        right = assembly.row_maps(mk.a, pts.shape[1], same=same, first_order=True) if first_order else c
        rows = assembly.outer_rows(kernel_fn, stacked_points(test), pts, right, sigma_right=c if covariance else None)
        rows, spread = (rows[0], Spread(mk.phi_sigma, rows[1], kernel_fn, test)) if covariance else (rows, None)
        progress.stage("test-time inner loop")
        finetune = Finetune(kernel_fn, test, adapt, "head" if algo == "anil" else "all", be)
    m = mk.phi.shape[0]
    name = f"{'first-order meta-NTK Psi' if first_order else 'meta-NTK Phi'} ({algo}, split={split!r})"
    r = (mk.y_out - mk.f0).reshape(m, -1)
    phi = mk.phi
    del mk                 # the solve may factor phi in place: hold no other reference
    with be.scope():
        rows = be.put(rows)
        solver = OuterSolve(be.put(phi), be.put(r), be=be, ridge=ridge, name=name, symmetric=not first_order,
                            consume=consume, fix=", or lower adapt.lr / adapt.steps")
    del phi
    return Predictor(be, finetune, solver, rows, train.out_dim, {"n_outer": int(m), "train_tasks": train.n_tasks},
                     spread)


def gbml_from_kernels(kernel_fn: KernelFn, train: TaskSet, test: TaskSet, *, algo: str = "anil",
                      adapt: Adaptation = Adaptation(), split: str = "disjoint", ridge: float = 0.0,
                      t=None, device: str = "numpy", return_info: bool = False,
                      meta_ntk: Callable[..., MetaNTK] = meta_ntk):
    """GBML predictions after outer time ``t`` (``None``: to convergence); see ``gbml_predictor``.

    ``gbml_predictor(...)(t)``, built with ``consume=True`` unless ``t`` is a sequence.

    Args:
      kernel_fn: ``(x1, x2=None) -> Kernels(theta, sigma)``.
      train: the training ``TaskSet``.
      test: the test ``TaskSet``, of ``train``'s input and output dims.
      algo: ``"anil"``, ``"maml"`` or ``"fomaml"``.
      adapt: the inner loop (``Adaptation``).
      split: ``"disjoint"`` or ``"same"``.
      ridge: ``>= 0``, added to the diagonal of the meta-NTK.
      t: outer training time: ``None`` (to convergence), a number ``>= 0``, or a sequence of them.
      device: ``"numpy"``, ``"cpu"`` or ``"gpu"``.
      return_info: also return the predictor's ``info``.
      meta_ntk: the function building the meta-NTK (default ``meta_ntk``).

    Returns:
      ``(test tasks, query, out_dim)`` float64 (``(len(t), test tasks, query, out_dim)`` for a sequence of
      ``t``), and with ``return_info`` also ``{"cond", "n_outer", "train_tasks"}``.

    Raises:
      NotComputable: as ``gbml_predictor`` (diverging inner loop, singular or ill-conditioned meta-NTK, ...).
      ValueError: bad arguments (``t`` negative or an empty sequence included).

    Examples:
        Any ``kernel_fn(x1, x2=None) -> Kernels`` will do; here the analytic kernels, by hand:

        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> spec = nb.MLPSpec(depth=2)
        >>> def kernel_fn(x1, x2=None):
        ...     return nb.kernels.kernels(spec, x1, x2)
        >>> train = nb.tasks.shared_feature(4, 3, 4, dim=4, seed=0)
        >>> test = nb.tasks.shared_feature(2, 3, 4, dim=4, seed=1)
        >>> adapt = nb.Adaptation(lr=0.1, steps=5)
        >>> pred, info = nb.predict.gbml_from_kernels(kernel_fn, train, test, adapt=adapt, return_info=True)
        >>> pred.shape, info["n_outer"], info["train_tasks"]
        ((2, 4, 1), 16, 4)
        >>> bool(np.allclose(pred, nb.predict.gbml(spec, train, test, adapt=adapt)))
        True
    """
    fn = gbml_predictor(kernel_fn, train, test, algo=algo, adapt=adapt, split=split, ridge=ridge, device=device,
                        consume=not check_times(t)[1], meta_ntk=meta_ntk)
    pred = fn(t)
    return (pred, fn.info) if return_info else pred
