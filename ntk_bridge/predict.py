"""Closed-form infinite-width predictors: GBML (MAML, ANIL, first-order MAML), MTL, no transfer.

Every predictor is a function of a kernel function ``kernel_fn(x1, x2=None) -> Kernels``
(``*_from_kernels``) with a thin wrapper taking an :class:`MLPSpec` (analytic kernels).
Feeding the empirical kernels of a finite net gives the exact predictions of its
linearization, which is how the tests check the formulas.  Contract: theory.md §2–4, §6.

Shapes: ``train``/``test`` are :class:`TaskSet`; predictions are ``(test tasks, query, out_dim)``.
Loss convention: ``0.5 * sum of squared errors`` over a split (not the mean).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, NamedTuple

import numpy as np
import scipy.linalg

from .kernels import Kernels, kernels
from .spec import MLPSpec
from .tasks import TaskSet

KernelFn = Callable[..., Kernels]
ALGOS = ("anil", "maml", "fomaml")
SPLITS = ("disjoint", "same")
HEADS = ("shared", "independent")
INNER = ("head", "all")
MAX_COND = 1e12  # beyond this the outer solve loses more than ~4 of float64's 16 digits


@dataclasses.dataclass(frozen=True)
class Adaptation:
    """Inner loop: ``steps`` gradient steps of size ``lr`` on ``0.5 * sum sq. err``.

    ``flow=True`` replaces the steps by gradient flow for time ``lr * steps``.
    """

    lr: float = 0.5
    steps: int = 5
    flow: bool = False

    def __post_init__(self):
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr) \
                or self.lr <= 0:
            raise ValueError(f"Adaptation.lr must be a finite number > 0, got {self.lr!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, (int, np.integer)) or self.steps < 1:
            raise ValueError(f"Adaptation.steps must be an integer >= 1, got {self.steps!r}")
        if not isinstance(self.flow, bool):
            raise ValueError(f"Adaptation.flow must be a bool, got {self.flow!r}")

    @property
    def time(self) -> float:
        """Total inner-loop time ``lr * steps``."""
        return float(self.lr * self.steps)


# --------------------------------------------------------------------------- inner loop
def inner_operator(k, adapt: Adaptation) -> np.ndarray:
    """``T = K^-1 (I - (I - lr K)^steps)`` (or ``K^-1 (I - exp(-lr steps K))`` for flow).

    Eigen-form ``T = V g(E) V^T`` with ``g(e) = (1 - (1 - lr e)^s) / e``, ``g(0) = lr s``, so a
    singular ``K`` is fine.  ``k`` is ``(..., n, n)`` symmetric; batched over leading axes.

    Raises:
      ValueError: for discrete steps with ``lr * e_max > 2`` (the inner loop diverges).
    """
    k = np.asarray(k, dtype=np.float64)
    if k.ndim < 2 or k.shape[-1] != k.shape[-2]:
        raise ValueError(f"k must be (..., n, n), got shape {k.shape}")
    e, v = np.linalg.eigh(k)
    x = adapt.lr * e
    if not adapt.flow and np.max(x) > 2.0:
        raise ValueError(
            f"inner loop diverges: lr * lambda_max = {np.max(x):.4g} > 2 for Adaptation(lr={adapt.lr}, "
            f"steps={adapt.steps}); use lr < {2.0 / np.max(e):.4g}, or flow=True")
    g = adapt.lr * _g_scaled(x, adapt.steps, adapt.flow)
    return np.einsum("...ij,...j,...kj->...ik", v, g, v)


def _g_scaled(x: np.ndarray, s: int, flow: bool) -> np.ndarray:
    """``(1 - (1 - x)^s) / x`` (discrete) or ``(1 - exp(-s x)) / x`` (flow), ``s`` at ``x = 0``."""
    small = np.abs(x) < 1e-6
    xs = np.where(small, 1.0, x)
    if flow:
        exact = -np.expm1(-s * xs) / xs
        series = s - s * s * x / 2 + s ** 3 * x * x / 6
    else:
        exact = (1.0 - (1.0 - xs) ** s) / xs
        series = s - s * (s - 1) / 2 * x + s * (s - 1) * (s - 2) / 6 * x * x
    return np.where(small, series, exact)


# --------------------------------------------------------------------------- outer solve
class Solve(NamedTuple):
    """Outer coefficients ``coef`` and the condition number of the (meta-)kernel solved."""

    coef: np.ndarray
    cond: float


def _outer_solve(k: np.ndarray, r: np.ndarray, *, ridge: float, t: float | None, name: str,
                 symmetric: bool = True) -> Solve:
    """``(K + ridge I)^-1 r`` (``t=None``) or ``K^-1 (I - exp(-t K)) r`` for training time ``t``.

    Raises ``ValueError`` (suggesting ``ridge``) when ``K`` is singular, indefinite or has a
    condition number above ``MAX_COND``.
    """
    n = k.shape[0]
    if ridge:
        k = k.copy()
        k[np.diag_indices(n)] += ridge
    if t is not None:
        if symmetric:
            e, v = np.linalg.eigh(k)
            emin, emax = e[0], e[-1]
            if emin < -1e-10 * max(abs(emax), 1.0):
                raise ValueError(f"{name} is indefinite (smallest eigenvalue {emin:.3g}); add ridge > {-emin:.3g}")
            g = t * _g_scaled(t * e, 1, True)
            return Solve(v @ (g[:, None] * (v.T @ r)), _cond_eig(e))
        # (I - exp(-t K)) = t K phi1(-t K); expm of the augmented matrix gives phi1 exactly.
        aug = np.zeros((2 * n, 2 * n))
        aug[:n, :n], aug[:n, n:] = -t * k, np.eye(n)
        phi1 = scipy.linalg.expm(aug)[:n, n:]  # = int_0^1 exp(-s t K) ds
        return Solve(t * phi1 @ r, float(np.linalg.cond(k)))
    if symmetric:
        norm1, scale = np.linalg.norm(k, 1), np.trace(k) / n
        try:  # the caller's k is not needed afterwards: factor in place (saves a copy of n^2 floats)
            factor = scipy.linalg.cho_factor(k, lower=True, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            raise ValueError(f"{name} is singular or indefinite (Cholesky failed); pass ridge > 0, "
                             f"e.g. ridge={1e-8 * scale:.3g}") from None
        rcond, _ = scipy.linalg.lapack.dpocon(factor[0], norm1, uplo="L")
        cond = 1.0 / rcond if rcond > 0 else math.inf
        _check_cond(cond, name, scale)
        return Solve(scipy.linalg.cho_solve(factor, r, check_finite=False), cond)
    lu, piv = scipy.linalg.lu_factor(k, check_finite=False)
    rcond, _ = scipy.linalg.lapack.dgecon(lu, np.linalg.norm(k, 1), norm="1")
    cond = 1.0 / rcond if rcond > 0 else math.inf
    _check_cond(cond, name, np.trace(k) / n)
    return Solve(scipy.linalg.lu_solve((lu, piv), r, check_finite=False), cond)


def _cond_eig(e: np.ndarray) -> float:
    return float(e[-1] / e[0]) if e[0] > 0 else math.inf


def _check_cond(cond: float, name: str, scale: float) -> None:
    """Raise unless ``cond < MAX_COND``; ``scale`` (mean eigenvalue) sizes the suggested ridge."""
    if not cond < MAX_COND:
        raise ValueError(f"{name} is ill-conditioned (condition number ~{cond:.3g} > {MAX_COND:.0e}); "
                         f"pass ridge > 0, e.g. ridge={1e-8 * scale:.3g}")


# --------------------------------------------------------------------------- helpers
def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, x.shape[-1])


def _blocks(k: np.ndarray, n1: int, n2: int) -> np.ndarray:
    """``(N1*p1, N2*p2)`` -> ``(N1, p1, N2, p2)``."""
    return k.reshape(n1, k.shape[0] // n1, n2, k.shape[1] // n2)


def _diag_blocks(k4: np.ndarray) -> np.ndarray:
    """Task-diagonal blocks ``(N, p1, N, p2)`` -> ``(N, p1, p2)``."""
    return np.einsum("iaib->iab", k4)


def _check_common(train: TaskSet | None, test: TaskSet, adapt: Adaptation, ridge: float, t) -> None:
    if not isinstance(test, TaskSet):
        raise ValueError(f"test must be a TaskSet, got {type(test).__name__}")
    if train is not None:
        if not isinstance(train, TaskSet):
            raise ValueError(f"train must be a TaskSet, got {type(train).__name__}")
        train.check_compatible(test, "test")
    if not isinstance(adapt, Adaptation):
        raise ValueError(f"adapt must be an Adaptation, got {type(adapt).__name__}")
    if not (isinstance(ridge, (int, float)) and math.isfinite(ridge) and ridge >= 0):
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}")
    if t is not None and not (isinstance(t, (int, float)) and math.isfinite(t) and t >= 0):
        raise ValueError(f"t must be None (trained to convergence) or a finite number >= 0, got {t!r}")


def _choice(value, options, name):
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")


def _finetune(f_s: np.ndarray, f_q: np.ndarray, k_ss: np.ndarray, k_qs: np.ndarray, ys: np.ndarray,
              adapt: Adaptation) -> np.ndarray:
    """Test-time adaptation ``f(X') + K(X', X) T (Y - f(X))``, batched over test tasks."""
    tt = inner_operator(k_ss, adapt)
    return f_q + np.einsum("nqs,nst,ntk->nqk", k_qs, tt, ys - f_s)


def _test_kernels(kernel_fn: KernelFn, test: TaskSet) -> tuple[Kernels, Kernels]:
    """Per-test-task kernels ``(support, support)`` and ``(query, support)``, each ``(N, ., .)``."""
    n = test.n_tasks
    x = np.concatenate([test.xs, test.xq], axis=1)
    k = kernel_fn(_flat(x))
    s = test.n_support
    th = _diag_blocks(_blocks(k.theta, n, n))
    sg = _diag_blocks(_blocks(k.sigma, n, n))
    return (Kernels(th[:, :s, :s], sg[:, :s, :s]), Kernels(th[:, s:, :s], sg[:, s:, :s]))


# --------------------------------------------------------------------------- GBML
class MetaNTK(NamedTuple):
    """GBML in the NTK regime (theory.md §3) for ``N`` training tasks, inner set ``X_i``, outer ``X'_i``.

    ``phi``: meta-NTK ``dF dF^T`` (or first-order ``Psi``), ``(N*q, N*q)``; ``f0``: initial
    meta-output ``K_in(X', X) T Y`` ``(N, q, k)``; ``a``: ``T_i K_in(X_i, X'_i)`` ``(N, s, q)``;
    ``x_in, y_in, x_out, y_out``: the inner and outer sets ``(N, s|q, d|k)``.
    """

    phi: np.ndarray
    f0: np.ndarray
    a: np.ndarray
    x_in: np.ndarray
    y_in: np.ndarray
    x_out: np.ndarray
    y_out: np.ndarray


def _gbml_sets(train: TaskSet, split: str):
    if split == "same":
        x, y = train.merged()
        return x, y, x, y
    return train.xs, train.ys, train.xq, train.yq


def meta_ntk(kernel_fn: KernelFn, train: TaskSet, *, algo: str = "anil", adapt: Adaptation = Adaptation(),
             split: str = "disjoint") -> MetaNTK:
    """Meta-NTK ``Phi_ij = dF_i dF_j^T`` with ``dF_i = J(X'_i) - K_in(X'_i, X_i) T_i J(X_i)``.

    ``K_in = Theta`` (MAML, FOMAML) or ``Sigma`` (ANIL).  FOMAML: ``Psi_ij = dF_i J(X'_j)^T``.
    """
    _choice(algo, ALGOS, "algo")
    _choice(split, SPLITS, "split")
    x_in, y_in, x_out, y_out = _gbml_sets(train, split)
    n, s, q = train.n_tasks, x_in.shape[1], x_out.shape[1]
    same = split == "same"
    z = _flat(x_in) if same else np.concatenate([_flat(x_in), _flat(x_out)])
    k = kernel_fn(z)
    th = k.theta
    k_in = k.sigma if algo == "anil" else k.theta
    ns = n * s
    th_ii = _blocks(th[:ns, :ns], n, n)
    th_oi = th_ii if same else _blocks(th[ns:, :ns], n, n)
    th_oo = th_ii if same else _blocks(th[ns:, ns:], n, n)
    kin_ii = _diag_blocks(_blocks(k_in[:ns, :ns], n, n))                       # (N, s, s)
    kin_io = kin_ii if same else _diag_blocks(_blocks(k_in[:ns, ns:], n, n))  # (N, s, q)
    a = np.einsum("nst,ntq->nsq", inner_operator(kin_ii, adapt), kin_io)      # T_i K_in(X_i, X'_i)
    f0 = np.einsum("nsq,nsk->nqk", a, y_in)
    # Theta(X'_i, X'_j) - A_i^T Theta(X_i, X'_j): the rows dF_i J(X'_j)^T.
    psi = th_oo - np.einsum("isq,isjr->iqjr", a, np.transpose(th_oi, (2, 3, 0, 1)), optimize=True)
    if algo != "fomaml":
        # ... minus (Theta(X'_i, X_j) - A_i^T Theta(X_i, X_j)) A_j
        rows_in = th_oi - np.einsum("isq,isjt->iqjt", a, th_ii, optimize=True)
        psi = psi - np.einsum("iqjt,jtr->iqjr", rows_in, a, optimize=True)
    m = n * q
    return MetaNTK(psi.reshape(m, m), f0, a, x_in, y_in, x_out, y_out)


def gbml_from_kernels(kernel_fn: KernelFn, train: TaskSet, test: TaskSet, *, algo: str = "anil",
                      adapt: Adaptation = Adaptation(), split: str = "disjoint", ridge: float = 0.0,
                      t: float | None = None, return_info: bool = False):
    """GBML meta-trained for outer time ``t`` (``None``: to convergence), adapted on each test task.

    ``alpha = Phi^-1 (Y' - F0)``, ``g(x) = psi(x) alpha`` with
    ``psi(x)_j = Theta(x, X'_j) - Theta(x, X_j) T_j K_in(X_j, X'_j)`` (FOMAML: ``Theta(x, X'_j)``);
    prediction ``g(X') + K_in(X', X) T (Y - g(X))`` on the test query.

    Raises:
      ValueError: bad arguments, a diverging inner loop, or a singular/ill-conditioned meta-NTK.
    """
    _check_common(train, test, adapt, ridge, t)
    mk = meta_ntk(kernel_fn, train, algo=algo, adapt=adapt, split=split)
    solve = _outer_solve(mk.phi, (mk.y_out - mk.f0).reshape(mk.phi.shape[0], -1), ridge=ridge, t=t,
                         name=f"meta-NTK ({algo}, split={split!r})", symmetric=algo != "fomaml")
    n = train.n_tasks
    alpha = solve.coef.reshape(mk.y_out.shape)                                  # (N, q, k)
    x_test = _flat(np.concatenate([test.xs, test.xq], axis=1))
    g = kernel_fn(x_test, _flat(mk.x_out)).theta @ _flat(alpha)
    if algo != "fomaml":
        beta = np.einsum("jsq,jqk->jsk", mk.a, alpha)                           # A_j alpha_j
        g = g - kernel_fn(x_test, _flat(mk.x_in)).theta @ _flat(beta)
    g = g.reshape(test.n_tasks, test.n_support + test.n_query, -1)
    k_ss, k_qs = _test_kernels(kernel_fn, test)
    pick = (lambda k: k.sigma) if algo == "anil" else (lambda k: k.theta)
    pred = _finetune(g[:, :test.n_support], g[:, test.n_support:], pick(k_ss), pick(k_qs), test.ys, adapt)
    if return_info:
        return pred, {"cond": solve.cond, "n_outer": int(mk.phi.shape[0]), "train_tasks": n}
    return pred


# --------------------------------------------------------------------------- MTL
def mtl_from_kernels(kernel_fn: KernelFn, train: TaskSet, test: TaskSet, *, heads: str = "shared",
                     adapt: Adaptation = Adaptation(), ridge: float = 0.0, t: float | None = None,
                     return_info: bool = False):
    """MTL (shared body, a head per task, trained on support ∪ query), then head fine-tuning.

    ``Theta_MTL((x,i),(x',j)) = Theta_body(x,x') + [i==j] Sigma(x,x')`` (shared head init) or
    ``[i==j] Theta(x,x')`` (independent init); ``beta = Theta_MTL(D,D)^-1 Y_D``; on a test task
    the common initial head gives ``h(x) = sum_j Theta_cross(x, D_j) beta_j`` with
    ``Theta_cross = Theta_body`` (shared) or ``0`` (independent: the test head is none of the
    trained heads, and heads decouple at infinite width); then ``h(X') + Sigma(X',X) T (Y - h(X))``.
    """
    _check_common(train, test, adapt, ridge, t)
    _choice(heads, HEADS, "heads")
    x, y = train.merged()
    n, m = x.shape[:2]
    k = kernel_fn(_flat(x))
    diag = np.arange(n)
    if heads == "shared":
        k_mtl = k.theta_body
        _blocks(k_mtl, n, n)[diag, :, diag, :] += _blocks(k.sigma, n, n)[diag, :, diag, :]
    else:
        k_mtl = np.zeros_like(k.theta)
        _blocks(k_mtl, n, n)[diag, :, diag, :] = _blocks(k.theta, n, n)[diag, :, diag, :]
    del k  # the solve below factors k_mtl in place; free the n^2 kernels first
    solve = _outer_solve(k_mtl, _flat(y), ridge=ridge, t=t, name=f"MTL kernel (heads={heads!r})")
    x_test = _flat(np.concatenate([test.xs, test.xq], axis=1))
    if heads == "shared":
        h = kernel_fn(x_test, _flat(x)).theta_body @ solve.coef
    else:
        h = np.zeros((x_test.shape[0], y.shape[-1]))
    h = h.reshape(test.n_tasks, test.n_support + test.n_query, -1)
    k_ss, k_qs = _test_kernels(kernel_fn, test)
    pred = _finetune(h[:, :test.n_support], h[:, test.n_support:], k_ss.sigma, k_qs.sigma, test.ys, adapt)
    if return_info:
        return pred, {"cond": solve.cond, "n_outer": int(k_mtl.shape[0]), "train_tasks": n}
    return pred


# --------------------------------------------------------------------------- no transfer
def no_transfer_from_kernels(kernel_fn: KernelFn, test: TaskSet, *, adapt: Adaptation = Adaptation(),
                             inner: str = "head") -> np.ndarray:
    """Test-time fine-tuning from the zero function: ``K_in(X', X) T Y`` (``K_in = Sigma`` or ``Theta``)."""
    _check_common(None, test, adapt, 0.0, None)
    _choice(inner, INNER, "inner")
    k_ss, k_qs = _test_kernels(kernel_fn, test)
    pick = (lambda k: k.sigma) if inner == "head" else (lambda k: k.theta)
    zero_s, zero_q = np.zeros_like(test.ys), np.zeros(test.yq.shape)
    return _finetune(zero_s, zero_q, pick(k_ss), pick(k_qs), test.ys, adapt)


# --------------------------------------------------------------------------- spec-level API
def analytic(spec: MLPSpec, backend: str = "native") -> KernelFn:
    """The infinite-width kernel function of ``spec``: ``(x1, x2=None) -> Kernels``."""
    if not isinstance(spec, MLPSpec):
        raise ValueError(f"spec must be an MLPSpec, got {type(spec).__name__}")

    def kernel_fn(x1, x2=None) -> Kernels:
        return kernels(spec, x1, x2, backend=backend)

    return kernel_fn


def _check_out_dim(spec: MLPSpec, tasks: TaskSet, name: str) -> None:
    if tasks.out_dim != spec.out_dim:
        raise ValueError(f"{name}.ys has out_dim {tasks.out_dim}, spec.out_dim is {spec.out_dim}")


def gbml(spec: MLPSpec, train: TaskSet, test: TaskSet, *, algo: str = "anil", adapt: Adaptation = Adaptation(),
         split: str = "disjoint", ridge: float = 0.0, t: float | None = None, backend: str = "native",
         return_info: bool = False):
    """Infinite-width GBML predictor of ``spec`` (see :func:`gbml_from_kernels`)."""
    _check_out_dim(spec, train, "train")
    return gbml_from_kernels(analytic(spec, backend), train, test, algo=algo, adapt=adapt, split=split,
                             ridge=ridge, t=t, return_info=return_info)


def mtl(spec: MLPSpec, train: TaskSet, test: TaskSet, *, heads: str = "shared", adapt: Adaptation = Adaptation(),
        ridge: float = 0.0, t: float | None = None, backend: str = "native", return_info: bool = False):
    """Infinite-width MTL predictor of ``spec`` (see :func:`mtl_from_kernels`)."""
    _check_out_dim(spec, train, "train")
    return mtl_from_kernels(analytic(spec, backend), train, test, heads=heads, adapt=adapt, ridge=ridge, t=t,
                            return_info=return_info)


def no_transfer(spec: MLPSpec, test: TaskSet, *, adapt: Adaptation = Adaptation(), inner: str = "head",
                backend: str = "native") -> np.ndarray:
    """Infinite-width no-transfer baseline of ``spec`` (see :func:`no_transfer_from_kernels`)."""
    _check_out_dim(spec, test, "test")
    return no_transfer_from_kernels(analytic(spec, backend), test, adapt=adapt, inner=inner)
