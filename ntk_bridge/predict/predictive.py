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
    asked for (``distribution(..., full=True)``).  ``info``: the closed form's (``cond``, ...)."""

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
    ``k tr((M_a - M_b) K_P (M_a - M_b)^T)``."""

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
