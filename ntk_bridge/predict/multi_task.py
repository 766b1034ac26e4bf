"""MTL in the NTK regime and the no-transfer baseline (theory.md §4, §6).

A shared body and one head per training task, each task trained on ``D_i`` = support ∪ query::

    Theta_MTL((x,i),(x',j)) = Theta_body(x,x') + [i==j] Sigma(x,x')    shared head init
                            = [i==j] Theta(x,x')                       independent head init
    coef(t) = Theta_MTL(D,D)^-1 (I - exp(-t Theta_MTL)) Y_D            (t=None: Theta_MTL^-1 Y_D)
    h(x)    = Theta_body(x, D) coef(t)      (independent: h = 0, heads decouple at infinite width)

then the test head (the common initial head) is fine-tuned on the test support with
``K_in = Sigma``: ``h(X') + Sigma(X', X) T (Y - h(X))``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import validate
from ..methods import HEADS
from ..tasks import TaskSet
from . import assembly
from .device import backend
from .inner_loop import Adaptation
from .kernel_blocks import KernelFn, check_common, check_times, flat, per_task, stacked_points
from .outer_solve import OuterSolve
from .predictor import INNER, Finetune, Predictor, Spread
from .progress import Progress


def mtl_kernel(theta, sigma, n: int, xp):
    """``Theta_MTL = Theta - [i != j] Sigma`` (shared heads) from ``(N m, N m)`` ``theta, sigma``.

    Written to keep NumPy's peak memory at three ``(N m)^2`` arrays (one temporary, updated in place).
    """
    m = theta.shape[0] // n
    off_task = 1.0 - xp.eye(n)[:, None, :, None]
    out = sigma.reshape(n, m, n, m) * -off_task
    out += theta.reshape(n, m, n, m)    # in place for NumPy; JAX rebinds
    return out.reshape(n * m, n * m)


def mtl_predictor(kernel_fn: KernelFn, train: TaskSet, test: TaskSet, *, heads: str = "shared",
                  adapt: Adaptation = Adaptation(), ridge: float = 0.0, device: str = "numpy",
                  consume: bool = False, covariance: bool = False) -> Predictor:
    """MTL trained for time ``t`` (``None``: to convergence), then head fine-tuning: ``fn(t=None)``.

    Shared heads: the MTL kernel assembled tile by tile (one kernel call per pair of task blocks,
    ``.assembly``), the test rows one call per block of training tasks.  Independent
    heads: the prediction is the no-transfer baseline whatever ``t``; only the per-task blocks are
    evaluated, for the condition number reported in ``info``.  A build or factorization longer
    than a few seconds reports its stages on stderr (``.progress``).  ``consume``, ``covariance``: as for
    ``gbml_predictor`` (independent heads: the test head is a fresh process, so the
    covariance is the no-transfer one).

    ``fn(t)`` computes ``h = Theta_body(Z, D) coef(t)`` on the test points ``Z`` with ``coef(t) =
    Theta_MTL^-1 (I - exp(-t Theta_MTL)) Y_D`` (``Theta_MTL + ridge I`` in place of ``Theta_MTL``), then
    each test task's head loop ``h(X') + Sigma(X', X) T (Y - h(X))``.

    Args:
      kernel_fn: ``(x1, x2=None) -> Kernels(theta, sigma)``; ``Theta_body = theta - sigma``.
      train: the training ``TaskSet`` (every task trained on support then query).
      test: the test ``TaskSet``, of ``train``'s input and output dims.
      heads: ``"shared"`` (every head starts at one ``w0``) or ``"independent"``.
      adapt: the test-time inner loop (``Adaptation``; MTL's training has none).
      ridge: ``>= 0``, added to the diagonal of the MTL kernel.
      device: ``"numpy"`` (default), ``"cpu"`` or ``"gpu"``: where the outer solve runs.
      consume: let the factorization overwrite the MTL kernel (one kind of ``t`` only afterwards).
      covariance: also build the parts of ``fn.cov(t)``.

    Returns:
      ``Predictor``: ``fn(t)`` -> ``(test tasks, query, out_dim)`` float64 (``(len(t), ...)`` for a
      sequence); ``fn.info`` is ``{"cond", "n_outer", "train_tasks"}`` with ``n_outer = N (s + q)``, every
      training point (independent heads: ``cond`` of the per-task ``Theta`` blocks plus ``ridge``).

    Raises:
      NotComputable: a diverging inner loop, a singular/indefinite/ill-conditioned MTL kernel (the solve's
        errors are raised by ``fn(t)``).
      ValueError: bad arguments.

    Examples:
        At ``t = 0`` the body has not moved, and independent heads never pass on what it learned: both are
        the no-transfer baseline (the head's loop from the zero function):

        >>> import numpy as np, ntk_bridge as nb
        >>> kernel_fn, adapt = nb.predict.analytic(nb.MLPSpec(depth=2)), nb.Adaptation(lr=0.1, steps=2)
        >>> train = nb.tasks.shared_feature(3, 4, 5, dim=4, seed=0)
        >>> test = nb.tasks.shared_feature(2, 4, 5, dim=4, seed=1)
        >>> fn = nb.predict.mtl_predictor(kernel_fn, train, test, adapt=adapt)
        >>> fn().shape, fn([0.0, None]).shape, fn.info["n_outer"], fn.info["train_tasks"]
        ((2, 5, 1), (2, 2, 5, 1), 27, 3)
        >>> base = nb.predict.no_transfer_from_kernels(kernel_fn, test, adapt=adapt)
        >>> independent = nb.predict.mtl_predictor(kernel_fn, train, test, heads="independent", adapt=adapt)
        >>> bool(np.allclose(fn(0.0), base)), bool(np.allclose(independent(None), base))
        (True, True)
    """
    ridge = check_common(train, test, adapt, ridge)
    validate.choice("heads", heads, HEADS)
    consume = validate.flag("consume", consume)
    covariance = validate.flag("covariance", covariance)
    be = backend(device)
    x, y = train.merged()
    n, m = x.shape[:2]
    info = {"n_outer": n * m, "train_tasks": n}
    finetune = Finetune(kernel_fn, test, adapt, "head", be)
    if heads == "independent":
        with be.scope():
            e = be.xp.linalg.eigvalsh(be.put(per_task(kernel_fn, x).theta)) + ridge
            emin, emax = float(e.min()), float(e.max())
        info["cond"] = emax / emin if emin > 0 else math.inf
        return Predictor(be, finetune, None, None, train.out_dim, info,
                         Spread(None, None, kernel_fn, test) if covariance else None)
    with Progress(f"MTL closed form ({n} training tasks)", "MTL kernel assembly") as progress:
        # blocked, in place, on the host; with the covariance also Sigma(D, D) and Sigma(Z, D) (v = f0(D): C = I)
        k_mtl = assembly.mtl_blocks(kernel_fn, x, lower_only=be.is_numpy, sigma=covariance)
        progress.stage("test rows")
        eye = np.broadcast_to(np.eye(m), (n, m, m)) if covariance else None
        rows = assembly.outer_rows(kernel_fn, stacked_points(test), x, body=True, sigma_right=eye)
        spread = None
        if covariance:
            (k_mtl, gram), (rows, rows_sigma) = k_mtl, rows
            spread = Spread(gram, rows_sigma, kernel_fn, test)
    with be.scope():
        rows = be.put(rows)
        solver = OuterSolve(be.put(k_mtl), be.put(flat(y)), be=be, ridge=ridge, name=f"MTL kernel (heads={heads!r})",
                            consume=consume, fix=", or remove repeated training points")
    del k_mtl   # the NumPy solve may factor it in place: hold no other reference
    return Predictor(be, finetune, solver, rows, train.out_dim, info, spread)


def mtl_from_kernels(kernel_fn: KernelFn, train: TaskSet, test: TaskSet, *, heads: str = "shared",
                     adapt: Adaptation = Adaptation(), ridge: float = 0.0, t=None, device: str = "numpy",
                     return_info: bool = False):
    """MTL predictions after training time ``t``; see ``mtl_predictor`` (shapes as for GBML).

    ``mtl_predictor(...)(t)``, built with ``consume=True`` unless ``t`` is a sequence.

    Args:
      kernel_fn: ``(x1, x2=None) -> Kernels(theta, sigma)``.
      train: the training ``TaskSet``.
      test: the test ``TaskSet``, of ``train``'s input and output dims.
      heads: ``"shared"`` or ``"independent"``.
      adapt: the test-time inner loop (``Adaptation``).
      ridge: ``>= 0``, added to the diagonal of the MTL kernel.
      t: training time: ``None`` (to convergence), a number ``>= 0``, or a sequence of them.
      device: ``"numpy"``, ``"cpu"`` or ``"gpu"``.
      return_info: also return the predictor's ``info``.

    Returns:
      ``(test tasks, query, out_dim)`` float64 (``(len(t), ...)`` for a sequence of ``t``), and with
      ``return_info`` also ``{"cond", "n_outer", "train_tasks"}``: ``n_outer`` is every training point.

    Raises:
      NotComputable: as ``mtl_predictor``.
      ValueError: bad arguments.

    Examples:
        >>> import ntk_bridge as nb
        >>> kernel_fn = nb.predict.analytic(nb.MLPSpec(depth=2))
        >>> train = nb.tasks.shared_feature(4, 3, 4, dim=4, seed=0)
        >>> test = nb.tasks.shared_feature(2, 3, 4, dim=4, seed=1)
        >>> pred, info = nb.predict.mtl_from_kernels(kernel_fn, train, test, return_info=True,
        ...                                          adapt=nb.Adaptation(lr=0.1))
        >>> pred.shape, info["n_outer"]
        ((2, 4, 1), 28)
    """
    fn = mtl_predictor(kernel_fn, train, test, heads=heads, adapt=adapt, ridge=ridge, device=device,
                       consume=not check_times(t)[1])
    pred = fn(t)
    return (pred, fn.info) if return_info else pred


def no_transfer_predictor(kernel_fn: KernelFn, test: TaskSet, *, adapt: Adaptation = Adaptation(),
                          inner: str = "head", device: str = "numpy", covariance: bool = False) -> Predictor:
    """Test-time fine-tuning from the zero function, whatever ``t``: ``fn(t)``; ``covariance`` as for
    ``mtl_predictor`` (a random initial function read by the test points only)."""
    check_common(None, test, adapt, 0.0)
    validate.choice("inner", inner, INNER)
    spread = Spread(None, None, kernel_fn, test) if validate.flag("covariance", covariance) else None
    return Predictor(backend(device), Finetune(kernel_fn, test, adapt, inner, backend(device)), None, None,
                     test.out_dim, {}, spread)


def no_transfer_from_kernels(kernel_fn: KernelFn, test: TaskSet, *, adapt: Adaptation = Adaptation(),
                             inner: str = "head", device: str = "numpy") -> np.ndarray:
    """Test-time fine-tuning from the zero function: ``K_in(X', X) T Y`` (``K_in = Sigma`` or ``Theta``).

    Per test task, ``T = T(K_in(X, X); lr, s)`` (``inner_operator``); nothing is trained, no training
    tasks are read.

    Args:
      kernel_fn: ``(x1, x2=None) -> Kernels(theta, sigma)``.
      test: the test ``TaskSet``.
      adapt: the inner loop (``Adaptation``).
      inner: ``"head"`` (``K_in = Sigma``) or ``"all"`` (``K_in = Theta``).
      device: ``"numpy"``, ``"cpu"`` or ``"gpu"``.

    Returns:
      ``(test tasks, query, out_dim)`` float64.

    Raises:
      NotComputable: the inner loop diverges (``lr * lambda_max(K_in) > 2``) or the kernels are not finite.
      ValueError: bad arguments.

    Examples:
        >>> import numpy as np, ntk_bridge as nb
        >>> kernel_fn, adapt = nb.predict.analytic(nb.MLPSpec(depth=2)), nb.Adaptation(lr=0.1, steps=2)
        >>> test = nb.tasks.shared_feature(2, 4, 5, dim=4, seed=1)
        >>> pred = nb.predict.no_transfer_from_kernels(kernel_fn, test, adapt=adapt)
        >>> t = nb.predict.inner_operator(kernel_fn(test.xs[0]).sigma, adapt)
        >>> pred.shape, bool(np.allclose(pred[0], kernel_fn(test.xq[0], test.xs[0]).sigma @ t @ test.ys[0]))
        ((2, 5, 1), True)
    """
    return no_transfer_predictor(kernel_fn, test, adapt=adapt, inner=inner, device=device)()
