"""The predictive distribution over initializations: uncentered nets at infinite width (theory.md §9).

An uncentered net starts from a random function ``f0``: at infinite width a centered Gaussian
process with the output NNGP covariance ``Sigma`` (the head's kernel), one process per initial
head (heads drawn independently give independent processes).  A linearized net trained from
``f0`` on labels ``Y`` moves ``g = f - f0`` exactly as a centered net (``g_0 = 0``) trained on the
residual labels ``Y - f0``, in every inner and outer loop alike (each step sees residuals only).
So every closed form is affine in ``f0``::

    prediction = CF(Y) + f0(X'_test) - CF(f0(P))  =  mu + M f0(P)

with ``CF`` the centered closed form (linear in its labels), ``mu = CF(Y)`` the mean computed
everywhere else in the toolkit, and ``P`` every point involved (training supports and queries,
test supports and queries).  ``uncentered`` applies it to given initial values (with a net's
empirical kernels: that net's exact linearization, uncentered).

``distribution`` computes ``Cov = M K_P M^T`` in kernel blocks (``.predictor.Predictor.cov``):
the prediction is ``mu + u - R W(t) v`` with ``u`` the test loop's part on the test points, ``v = C f0``
the outer residual's part and ``W(t)`` the outer solve, so besides the mean's blocks it needs
``Cov(v) = C Sigma C^T`` (assembled from the same kernel calls as the outer kernel), ``Sigma`` rows on
the test points and one solve with ``N_test q`` right-hand sides, reusing the mean's factorization;
measured within 1.7-2.4x the mean's time at 500 training tasks (``benchmarks/distribution_cost.py``).

``gap_distribution`` needs the two methods' joint covariance, so it factors the processes on every
point instead (``latent``, ``K_P = L L^T``) and applies both closed forms to the columns of ``L``
(``M L`` exact, in one latent: functions the methods share are one process)::

    E||Delta||^2 = ||mu_a - mu_b||^2 + k tr((M_a - M_b) K_P (M_a - M_b)^T)       (k outputs)

at the cost of one closed form with ``R = rank(K_P)`` label columns (about the number of points
``P``) per method: the tests' second, independent route to ``distribution``'s covariance too.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import validate
from ..methods import Method, parse
from ..tasks import TaskSet
from .inner_loop import Adaptation
from .kernel_blocks import KernelFn, flat
from .method_level import closed_form, predictor

EIG_FLOOR = 1e-12   # eigenvalues of K_P below this fraction of the largest are dropped from its factor


def functions(method) -> tuple[str, str]:
    """Which initial function a method's training tasks and test tasks read (theory.md §9).

    ``(train, test)``: ``"shared"`` (the one process of the common initial head ``w0``), ``"task"``
    (one independent process per training task: MTL's independently drawn heads) or ``"fresh"``
    (a new process for the test tasks: the fresh test head, or independent MTL heads' test head)."""
    m = parse(method)
    independent = m.kind == "mtl" and m.heads == "independent"
    return ("task" if independent else "shared", "fresh" if independent or m.test_head == "fresh" else "shared")


def _shifted(tasks: TaskSet, f: np.ndarray) -> TaskSet:
    """``tasks`` with labels ``f (tasks, s + q, R)`` on its support then query points."""
    s = tasks.n_support
    return TaskSet(tasks.xs, f[:, :s], tasks.xq, f[:, s:])


def _affine(m: Method, kernel_fn: KernelFn, train: TaskSet, test: TaskSet, f_train, f_test, adapt, t, ridge):
    """``M f0 = f0(X'_test) - CF(f0)`` for initial values ``f_train (N, s+q, R)``, ``f_test (Nt, s+q, R)``."""
    cf = closed_form(m, kernel_fn, _shifted(train, f_train), _shifted(test, f_test), adapt=adapt, ridge=ridge, t=t)
    return f_test[:, test.n_support:] - cf


def uncentered(method, kernel_fn: KernelFn, train: TaskSet, test: TaskSet, f0_train, f0_test, *,
               adapt: Adaptation = Adaptation(), t=None, ridge: float = 0.0) -> np.ndarray:
    """The prediction of a linearized net started from the initial outputs ``f0`` (theory.md §9).

    ``f0_train``: ``(N, s + q, k)``, the initial function each training task's outputs read (its
    support then query points; ``functions`` says which process), ``f0_test``: ``(Nt, s + q, k)``
    on the test tasks' points.  Fed a finite net's empirical kernels and its own initial outputs,
    this is that net's exact linearization trained without centering.  Returns ``(Nt, q, k)``.

    Computes ``closed_form(Y) + f0(X'_test) - closed_form(f0)``: the centered closed form on the labels,
    plus the initial function on the test queries, minus the closed form with the initial values as labels.

    Args:
      method: a ``Method`` or its name (``nb.methods.parse``).
      kernel_fn: ``(x1, x2=None) -> Kernels(theta, sigma)``.
      train: the training ``TaskSet`` (``N`` tasks).
      test: the test ``TaskSet`` (``Nt`` tasks).
      f0_train: ``(N, s + q, k)`` initial outputs on each training task's support then query points.
      f0_test: ``(Nt, s + q, k)`` initial outputs on each test task's support then query points.
      adapt: the inner loop (``Adaptation``).
      t: outer training time: ``None`` (to convergence) or a number ``>= 0``.
      ridge: ``>= 0``, added to the diagonal of the outer kernel.

    Returns:
      ``(Nt, q, k)`` float64 predictions on the test queries.

    Raises:
      ValueError: when ``f0_train`` or ``f0_test`` does not have the shape above; bad arguments.
      NotComputable: as ``closed_form``.

    Examples:
        Zero initial outputs give the centered closed form; without transfer the test loop simply starts
        from ``f0``: ``f0(X') + Sigma(X', X) T (Y - f0(X))``:

        >>> import numpy as np, ntk_bridge as nb
        >>> kernel_fn, adapt = nb.predict.analytic(nb.MLPSpec(depth=1)), nb.Adaptation(lr=0.1, steps=2)
        >>> train = nb.tasks.shared_feature(3, 3, 4, dim=4, seed=0)
        >>> test = nb.tasks.shared_feature(2, 3, 4, dim=4, seed=1)
        >>> zeros = nb.predict.uncentered("anil", kernel_fn, train, test, np.zeros((3, 7, 1)), np.zeros((2, 7, 1)),
        ...                               adapt=adapt)
        >>> bool(np.allclose(zeros, nb.predict.closed_form("anil", kernel_fn, train, test, adapt=adapt)))
        True
        >>> rng = np.random.default_rng(0)
        >>> f0_train, f0_test = rng.standard_normal((3, 7, 1)), rng.standard_normal((2, 7, 1))
        >>> pred = nb.predict.uncentered("no-transfer", kernel_fn, train, test, f0_train, f0_test, adapt=adapt)
        >>> t = nb.predict.inner_operator(kernel_fn(test.xs[0]).sigma, adapt)
        >>> by_hand = f0_test[0, 3:] + kernel_fn(test.xq[0], test.xs[0]).sigma @ t @ (test.ys[0] - f0_test[0, :3])
        >>> pred.shape, bool(np.allclose(pred[0], by_hand))
        ((2, 4, 1), True)
    """
    m = parse(method)
    f0_train, f0_test = (np.asarray(a, dtype=np.float64) for a in (f0_train, f0_test))
    for name, a, tasks in (("f0_train", f0_train, train), ("f0_test", f0_test, test)):
        want = (tasks.n_tasks, tasks.n_support + tasks.n_query, tasks.out_dim)
        if a.shape != want:
            raise ValueError(f"{name} must have shape {want} (tasks, support + query, out_dim), got {a.shape}")
    mean = closed_form(m, kernel_fn, train, test, adapt=adapt, ridge=ridge, t=t)
    return mean + _affine(m, kernel_fn, train, test, f0_train, f0_test, adapt, t, ridge)


@dataclasses.dataclass(frozen=True)
class Latent:
    """``f0`` on every point as ``L z`` with ``z ~ N(0, I_R)``, one block of columns per process.

    ``shared``: ``(N, s+q, R)`` and ``(Nt, s+q, R)`` rows of the common process on the training and
    test points; ``task``: ``(N, s+q, R)``, the independent per-task processes; ``fresh``:
    ``(Nt, s+q, R)``, the fresh test process (``None`` where no method reads it).  Different
    processes occupy disjoint columns: independent."""

    shared: tuple[np.ndarray, np.ndarray] | None
    task: np.ndarray | None
    fresh: np.ndarray | None
    rank: int

    def values(self, method) -> tuple[np.ndarray, np.ndarray]:
        """``(f_train (N, s+q, R), f_test (Nt, s+q, R))``: the initial values ``method`` reads, per column."""
        train_fn, test_fn = functions(method)
        for fn in (train_fn, test_fn):
            if getattr(self, fn) is None:
                raise ValueError(f"this latent has no {fn!r} process, which {parse(method).label} reads")
        return (self.shared[0] if train_fn == "shared" else self.task,
                self.shared[1] if test_fn == "shared" else self.fresh)


def _factor(k: np.ndarray) -> np.ndarray:
    """``L (n, r)`` with ``L L^T = k`` (eigen-form of a PSD matrix; eigenvalues below ``EIG_FLOOR`` x the largest dropped)."""
    w, v = np.linalg.eigh(k)
    keep = w > EIG_FLOOR * max(float(w[-1]), 0.0)
    return v[:, keep] * np.sqrt(w[keep])


def latent(kernel_fn: KernelFn, train: TaskSet, test: TaskSet, methods) -> Latent:
    """The processes ``methods`` read (``functions``), factored on their points (``Sigma`` in float64)."""
    x_tr, _ = train.merged()
    x_te = np.concatenate([test.xs, test.xq], axis=1)
    (n, p), (nt, pt) = x_tr.shape[:2], x_te.shape[:2]
    needed = {fn for m in methods for fn in functions(m)}
    blocks = []                                   # (process, rows (points, r)) in column order
    if "shared" in needed:
        blocks.append(("shared", _factor(np.asarray(kernel_fn(np.concatenate([flat(x_tr), flat(x_te)])).sigma,
                                                    dtype=np.float64))))
    if "task" in needed:
        blocks += [(("task", i), _factor(np.asarray(kernel_fn(x_tr[i]).sigma, dtype=np.float64))) for i in range(n)]
    if "fresh" in needed:
        blocks.append(("fresh", _factor(np.asarray(kernel_fn(flat(x_te)).sigma, dtype=np.float64))))
    rank = sum(b.shape[1] for _, b in blocks)
    shared = task = fresh = None
    col = 0
    for name, b in blocks:
        r = b.shape[1]
        if name == "shared":
            full = np.zeros((b.shape[0], rank))
            full[:, col:col + r] = b
            shared = (full[:n * p].reshape(n, p, rank), full[n * p:].reshape(nt, pt, rank))
        elif name == "fresh":
            fresh = np.zeros((nt * pt, rank))
            fresh[:, col:col + r] = b
            fresh = fresh.reshape(nt, pt, rank)
        else:
            if task is None:
                task = np.zeros((n, p, rank))
            task[name[1], :, col:col + r] = b
        col += r
    return Latent(shared, task, fresh, rank)


@dataclasses.dataclass(frozen=True)
class Distribution:
    """The test predictions of uncentered infinite-width nets over initializations: Gaussian.

    ``mean``: ``(Nt, q, k)``, the centered closed form; ``cov``: ``(Nt, q, q)``, each test task's covariance
    over its queries (the same for every output column; output columns independent); ``full``: ``(Nt q,
    Nt q)`` over every test query (test tasks correlate through the shared training), or ``None`` unless
    asked for (``distribution(..., full=True)``).  ``info``: the closed form's (``cond``, ...).

    ``Nt`` test tasks, ``q`` queries each, ``k`` outputs; ``cov_full()`` returns a copy of ``full`` and
    ``sample(seed, n)`` draws ``(n, Nt, q, k)`` predictions (both need ``full``).

    Attributes:
      mean: ``(Nt, q, k)`` float64, the centered closed form (the mean over initializations).
      cov: ``(Nt, q, q)`` float64, each test task's covariance over its queries (every output column alike).
      info: the closed form's ``{"cond", "n_outer", "train_tasks"}`` (``{"cond": None}`` without an outer
        solve).
      full: ``(Nt q, Nt q)`` float64 covariance over every test query, or ``None``.

    Examples:
        >>> import numpy as np, ntk_bridge as nb
        >>> spec, adapt = nb.MLPSpec(depth=1), nb.Adaptation(lr=0.1, steps=2)
        >>> train = nb.tasks.shared_feature(3, 3, 4, dim=4, seed=0)
        >>> test = nb.tasks.shared_feature(2, 3, 4, dim=4, seed=1)
        >>> d = nb.predict.distribution(spec, train, test, "anil", adapt=adapt, full=True)
        >>> d.mean.shape, d.cov.shape, d.full.shape, sorted(d.info)
        ((2, 4, 1), (2, 4, 4), (8, 8), ['cond', 'n_outer', 'train_tasks'])
        >>> bool(np.allclose(d.cov_full()[4:, 4:], d.cov[1])), d.sample(seed=0, n=3).shape
        (True, (3, 2, 4, 1))
    """

    mean: np.ndarray
    cov: np.ndarray
    info: dict
    full: np.ndarray | None = None

    def cov_full(self) -> np.ndarray:
        """``(Nt q, Nt q)``: over every test query; needs ``distribution(..., full=True)``."""
        return self._full("cov_full").copy()

    def sample(self, seed: int, n: int) -> np.ndarray:
        """``(n, Nt, q, k)`` joint draws of the prediction over all test tasks (``numpy.random.default_rng(seed)``;
        the whole covariance's eigen-factor, eigenvalues below round-off clipped to zero); needs ``full=True``."""
        seed = validate.integer("seed", seed, 0)
        n = validate.integer("n", n, 1)
        factor = _factor(self._full("sample"))
        z = np.random.default_rng(seed).standard_normal((n, factor.shape[-1], self.mean.shape[-1]))
        draws = np.einsum("pr,nrk->npk", factor, z).reshape((n,) + self.mean.shape)
        return self.mean[None] + draws

    def _full(self, what: str) -> np.ndarray:
        if self.full is None:
            raise ValueError(f"{what} needs the covariance over every test query: call distribution(..., full=True)")
        return self.full


def distribution(spec_or_kernel_fn, train: TaskSet, test: TaskSet, method, *, adapt: Adaptation = Adaptation(),
                 t=None, ridge: float = 0.0, full: bool = False) -> Distribution:
    """Mean and covariance over initializations of ``method``'s test predictions (theory.md §9).

    ``spec_or_kernel_fn``: an ``MLPSpec`` or ``ConvSpec`` (analytic kernels)
    or ``kernel_fn(x1, x2=None) -> Kernels``; ``method``: any name or ``Method``
    ``nb.methods.parse`` accepts (MTL with shared or independent heads, ANIL/MAML/FOMAML with either split,
    no transfer, ``+fresh``).  ``t`` (``None`` or one time), ``ridge``: as for the closed forms.  Kernel blocks
    as for the mean and one factorization (``cov``): no kernel on every point, and
    no test Gram matrix unless ``full=True`` asks for the covariance across test tasks (for ``cov_full`` and
    ``sample``).  Raises what the closed form raises (``NotComputable``, ``ValueError``).

    The prediction is ``mu + M f0(P)`` with ``f0 ~ GP(0, Sigma)``; ``Cov = M Sigma(P, P) M^T`` (the module
    docstring), computed by ``Predictor.cov``.

    Args:
      spec_or_kernel_fn: an ``MLPSpec`` or ``ConvSpec`` (its analytic kernels) or a ``kernel_fn``.
      train: the training ``TaskSet``.
      test: the test ``TaskSet`` (``Nt`` tasks, ``q`` queries, ``k`` outputs).
      method: a ``Method`` or its name.
      adapt: the inner loop (``Adaptation``).
      t: outer training time: ``None`` (to convergence) or one number ``>= 0``.
      ridge: ``>= 0``, added to the diagonal of the outer kernel.
      full: also form the covariance across test tasks (``Distribution.full``).

    Returns:
      ``Distribution``: ``mean (Nt, q, k)``, ``cov (Nt, q, q)``, ``info``, and ``full (Nt q, Nt q)`` or ``None``.

    Raises:
      ValueError: ``spec_or_kernel_fn`` neither a spec nor callable, a ``t`` sequence, bad arguments.
      NotComputable: as the closed form (diverging inner loop, singular or ill-conditioned outer kernel, ...).

    Examples:
        The mean is the closed form; the covariance of each test task is symmetric positive semi-definite:

        >>> import numpy as np, ntk_bridge as nb
        >>> spec, adapt = nb.MLPSpec(depth=1), nb.Adaptation(lr=0.1, steps=2)
        >>> train = nb.tasks.shared_feature(3, 3, 4, dim=4, seed=0)
        >>> test = nb.tasks.shared_feature(2, 3, 4, dim=4, seed=1)
        >>> d = nb.predict.distribution(spec, train, test, "mtl-shared", adapt=adapt)
        >>> mean = nb.predict.closed_form("mtl-shared", nb.predict.analytic(spec), train, test, adapt=adapt)
        >>> d.cov.shape, d.full is None, bool(np.allclose(d.mean, mean))
        ((2, 4, 4), True, True)
        >>> bool(np.allclose(d.cov, d.cov.transpose(0, 2, 1))), bool(np.linalg.eigvalsh(d.cov).min() > -1e-12)
        (True, True)
    """
    kernel_fn = _kernel_fn(spec_or_kernel_fn, train)
    full = validate.flag("full", full)
    fn = predictor(parse(method), kernel_fn, train, test, adapt=adapt, ridge=ridge, consume=True, covariance=True)
    mean = np.asarray(fn(t), dtype=np.float64)
    whole = fn.cov(t, full=True) if full else None
    if whole is not None:
        nt, q = mean.shape[:2]
        blocks = np.ascontiguousarray(whole.reshape(nt, q, nt, q)[np.arange(nt), :, np.arange(nt)])
    else:
        blocks = fn.cov(t)
    return Distribution(mean, blocks, fn.info or {"cond": None}, whole)


@dataclasses.dataclass(frozen=True)
class GapDistribution:
    """``E||Delta||^2`` between two methods' test predictions from one initialization, per test task
    (``(Nt,)``) and in total: its mean part ``||mu_a - mu_b||^2`` and variance part
    ``k tr((M_a - M_b) K_P (M_a - M_b)^T)``.

    ``total`` is ``mean_part + var_part`` ``(Nt,)``; ``expected`` its sum over the test tasks (a float).

    Attributes:
      mean_part: ``(Nt,)`` float64, ``||mu_a - mu_b||^2`` over each test task's queries and outputs.
      var_part: ``(Nt,)`` float64, the expected squared difference of the two methods' random parts.

    Examples:
        A method against itself from one initialization: no gap at all.

        >>> import ntk_bridge as nb
        >>> train = nb.tasks.shared_feature(3, 3, 4, dim=4, seed=0)
        >>> test = nb.tasks.shared_feature(2, 3, 4, dim=4, seed=1)
        >>> g = nb.predict.gap_distribution(nb.MLPSpec(depth=1), train, test, "anil", "anil",
        ...                                 adapt=nb.Adaptation(lr=0.1, steps=2))
        >>> g.mean_part.shape, g.var_part.shape, g.total.shape, round(g.expected, 12)
        ((2,), (2,), (2,), 0.0)
    """

    mean_part: np.ndarray
    var_part: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.mean_part + self.var_part

    @property
    def expected(self) -> float:
        """``E||Delta||^2`` summed over the test tasks."""
        return float(self.total.sum())


def gap_distribution(spec_or_kernel_fn, train: TaskSet, test: TaskSet, method_a, method_b, *,
                     adapt: Adaptation = Adaptation(), t=None, ridge: float = 0.0) -> GapDistribution:
    """``E||Delta||^2`` of ``Delta = pred_a - pred_b`` for two methods started from one initialization.

    The processes both read (``functions``: shared-init heads share ``w0``'s process) are one; the
    others independent.  Shapes and errors as ``distribution``.

    ``E||Delta||^2 = ||mu_a - mu_b||^2 + k tr((M_a - M_b) K_P (M_a - M_b)^T)`` per test task, from both
    closed forms applied to the columns of one factor ``L`` of the processes on every point (``K_P = L L^T``).

    Args:
      spec_or_kernel_fn: an ``MLPSpec`` or ``ConvSpec`` (its analytic kernels) or a ``kernel_fn``.
      train: the training ``TaskSet``.
      test: the test ``TaskSet`` (``Nt`` tasks).
      method_a: a ``Method`` or its name.
      method_b: a ``Method`` or its name.
      adapt: the inner loop (``Adaptation``), for both methods.
      t: outer training time: ``None`` or one number ``>= 0``, for both methods.
      ridge: ``>= 0``, added to the diagonal of both outer kernels.

    Returns:
      ``GapDistribution``: ``mean_part`` and ``var_part``, ``(Nt,)`` float64 each.

    Raises:
      ValueError: ``spec_or_kernel_fn`` neither a spec nor callable, bad arguments.
      NotComputable: as the closed forms.

    Examples:
        Independent MTL heads predict no transfer's mean, but from a fresh test process, independent of the
        one no transfer reads: the gap is twice the variance, ``2 k tr(Cov)`` per task:

        >>> import numpy as np, ntk_bridge as nb
        >>> spec, adapt = nb.MLPSpec(depth=1), nb.Adaptation(lr=0.1, steps=2)
        >>> train = nb.tasks.shared_feature(3, 3, 4, dim=4, seed=0)
        >>> test = nb.tasks.shared_feature(2, 3, 4, dim=4, seed=1)
        >>> g = nb.predict.gap_distribution(spec, train, test, "no-transfer", "mtl-independent", adapt=adapt)
        >>> cov = nb.predict.distribution(spec, train, test, "no-transfer", adapt=adapt).cov
        >>> bool(np.allclose(g.mean_part, 0.0)), bool(np.allclose(g.var_part, 2 * np.trace(cov, axis1=1, axis2=2)))
        (True, True)
    """
    kernel_fn = _kernel_fn(spec_or_kernel_fn, train)
    ma, mb = parse(method_a), parse(method_b)
    lat = latent(kernel_fn, train, test, [ma, mb])
    out = []
    for m in (ma, mb):
        mean = closed_form(m, kernel_fn, train, test, adapt=adapt, ridge=ridge, t=t)
        out.append((np.asarray(mean, dtype=np.float64), _affine(m, kernel_fn, train, test, *lat.values(m), adapt, t,
                                                                 ridge)))
    (mu_a, f_a), (mu_b, f_b) = out
    k = mu_a.shape[-1]
    return GapDistribution(np.sum((mu_a - mu_b) ** 2, axis=(1, 2)), k * np.sum((f_a - f_b) ** 2, axis=(1, 2)))


def _kernel_fn(spec_or_kernel_fn, tasks: TaskSet) -> KernelFn:
    from ..spec import ConvSpec, MLPSpec
    from .spec_level import analytic, bound

    if isinstance(spec_or_kernel_fn, (MLPSpec, ConvSpec)):
        return analytic(bound(spec_or_kernel_fn, tasks))
    if not callable(spec_or_kernel_fn):
        raise ValueError(f"spec_or_kernel_fn must be an MLPSpec, a ConvSpec or a kernel_fn(x1, x2=None) -> Kernels, "
                         f"got {type(spec_or_kernel_fn).__name__}")
    return spec_or_kernel_fn
