"""Outer training in function space, factorized once and evaluated at any training time ``t``.

Gradient flow on ``0.5 ||K c - r||``-type losses in the kernel regime gives the coefficients
(theory.md §3-4, ``neural_tangents.predict.gradient_descent_mse`` style)::

    coef(t)    = K^-1 (I - exp(-t K)) r        (K + ridge I in place of K)
    coef(None) = K^-1 r                        (trained to convergence)

``K`` is ``(M, M)``: symmetric PSD (meta-NTK ``Phi``, the MTL kernel) or, for first-order
MAML, the non-symmetric ``Psi``; ``r`` is ``(M, k)``.  Factorizations are computed lazily and
once each: Cholesky (symmetric) or LU for ``t = None``, an eigendecomposition for finite ``t``.
Any ``t`` up to the largest float is exact: the gain ``(1 - exp(-t e)) / e`` reaches ``1 / e``
smoothly (``.inner_loop.flow_gain``).  A factorization that runs longer than a few seconds
says so on stderr (``.progress``).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from ..errors import NotComputable
from .device import Backend, host
from .inner_loop import SATURATED, flow_gain
from .progress import Progress

MAX_COND = 1e12      # beyond this the outer solve loses more than ~4 of float64's 16 digits
MAX_EIGVEC_COND = 1e8  # non-symmetric eigen-form accurate to ~1e-8 below this; exact expm above


class OuterSolve:
    """``coef(t)`` for one kernel ``k (M, M)`` and right-hand side ``r (M, k)`` on backend ``be``.

    Args:
      k: backend array (``be.put``) ``(M, M)``; with ``consume=True`` it may be overwritten (one-shot use).
      r: backend array ``(M, k)``, the right-hand side.
      be: the backend ``k`` and ``r`` live on.
      ridge: added to the diagonal of ``k``.
      name: how error messages call ``k`` (``"meta-NTK (anil, split='same')"``).
      symmetric: ``False`` for first-order MAML's ``Psi``.
      fix: extra advice for error messages (what else the user can change).
      consume: ``k`` may be overwritten.

    Attributes:
      cond: condition number of the last factorization used (``None`` before the first ``coef``): LAPACK's
        1-norm estimate after a Cholesky or LU solve (``t=None``), ``max e / min e`` (``max|lam| / min|lam|``
        for ``Psi``) after an eigendecomposition (finite ``t``).

    Raises:
      NotComputable: ``k`` has non-finite entries (its lower triangle, for a symmetric ``k`` on NumPy).
        ``coef`` and ``apply`` raise the solve's errors (singular, indefinite, ill-conditioned ``k``, ...).
      RuntimeError: from ``coef``, a second kind of ``t`` after ``consume=True`` overwrote ``k``.

    Examples:
        ``coef(t) = K^-1 (I - exp(-t K)) r``, checked against SciPy's matrix exponential; ``t=None`` solves:

        >>> import numpy as np, scipy.linalg
        >>> from ntk_bridge.predict import OuterSolve
        >>> from ntk_bridge.predict.device import backend
        >>> k, r = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([[1.0], [2.0]])
        >>> solve = OuterSolve(k, r, be=backend("numpy"), name="K")
        >>> bool(np.allclose(solve.coef(None), np.linalg.solve(k, r)))
        True
        >>> w = np.linalg.solve(k, np.eye(2) - scipy.linalg.expm(-3.0 * k))
        >>> bool(np.allclose(solve.coef(3.0), w @ r)), bool(np.allclose(solve.apply(3.0, np.eye(2)), w))
        (True, True)
        >>> round(solve.cond, 4)                          # e_max / e_min = (3 + sqrt 2) / (3 - sqrt 2)
        2.7836
        >>> OuterSolve(np.ones((2, 2)), r, be=backend("numpy"), name="K").coef(None)
        Traceback (most recent call last):
        ...
        ntk_bridge.errors.NotComputable: K is singular or indefinite (Cholesky failed): ...; pass ridge > 0, ...
    """

    def __init__(self, k, r, *, be: Backend, ridge: float = 0.0, name: str = "kernel", symmetric: bool = True,
                 consume: bool = False, fix: str = ""):
        xp = be.xp
        finite = all_finite(k, lower=symmetric) if be.is_numpy else bool(xp.all(xp.isfinite(k)))
        if not finite:
            raise NotComputable(f"{name} has non-finite entries (overflow in the kernels); rescale the inputs, "
                                f"e.g. to the unit sphere")
        n = k.shape[0]
        if ridge:
            if be.is_numpy:
                k = k if consume else k.copy()
                k[np.diag_indices(n)] += ridge
            else:
                k = k.at[xp.arange(n), xp.arange(n)].add(ridge)
        self._k, self._r, self._be, self._name = k, r, be, name
        self._symmetric, self._consume, self._fix = symmetric, consume, fix
        mean_eig = abs(float(xp.trace(k))) / n
        # The fix a failure suggests: a ridge of 1e-8 x the mean |eigenvalue|, unless the kernel has
        # underflowed (that mean is not a normal number): then no ridge helps, the inputs do.
        self._remedy = (f"pass ridge > 0, e.g. ridge={1e-8 * mean_eig:.3g}{fix}" if mean_eig >= np.finfo(np.float64).tiny
                        else f"its mean eigenvalue is {mean_eig:.3g}: the kernel underflows, the inputs are far too "
                             f"small (Theta(x, x) grows like |x|^2); rescale them, e.g. to the unit sphere")
        self._cache: dict = {}
        self._progress: Progress | None = None   # the latest coef call's, for its stages
        self.cond: float | None = None

    # ------------------------------------------------------------------ public
    def coef(self, t: float | None):
        """``coef(t)``, ``(M, k)`` backend array; ``t=None``: trained to convergence.

        Raises:
          NotComputable: singular, indefinite or ill-conditioned ``k`` (``t=None``), indefinite ``k``
            (finite ``t``), coefficients that overflow (finite ``t``, ``k`` singular up to round-off), or a
            first-order ``Psi`` with an eigenvalue of real part ``<= 0``.
        """
        n = self._r.shape[0]
        with Progress(f"{self._name}, {n} x {n}", "outer solve") as self._progress:
            if self._symmetric:
                return self._cholesky_solve() if t is None else self._symmetric_flow(t)
            self._check_converges(t)
            return self._lu_solve() if t is None else self._general_flow(t)

    def apply(self, t: float | None, b, *, transpose: bool = False):
        """``W(t) b`` (``W(t)^T b`` with ``transpose``) for any right-hand side ``b (M, c)``: the operator
        ``coef(t) = W(t) r`` applies to ``r``, ``W(t) = K^-1 (I - exp(-t K))`` (``K^-1`` for ``t=None``).

        Reuses the factorization of ``coef`` (called first, cached: same checks, same errors); ``W(t)^T`` is
        ``W(t)`` for a symmetric ``K`` and ``K^-T (I - exp(-t K^T))`` for first-order MAML's ``Psi``.
        Returns a backend array ``(M, c)``.
        """
        self.coef(t)
        b = self._be.put(b)
        if self._symmetric:
            if t is None:
                return self._cache["chol_solve"](b)
            e, v, _, _ = self._cache["eigh"]
            return v @ (flow_gain(t, e)[:, None] * (v.T @ b))
        if t is None:
            return self._cache["lu_solve"](b, transpose)
        if ("expm", t) in self._cache:
            w = self._cache[("expm", t)]
            return self._be.put((w.T if transpose else w) @ host(b))
        lam, vecs = self._eig()
        vinv, b = self._cache["vinv"], host(b)
        gain = flow_gain(t, lam)[:, None]
        out = vinv.T @ (gain * (vecs.T @ b)) if transpose else vecs @ (gain * (vinv @ b))
        return self._be.put(out.real)

    # ------------------------------------------------------------------ symmetric
    def _symmetric_flow(self, t: float):
        xp = self._be.xp
        if "eigh" not in self._cache:
            self._stage("symmetric eigendecomposition")
            if self._be.is_numpy:   # k.T's upper triangle is k's lower one, in the Fortran order LAPACK works in
                e, v = scipy.linalg.eigh(self._need_k().T, lower=False, overwrite_a=self._consume, check_finite=False)
                self._release()
            else:
                e, v = xp.linalg.eigh(self._need_k())
            emin, emax = float(e[0]), float(e[-1])
            if emin < -1e-10 * abs(emax):   # PSD up to round-off; beyond it the flow diverges
                raise NotComputable(f"{self._name} is indefinite (smallest eigenvalue {emin:.3g}); add ridge > "
                                    f"{-emin:.3g}{self._fix}")
            self._cache["eigh"] = (e, v, v.T @ self._r, emax / emin if emin > 0 else math.inf)
        e, v, vr, self.cond = self._cache["eigh"]
        with np.errstate(over="ignore", invalid="ignore"):   # an overflow is raised on just below
            coef = v @ (flow_gain(t, e)[:, None] * vr)
        self._check_finite(coef, t, float(e[0]))
        return coef

    def _cholesky_solve(self):
        if "chol" in self._cache:
            return self._cache["chol"]
        be, k, r = self._be, self._need_k(), self._r
        self._stage("Cholesky factorization")
        if be.is_numpy:   # reads k's lower triangle only; in place (on k.T, Fortran order) when consuming
            norm1 = symmetric_norm1(k)
            factor, info = cholesky_upper(k.T, self._consume)
            if info != 0:
                raise NotComputable(self._singular("Cholesky failed")) from None
            rcond, _ = scipy.linalg.lapack.dpocon(factor, norm1, uplo="U")
            self._check_cond(1.0 / rcond if rcond > 0 else math.inf)
            solve = lambda v: scipy.linalg.cho_solve((factor, False), v, check_finite=False)   # noqa: E731
        else:
            import jax.scipy.linalg as jsl

            xp = be.xp
            low = xp.linalg.cholesky(k)
            if not bool(xp.all(xp.isfinite(low))):
                raise NotComputable(self._singular("Cholesky failed"))
            solve = lambda v: jsl.cho_solve((low, True), v)   # noqa: E731
            self._check_cond(float(xp.linalg.norm(k, 1)) * inverse_norm1(solve, solve, k.shape[0], xp))
        coef = solve(r)
        self._release()
        self._cache["chol"], self._cache["chol_solve"] = coef, solve
        return coef

    # ------------------------------------------------------------------ non-symmetric (first-order MAML)
    def _eig(self):
        if "eig" not in self._cache:
            self._stage("non-symmetric eigendecomposition")
            self._cache["eig"] = np.linalg.eig(host(self._need_k()))
        return self._cache["eig"]

    def _check_converges(self, t: float | None) -> None:
        """Raise unless ``dc/dt = r - K c`` converges: every eigenvalue of ``K`` has ``Re > 0`` (theory.md §3).

        Finite ``t`` reads the eigenvalues off the eigendecomposition its flow uses anyway.  ``t = None``
        needs no eigenvectors: first ``_symmetric_part_positive``, one Cholesky factorization
        (Bendixson: ``Re lam >= lambda_min((K + K^T) / 2)``, a sufficient condition); only where it
        fails are the eigenvalues computed, without eigenvectors (LAPACK ``dgeev`` with ``jobvr='N'``),
        and tested as for finite ``t``.  Same decision either way.  (Eigenvalues and eigenvectors for
        ``t = None`` made FOMAML's closed form 11-17x slower than MAML's, at 3x its peak memory, at 300
        training tasks: ``benchmarks/predict_scaling.py --tasks 300 --methods maml fomaml``.)
        """
        if t is not None or "eig" in self._cache:
            lam = self._eig()[0]
        else:
            if "eigvals" not in self._cache:
                self._cache["eigvals"] = None if self._symmetric_part_positive() else self._eigvals()
            lam = self._cache["eigvals"]
            if lam is None:   # proven convergent
                return
        worst = lam[np.argmin(lam.real)]
        floor = 0.0 if t is None else -1e-10 * float(np.max(np.abs(lam)))   # round-off margin for finite t
        if worst.real <= floor:
            what = ("the t=None solve is a point training never reaches" if t is None
                    else f"at t={t:g} the flow has grown like exp({-worst.real * t:.3g})")
            raise NotComputable(
                f"first-order meta-training does not converge: {self._name} has the eigenvalue "
                f"{worst.real:.4g}{worst.imag:+.4g}j with real part <= 0 (gradient flow converges only if every "
                f"eigenvalue of the non-symmetric Psi has a positive real part); {what}. Lower adapt.lr, use "
                f"algo='maml', or pass ridge > {max(-worst.real, 0.0):.3g}")

    def _symmetric_part_positive(self) -> bool:
        """Whether ``S - delta I`` is positive definite (its Cholesky factorization succeeds), ``S = K + K^T``.

        Then every eigenvalue of ``K`` has ``Re lam > 0``: for ``K v = lam v``, ``|v| = 1``,
        ``2 Re lam = v* S v >= lambda_min(S) > delta``.  The margin ``delta = M eps sum_i |S_ii|`` is at
        least ``M eps ||S||_2`` (``tr(S) >= ||S||_2`` for ``S >= 0``), Cholesky's backward error, so a
        success is no round-off artefact.  Costs one ``(M, M)`` array (on the host) and half an LU.
        """
        self._stage("convergence test (Cholesky of the symmetric part)")
        s = symmetric_part_lower(host(self._need_k()))
        diag = np.diag_indices(s.shape[0])
        s[diag] -= s.shape[0] * np.finfo(np.float64).eps * float(np.abs(s[diag]).sum())
        return cholesky_upper(s.T, True)[1] == 0   # s.T's upper triangle is s's lower one, in Fortran order

    def _eigvals(self) -> np.ndarray:
        self._stage("convergence test (eigenvalues)")
        return np.linalg.eigvals(host(self._need_k()))

    def _lu_solve(self):
        if "lu" in self._cache:
            return self._cache["lu"]
        be, k, r = self._be, self._need_k(), self._r
        self._stage("LU factorization")
        if be.is_numpy:   # LU of k.T (Fortran order: in place when consuming); cond_1(k) = cond_inf(k.T)
            norm1 = column_abs_sums(k).max()
            try:
                lu, piv = scipy.linalg.lu_factor(k.T, overwrite_a=self._consume, check_finite=False)
            except (np.linalg.LinAlgError, ValueError):
                raise NotComputable(self._singular("LU failed")) from None
            rcond, _ = scipy.linalg.lapack.dgecon(lu, norm1, norm="I")
            self._check_cond(1.0 / rcond if rcond > 0 else math.inf)
            # the factors are k.T's: k x = b is the transposed solve, k^T x = b the plain one
            solve = lambda v, transpose=False: scipy.linalg.lu_solve(   # noqa: E731
                (lu, piv), v, trans=0 if transpose else 1, check_finite=False)
        else:
            import jax.scipy.linalg as jsl

            xp = be.xp
            factor = jsl.lu_factor(k)
            inv_norm = inverse_norm1(lambda v: jsl.lu_solve(factor, v), lambda v: jsl.lu_solve(factor, v, trans=1),
                                     k.shape[0], xp)
            cond = float(xp.linalg.norm(k, 1)) * inv_norm
            self._check_cond(cond if math.isfinite(cond) else math.inf)
            solve = lambda v, transpose=False: jsl.lu_solve(factor, v, trans=int(transpose))   # noqa: E731
        coef = solve(r)
        self._release()
        self._cache["lu"], self._cache["lu_solve"] = coef, solve
        return coef

    def _general_flow(self, t: float):
        """``V diag((1 - exp(-t lam)) / lam) V^-1 r`` on the host (exact ``expm`` for an ill-conditioned ``V``)."""
        lam, vecs = self._eig()
        if "vinv" not in self._cache:
            vinv = np.linalg.inv(vecs)
            self._cache["vinv"] = vinv
            self._cache["vinv_r"] = (vinv @ host(self._r), np.linalg.norm(vecs, 1) * np.linalg.norm(vinv, 1))
        vinv_r, vcond = self._cache["vinv_r"]
        self.cond = float(np.max(np.abs(lam)) / np.min(np.abs(lam))) if np.min(np.abs(lam)) > 0 else math.inf
        low = float(np.min(lam.real))
        if vcond < MAX_EIGVEC_COND:
            with np.errstate(over="ignore", invalid="ignore"):   # an overflow is raised on below
                coef = (vecs @ (flow_gain(t, lam)[:, None] * vinv_r)).real
        else:
            # Nearly defective Psi: (I - exp(-tK)) K^-1 = t phi1(-tK), phi1 from the augmented matrix's expm.
            # exp(-tK) decays like exp(-t low) times a polynomial in t: zero in float64 from t low = 4 SATURATED
            # on, so t is capped there (-t K would overflow near the largest float).
            if ("expm", t) not in self._cache:
                self._stage("matrix exponential")
                tc = min(t, 4 * SATURATED / low) if low > 0 else t
                k = host(self._need_k())
                n = k.shape[0]
                aug = np.zeros((2 * n, 2 * n))
                aug[:n, :n], aug[:n, n:] = -tc * k, np.eye(n)
                self._cache[("expm", t)] = tc * scipy.linalg.expm(aug)[:n, n:]   # W(t) itself
            coef = self._cache[("expm", t)] @ host(self._r)
        self._check_finite(coef, t, low)
        return self._be.put(coef)

    # ------------------------------------------------------------------ helpers
    def _stage(self, name: str) -> None:
        if self._progress is not None:   # None when a private method is called directly
            self._progress.stage(name)

    def _need_k(self):
        if self._k is None:   # a consuming factorization overwrote it: one-shot use only
            raise RuntimeError("OuterSolve(consume=True) evaluates one kind of t only")
        return self._k

    def _release(self) -> None:
        if self._consume:
            self._k = None

    def _check_finite(self, coef, t: float, low: float) -> None:
        """Raise if ``coef(t)`` overflowed: ``k`` has an eigenvalue (real part ``low``) <= 0 up to round-off."""
        if not bool(self._be.xp.all(self._be.xp.isfinite(coef))):
            raise NotComputable(
                f"at t={t:g} the outer coefficients overflow: {self._name} is singular up to round-off (eigenvalue "
                f"with real part {low:.3g}), along which the flow grows without bound; pass a smaller t, or "
                f"{self._remedy}")

    def _singular(self, how: str) -> str:
        return f"{self._name} is singular or indefinite ({how}): the outer solve has no unique solution; {self._remedy}"

    def _check_cond(self, cond: float) -> None:
        """Raise unless ``cond < MAX_COND``."""
        self.cond = cond
        if not cond < MAX_COND:
            raise NotComputable(f"{self._name} is ill-conditioned (condition number ~{cond:.3g} > {MAX_COND:.0e}); "
                                f"{self._remedy}")


def inverse_norm1(solve, solve_t, n: int, xp, max_iter: int = 5) -> float:
    """Estimate ``||K^-1||_1`` from a few solves (Hager 1984, Higham 1988; LAPACK's ``xLACN2``).

    ``solve(v) = K^-1 v``, ``solve_t(v) = K^-T v``.  A lower bound, almost always within a factor
    of 3; costs ``O(n^2)`` per iteration instead of the ``O(n^3)`` of an explicit inverse.  The
    JAX path's counterpart of SciPy's ``dpocon``/``dgecon`` estimates.
    """
    x = xp.full((n,), 1.0 / n)
    est = 0.0
    for _ in range(max_iter):
        y = solve(x)
        new = float(xp.sum(xp.abs(y)))
        if not math.isfinite(new):
            return math.inf
        if new <= est:
            break
        est = new
        z = solve_t(xp.where(y >= 0, 1.0, -1.0))
        j = int(xp.argmax(xp.abs(z)))
        if float(xp.abs(z[j])) <= float(z @ x):
            break
        x = xp.zeros((n,)).at[j].set(1.0)
    return est


ROW_CHUNK = 2048   # rows per chunk of the passes below: temporaries of ROW_CHUNK x M, never M x M
BLOCKED_ABOVE = 8192  # Cholesky of larger kernels in blocks (scipy's bundled OpenBLAS dpotrf segfaulted at 30,000)
CHOLESKY_BLOCK = 3072  # 60-64 GFLOP/s on this 2-core machine (2,048: 55; LAPACK dpotrf at 12,288: 64)


def cholesky_upper_blocked(a: np.ndarray, block: int = CHOLESKY_BLOCK) -> int:
    """Cholesky ``A = U^T U`` in place, right-looking by blocks of ``block`` columns.

    ``a`` is Fortran-ordered ``(M, M)``; only its upper triangle is read, and ``U`` is written
    there (the lower triangle of the diagonal blocks is zeroed, the rest left as it was).  Per
    block: ``U11 = chol(A11)`` (LAPACK ``dpotrf``), ``U12 = U11^-T A12`` (``dtrsm``, column
    chunk by column chunk), ``A22 -= U12^T U12`` on the upper triangle in column chunks, each
    product formed in Fortran order like ``a`` (temporaries ``M x block``, never ``M x M``).
    Returns LAPACK's ``info``: 0, or the 1-based column where ``A`` stopped being positive definite.
    """
    n = a.shape[0]
    for j0 in range(0, n, block):
        j1 = min(j0 + block, n)
        u11, info = scipy.linalg.lapack.dpotrf(a[j0:j1, j0:j1], lower=0, clean=1)
        if info != 0:
            return j0 + info if info > 0 else info
        a[j0:j1, j0:j1] = u11
        for c0 in range(j1, n, block):
            c1 = min(c0 + block, n)
            a[j0:j1, c0:c1] = scipy.linalg.blas.dtrsm(1.0, u11, a[j0:j1, c0:c1], side=0, lower=0, trans_a=1)
        u12 = a[j0:j1, j1:]
        for c0 in range(j1, n, block):
            c1 = min(c0 + block, n)
            a[j1:c1, c0:c1] -= (u12[:, c0 - j1:c1 - j1].T @ u12[:, :c1 - j1]).T
    return 0


def cholesky_upper(a: np.ndarray, overwrite: bool) -> tuple[np.ndarray, int]:
    """``A = U^T U`` from the upper triangle of the Fortran-ordered ``a``: ``(U, info)``, in place when ``overwrite``.

    ``info`` is LAPACK's (0, or the 1-based column where ``A`` stopped being positive definite).
    Above ``BLOCKED_ABOVE`` by blocks: LAPACK's one-call dpotrf crashed (SIGSEGV) at M = 30,000.
    """
    if a.shape[0] > BLOCKED_ABOVE:
        factor = a if overwrite else np.array(a, order="F")
        return factor, cholesky_upper_blocked(factor, CHOLESKY_BLOCK)
    factor, info = scipy.linalg.lapack.dpotrf(a, lower=0, overwrite_a=int(overwrite), clean=0)
    return factor, info


def symmetric_part_lower(k: np.ndarray, tile: int = 256) -> np.ndarray:
    """``k + k^T`` in the lower triangle of a new ``(M, M)`` array (the upper one unset), tile by tile.

    Square tiles keep the transposed reads in cache: ~3x faster than ``k + k.T`` at ``M = 4500``.
    """
    n = k.shape[0]
    out = np.empty_like(k)
    for i in range(0, n, tile):
        for j in range(0, i + 1, tile):
            np.add(k[i:i + tile, j:j + tile], k[j:j + tile, i:i + tile].T, out=out[i:i + tile, j:j + tile])
    return out


def all_finite(k: np.ndarray, lower: bool = False) -> bool:
    """Whether every entry of ``k`` (``lower``: of its lower triangle) is finite, chunk by chunk."""
    n = k.shape[0]
    for i in range(0, n, ROW_CHUNK):
        rows = slice(i, min(i + ROW_CHUNK, n))
        if lower:
            block = k[rows, :rows.stop]
            ok = np.isfinite(block[:, :i]).all() and np.isfinite(np.tril(block[:, i:])).all()
        else:
            ok = np.isfinite(k[rows]).all()
        if not ok:
            return False
    return True


def column_abs_sums(k: np.ndarray) -> np.ndarray:
    """``sum_i |k_ij|`` per column ``j``, chunk by chunk."""
    out = np.zeros(k.shape[1])
    for i in range(0, k.shape[0], ROW_CHUNK):
        out += np.abs(k[i:i + ROW_CHUNK]).sum(axis=0)
    return out


def symmetric_norm1(k: np.ndarray) -> float:
    """``||K||_1`` of the symmetric ``K`` whose lower triangle is ``k``'s (the upper one is not read).

    Column ``j``'s sum of ``|K|`` is ``sum_{i >= j} |k_ij|`` (column of the lower triangle) plus
    ``sum_{i < j} |k_ji|`` (row ``j`` of the strict lower triangle).
    """
    n = k.shape[0]
    cols, rows_ = np.zeros(n), np.zeros(n)
    for i in range(0, n, ROW_CHUNK):
        rows = slice(i, min(i + ROW_CHUNK, n))
        block = np.abs(k[rows, :rows.stop])
        block[:, i:] = np.tril(block[:, i:])
        cols[:rows.stop] += block.sum(axis=0)
        rows_[rows] = block.sum(axis=1) - np.diagonal(block[:, i:])
    return float(np.max(cols + rows_)) if n else 0.0
