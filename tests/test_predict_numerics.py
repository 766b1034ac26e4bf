"""No silent wrong answers: inner-loop numerics, first-order convergence, conflicting duplicates,
overflow, singular solves, training times up to the largest float; argument handling of the
closed forms (issue #12, #10); and no silent long computations (progress on stderr)."""
import json
import re
import time

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import ntk_bridge as nb
from conftest import rel_err
from ntk_bridge import predict
from ntk_bridge.errors import NotComputable
from ntk_bridge.predict import outer_solve, progress
from ntk_bridge.predict.device import backend

SPEC = nb.MLPSpec(depth=2)
TR = nb.tasks.shared_feature(6, 5, 10, dim=8, seed=0)
TE = nb.tasks.shared_feature(3, 5, 10, dim=8, seed=1)
AD = nb.Adaptation(0.1, 5)


# ------------------------------------------------------------------------ Adaptation
@pytest.mark.parametrize("lr,steps", [(np.float32(0.1), np.int64(5)), (jnp.asarray(0.1), jnp.asarray(5)),
                                      (np.array(0.1), np.array(5, dtype=np.int32))], ids=["numpy", "jax", "0-d"])
def test_adaptation_accepts_numeric_scalars_and_stores_plain_values(lr, steps):
    a = nb.Adaptation(lr, steps, flow=np.bool_(False))
    assert type(a.lr) is float and type(a.steps) is int and type(a.flow) is bool
    assert a.lr == pytest.approx(0.1) and a.steps == 5
    assert hash(a) == hash(nb.Adaptation(a.lr, 5)) and json.dumps(a.__dict__)


@pytest.mark.parametrize("kwargs,match", [(dict(lr=0.0), "Adaptation.lr"), (dict(lr=np.nan), "Adaptation.lr"),
                                          (dict(lr=True), "Adaptation.lr"), (dict(steps=2.0), "Adaptation.steps"),
                                          (dict(steps=0), "Adaptation.steps"), (dict(flow=1), "Adaptation.flow")])
def test_adaptation_rejects_bad_fields(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nb.Adaptation(**kwargs)


@pytest.mark.parametrize("kwargs,match", [(dict(ridge=-1.0), "ridge"), (dict(t=-1.0), "t must"),
                                          (dict(t=[1.0, -2.0]), "each of t"), (dict(device="tpu"), "device"),
                                          (dict(algo="anil", split=None), "split")])
def test_closed_form_arguments_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        predict.gbml(SPEC, TR, TE, adapt=AD, **kwargs)


def test_numpy_scalars_are_accepted_as_ridge_and_t():
    ref = predict.gbml(SPEC, TR, TE, adapt=AD, ridge=1e-6, t=2.0)
    got = predict.gbml(SPEC, TR, TE, adapt=AD, ridge=np.float32(1e-6), t=np.int64(2))
    assert rel_err(got, ref) < 1e-6   # float32(1e-6) is 1e-6 to 7 digits


# ------------------------------------------------------------------------ inner loop numerics
def test_flow_depends_on_lr_times_steps_only():
    """theory.md §2: a series in lr*e that ignores s was off by 0.5% here."""
    a = predict.no_transfer(SPEC, TE, adapt=nb.Adaptation(1e-6, 10 ** 6, flow=True))
    b = predict.no_transfer(SPEC, TE, adapt=nb.Adaptation(0.1, 10, flow=True))
    assert rel_err(a, b) < 1e-9


@pytest.mark.parametrize("lr,steps", [(1e-6, 10 ** 5), (1e-3, 300), (0.3, 7)])
def test_many_small_steps_match_the_matrix_power(lr, steps):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 6))
    k = a @ a.T / 6 + 0.5 * np.eye(6)                   # well conditioned: K^-1 is harmless
    direct = np.linalg.solve(k, np.eye(6) - np.linalg.matrix_power(np.eye(6) - lr * k, steps))
    for as_array in (np.asarray, jnp.asarray):         # NumPy in, NumPy out; JAX (float64) in, JAX out
        with nb.precision.x64():
            got = np.asarray(predict.inner_operator(as_array(k), nb.Adaptation(lr, steps)))
        assert got.dtype == np.float64 and rel_err(got, direct) < 1e-8


def test_inner_loop_overshooting_but_converging_steps_are_exact():
    """1 < lr e < 2: (1 - lr e) < 0, where log1p(-lr e) is undefined; the direct power takes over."""
    k = np.diag([0.1, 1.0, 1.6])
    got = predict.inner_operator(k, nb.Adaptation(1.0, 5))
    direct = np.diag((1 - (1 - np.diag(k)) ** 5) / np.diag(k))
    assert rel_err(got, direct) < 1e-14


def test_inner_flow_whose_lr_times_eigenvalue_overflows_is_converged():
    """lr * e = inf for e = 2, 30: the gain was lr * 0 = 0 there; flow for time 1e308 is K^-1 to round-off."""
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((3, 3)))
    e = np.array([0.5, 2.0, 30.0])
    got = predict.inner_operator((q * e) @ q.T, nb.Adaptation(1e308, 1, flow=True))
    assert rel_err(got, (q / e) @ q.T) < 1e-12


def test_diverging_inner_loop_is_not_computable():
    with pytest.raises(NotComputable, match="inner loop diverges.*use lr <"):
        predict.gbml(SPEC, TR, TE, algo="maml", adapt=nb.Adaptation(lr=50.0, steps=2))


# ------------------------------------------------------------------------ first-order MAML
@pytest.mark.parametrize("t", [None, 100.0, 1e4])
def test_fomaml_that_cannot_converge_raises(t):
    """Psi has the eigenvalue -2.03: the old closed form returned max|pred| 2.16 (t=None), 1e88 (t=100), NaN."""
    with pytest.raises(NotComputable, match=r"eigenvalue -2\.03.*real part <= 0.*adapt\.lr.*algo='maml'.*ridge"):
        predict.gbml(SPEC, TR, TE, algo="fomaml", adapt=nb.Adaptation(1.0, 5), split="same", t=t)


def _dense_gbml(algo, adapt, split, coef_of):
    """GBML predictions from dense matrices: ``coef_of(phi, r)`` gives ``coef``; ``psi`` and the
    test-time inner loop written out (theory.md §3), no blocked assembly or ``OuterSolve``."""
    fn = predict.analytic(SPEC)
    mk = predict.meta_ntk(fn, TR, algo=algo, adapt=adapt, split=split)
    r = (mk.y_out - mk.f0).reshape(-1, 1)
    xt = np.concatenate([TE.xs, TE.xq], 1).reshape(-1, 8)
    psi = fn(xt, mk.x_out.reshape(-1, 8)).theta
    if algo != "fomaml":                                 # psi(x)_j = Theta(x, X'_j) - Theta(x, X_j) A_j
        psi = psi - fn(xt, mk.x_in.reshape(-1, 8)).theta @ scipy.linalg.block_diag(*mk.a)
    g = (psi @ coef_of(mk.phi, r)).reshape(3, 15, 1)
    k_in = (lambda a, b=None: fn(a, b).sigma) if algo == "anil" else (lambda a, b=None: fn(a, b).theta)
    return np.stack([g[i, 5:] + k_in(TE.xq[i], TE.xs[i]) @ predict.inner_operator(k_in(TE.xs[i]), adapt)
                     @ (TE.ys[i] - g[i, :5]) for i in range(3)])


@pytest.mark.parametrize("algo", predict.ALGOS)
def test_finite_time_equals_the_matrix_exponential(algo):
    """The eigen-form of ``coef(t)`` equals ``Phi^-1 (I - expm(-t Phi)) r`` (``Psi`` for FOMAML) computed directly."""
    for t in (0.5, 20.0, 1e3):
        want = _dense_gbml(algo, AD, "disjoint",
                           lambda phi, r: np.linalg.solve(phi, (np.eye(len(r)) - scipy.linalg.expm(-t * phi)) @ r))
        got = predict.gbml(SPEC, TR, TE, algo=algo, adapt=AD, t=t)
        assert np.all(np.isfinite(got)) and rel_err(got, want) < 1e-10


def _old_fomaml_limit(adapt, split):
    """The dense first-order ``t = None`` closed form: eigenvalues and eigenvectors of ``Psi``, raise if an
    eigenvalue has real part ``<= 0``, else ``Psi^-1 r``.  Returns the predictions or the offending eigenvalue."""
    out = {}

    def coef_of(psi, r):
        lam = np.linalg.eig(psi)[0]
        out["worst"] = lam[np.argmin(lam.real)]
        return np.linalg.solve(psi, r)
    pred = _dense_gbml("fomaml", adapt, split, coef_of)
    return (None, out["worst"]) if out["worst"].real <= 0 else (pred, None)


@pytest.mark.parametrize("lr,split", [(0.1, "disjoint"), (0.1, "same"), (1.0, "disjoint"), (1.0, "same")])
def test_fomaml_limit_equals_the_dense_eigendecomposition_path(lr, split, monkeypatch):
    """t=None: Cholesky of Psi + Psi^T proves convergence (no eigenvectors: np.linalg.eig is never called);
    same predictions and the same NotComputable decision as the dense computation with ``np.linalg.eig``."""
    adapt = nb.Adaptation(lr, 5)
    want, worst = _old_fomaml_limit(adapt, split)
    eig_calls = []
    true_eig = np.linalg.eig
    monkeypatch.setattr(np.linalg, "eig", lambda a: eig_calls.append(a.shape) or true_eig(a))
    if worst is None:
        got = predict.gbml(SPEC, TR, TE, algo="fomaml", adapt=adapt, split=split)
        assert rel_err(got, want) < 1e-8
    else:                                                # lr = 1.0, split="same": eigenvalue -2.03
        with pytest.raises(NotComputable, match=rf"eigenvalue {worst.real:.4g}.*real part <= 0"):
            predict.gbml(SPEC, TR, TE, algo="fomaml", adapt=adapt, split=split)
    assert eig_calls == []


@pytest.mark.parametrize("k,converges", [([[1.0, 3.0], [0.0, 1.0]], True),       # S = K + K^T indefinite
                                         ([[1.0, 3.0], [0.0, -0.1]], False),
                                         ([[2.0, 0.5], [-0.5, 1.0]], True)],      # S positive definite
                         ids=["fallback-converges", "fallback-raises", "symmetric-part-proves"])
def test_first_order_convergence_test_is_the_eigenvalue_decision(k, converges, request, monkeypatch):
    """Bendixson's test decides where it can; elsewhere the eigenvalues (no eigenvectors) decide, as before."""
    k, r = np.array(k), np.array([[1.0], [2.0]])
    calls = []
    true_eigvals = np.linalg.eigvals
    monkeypatch.setattr(np.linalg, "eigvals", lambda a: calls.append(a.shape) or true_eigvals(a))
    solver = outer_solve.OuterSolve(k.copy(), r, be=backend("numpy"), symmetric=False, name="Psi")
    if converges:
        assert rel_err(solver.coef(None), np.linalg.solve(k, r)) < 1e-12
    else:
        with pytest.raises(NotComputable, match=r"Psi has the eigenvalue -0\.1\+0j with real part <= 0"):
            solver.coef(None)
    assert len(calls) == (0 if "symmetric-part" in request.node.callspec.id else 1)


# ------------------------------------------------------------------------ training times up to the largest float
HUGE_TIMES = (1e12, 1e308, np.finfo(np.float64).max)
PREDICTORS = [("gbml", dict(algo=a)) for a in predict.ALGOS] + [("mtl", dict(heads="shared"))]


@pytest.mark.parametrize("device", ["numpy", "cpu"])
@pytest.mark.parametrize("kind,kw", PREDICTORS, ids=["anil", "maml", "fomaml", "mtl"])
def test_huge_training_times_equal_infinite_time(kind, kw, device):
    """``t e`` overflowed to ``inf`` and the gain became 0, not ``1 / e``: t = 1e308 differed from t = None by 0.2."""
    make = predict.gbml_predictor if kind == "gbml" else predict.mtl_predictor
    fn = make(predict.analytic(SPEC), TR, TE, adapt=AD, device=device, **kw)
    limit = fn(None)
    for pred in fn(list(HUGE_TIMES)):
        assert rel_err(pred, limit) < 1e-10


@pytest.mark.parametrize("symmetric", [True, False])
def test_coefficients_that_overflow_at_a_huge_time_are_not_computable(symmetric):
    """Eigenvalue -1e-14, zero up to round-off: the flow grows like exp(1e-14 t), inf at t = 1e308 (returned before)."""
    k, r = np.diag([1.0, -1e-14]), np.ones((2, 1))
    solver = outer_solve.OuterSolve(k, r, be=backend("numpy"), symmetric=symmetric, name="K")
    assert np.all(np.isfinite(solver.coef(1e3)))
    with pytest.raises(NotComputable, match=r"at t=1e\+308 the outer coefficients overflow: K is singular.*ridge"):
        solver.coef(1e308)


def test_nearly_defective_first_order_kernel_reaches_its_limit():
    """Eigenvectors nearly parallel (expm path): -t K overflowed for huge t; finite t still equals the dense formula."""
    k = np.array([[1.0, 1e3, 0.0], [0.0, 1.0 + 1e-6, 0.0], [0.0, 0.0, 2.0]])
    assert np.linalg.cond(np.linalg.eig(k)[1], 1) > outer_solve.MAX_EIGVEC_COND
    r = np.array([[1.0], [-2.0], [0.5]])
    solver = outer_solve.OuterSolve(k.copy(), r, be=backend("numpy"), symmetric=False)
    limit = np.linalg.solve(k, r)
    assert rel_err(solver.coef(None), limit) < 1e-12
    for t in HUGE_TIMES:
        assert rel_err(solver.coef(t), limit) < 1e-10
    for t in (0.3, 5.0):
        want = np.linalg.solve(k, (np.eye(3) - scipy.linalg.expm(-t * k)) @ r)
        assert rel_err(solver.coef(t), want) < 1e-10


@pytest.mark.parametrize("device", ["numpy", "cpu"])
@pytest.mark.parametrize("kind", ["symmetric", "first-order", "nearly-defective"])
@pytest.mark.parametrize("t", [None, 0.7])
def test_apply_is_the_outer_operator_on_any_right_hand_side(kind, t, device):
    """``apply(t, b)`` (the covariance's solve) equals the dense ``W(t) = K^-1 (I - exp(-t K))`` and its transpose,
    after a consuming factorization too; ``coef`` is unchanged by it."""
    rng = np.random.default_rng(0)
    if kind == "symmetric":
        g = rng.standard_normal((6, 6))
        k = g @ g.T + 0.5 * np.eye(6)
    elif kind == "first-order":
        k = np.eye(6) * 2.0 + 0.3 * rng.standard_normal((6, 6))
    else:
        k = np.diag([1.0, 1.0 + 1e-6, 2.0, 3.0, 1.5, 2.5])
        k[0, 1] = 1e3
    r, b = rng.standard_normal((6, 2)), rng.standard_normal((6, 3))
    w = np.linalg.solve(k, np.eye(6) if t is None else np.eye(6) - scipy.linalg.expm(-t * k))
    be = backend(device)
    for consume in (False, True):
        with be.scope():
            solver = outer_solve.OuterSolve(be.put(np.tril(k) if kind == "symmetric" and be.is_numpy else k),
                                            be.put(r), be=be, symmetric=kind == "symmetric", consume=consume)
            coef = np.asarray(solver.coef(t))
            got, got_t = (np.asarray(solver.apply(t, b, transpose=tr)) for tr in (False, True))
        assert rel_err(coef, w @ r) < 1e-10
        assert rel_err(got, w @ b) < 1e-10 and rel_err(got_t, w.T @ b) < 1e-10
        if kind != "symmetric":
            assert rel_err(got_t, got) > 1e-3      # the transpose is another operator: the check can fail


# ------------------------------------------------------------------------ progress of long closed forms
def test_long_closed_forms_report_their_stages_on_stderr(monkeypatch, capsys):
    predict.gbml(SPEC, TR, TE, algo="fomaml", adapt=AD)
    assert capsys.readouterr().err == ""                 # ~0.1 s: silent
    monkeypatch.setattr(progress, "AFTER_S", 0.0)        # every closed form counts as long
    predict.gbml(SPEC, TR, TE, algo="fomaml", adapt=AD)
    err = capsys.readouterr().err
    psi = "ntk_bridge.predict: first-order meta-NTK Psi (fomaml, split='disjoint'), 60 x 60: "
    build = "ntk_bridge.predict: GBML closed form (fomaml, split='disjoint', 6 training tasks): "
    for line in (build + "meta-NTK assembly (", build + "test rows (", psi + "LU factorization (", psi + "done in ",
                 psi + "convergence test (Cholesky of the symmetric part) ("):
        assert line in err
    predict.mtl(SPEC, TR, TE, adapt=AD, t=2.0)
    err = capsys.readouterr().err
    assert "MTL closed form (6 training tasks): MTL kernel assembly (" in err
    assert "MTL kernel (heads='shared'), 90 x 90: symmetric eigendecomposition (" in err


def test_a_stage_that_runs_long_is_reported_while_it_runs(monkeypatch, capsys):
    monkeypatch.setattr(progress, "AFTER_S", 0.2)
    with progress.Progress("job", "fast stage") as prog:
        prog.stage("slow stage")
        time.sleep(1.0)
        assert re.fullmatch(r"ntk_bridge\.predict: job: slow stage \([\d.]+ s\)\n", capsys.readouterr().err)  # watcher
        prog.stage("last stage")
    lines = r"ntk_bridge\.predict: job: last stage \([\d.]+ s\)\nntk_bridge\.predict: job: done in [\d.]+ s\n"
    assert re.fullmatch(lines, capsys.readouterr().err)


# ------------------------------------------------------------------------ conflicting duplicates
def _with_duplicate(split):
    xs, ys, xq, yq = TR.xs.copy(), TR.ys.copy(), TR.xq.copy(), TR.yq.copy()
    xq[3, 2] = xq[1, 4]                                 # one input in tasks 1 and 3, labels differ
    assert not np.array_equal(yq[3, 2], yq[1, 4])
    return nb.TaskSet(xs, ys, xq, yq)


@pytest.mark.parametrize("split", predict.SPLITS)
@pytest.mark.parametrize("algo", predict.ALGOS)
def test_conflicting_duplicate_across_tasks_raises_and_ridge_proceeds(algo, split):
    dup = _with_duplicate(split)
    with pytest.raises(NotComputable, match="training tasks 1 and 3.*different labels.*deduplicate.*ridge > 0"):
        predict.gbml(SPEC, dup, TE, algo=algo, adapt=AD, split=split)
    pred = predict.gbml(SPEC, dup, TE, algo=algo, adapt=AD, split=split, ridge=1e-4)
    assert np.all(np.isfinite(pred))


def test_duplicate_with_equal_labels_and_mtl_are_not_flagged():
    xq, yq = TR.xq.copy(), TR.yq.copy()
    xq[3, 2], yq[3, 2] = xq[1, 4], yq[1, 4]             # same point, same label: consistent
    same = nb.TaskSet(TR.xs, TR.ys, xq, yq)
    assert np.all(np.isfinite(predict.gbml(SPEC, same, TE, algo="maml", adapt=AD)))
    assert np.all(np.isfinite(predict.mtl(SPEC, _with_duplicate("disjoint"), TE, adapt=AD)))  # heads differ


# ------------------------------------------------------------------------ overflow and singular solves
def test_huge_inputs_raise_a_value_error_not_a_linalg_error():
    big = nb.TaskSet(TR.xs * 1e200, TR.ys, TR.xq * 1e200, TR.yq)
    for call in (lambda: predict.gbml(SPEC, big, TE, adapt=AD), lambda: predict.mtl(SPEC, big, TE, adapt=AD)):
        with pytest.raises(ValueError, match="overflow.*rescale the inputs"):
            call()


@pytest.mark.parametrize("device", ["numpy", "cpu"])
def test_non_finite_kernels_are_not_computable(device):
    def broken(x1, x2=None):
        k = predict.analytic(SPEC)(x1, x2)
        return k._replace(theta=k.theta * np.inf) if x2 is None and len(x1) > 20 else k
    for call in (lambda: predict.gbml_from_kernels(broken, TR, TE, algo="maml", adapt=AD, device=device),
                 lambda: predict.mtl_from_kernels(broken, TR, TE, adapt=AD, device=device)):
        with pytest.raises(NotComputable, match="non-finite.*rescale the inputs"):
            call()


@pytest.mark.parametrize("device", ["numpy", "cpu"])
@pytest.mark.parametrize("t", [None, 1.0])
def test_singular_or_indefinite_outer_kernel_is_not_computable(device, t):
    def indefinite(x1, x2=None):
        k = predict.analytic(SPEC)(x1, x2)
        return k._replace(theta=-k.theta) if x2 is None and len(x1) > 20 else k
    with pytest.raises(NotComputable, match="MTL kernel.*(singular or indefinite|indefinite).*ridge"):
        predict.mtl_from_kernels(indefinite, TR, TE, adapt=AD, t=t, device=device)
    dup = nb.TaskSet(np.repeat(TR.xs[:1], 2, 0), np.repeat(TR.ys[:1], 2, 0),
                     np.repeat(TR.xq[:1], 2, 0), np.repeat(TR.yq[:1], 2, 0))
    if t is None:
        with pytest.raises(NotComputable, match="meta-NTK Phi.*(singular|ill-conditioned).*ridge"):
            predict.gbml(SPEC, dup, TE, adapt=AD, device=device)


# ------------------------------------------------------------------------ devices
CASES = [("gbml", dict(algo=a, split=s)) for a in predict.ALGOS for s in predict.SPLITS] + \
        [("mtl", dict(heads=h)) for h in predict.HEADS]


@pytest.mark.parametrize("kind,kw", CASES, ids=lambda c: c if isinstance(c, str) else "-".join(c.values()))
def test_jax_cpu_path_equals_numpy_path(kind, kw):
    fn = predict.gbml if kind == "gbml" else predict.mtl
    for t in (None, 3.0):
        ref, info_ref = fn(SPEC, TR, TE, adapt=AD, t=t, device="numpy", return_info=True, **kw)
        got, info = fn(SPEC, TR, TE, adapt=AD, t=t, device="cpu", return_info=True, **kw)
        assert got.dtype == np.float64 and rel_err(got, ref) < 1e-10
        assert info["cond"] == pytest.approx(info_ref["cond"], rel=0.5)   # LAPACK estimate vs exact 1-norm
    nt_ref = predict.no_transfer(SPEC, TE, adapt=AD, inner="all", device="numpy")
    assert rel_err(predict.no_transfer(SPEC, TE, adapt=AD, inner="all", device="cpu"), nt_ref) < 1e-10


def test_gpu_device_without_a_gpu_is_a_value_error():
    import jax

    try:
        jax.devices("gpu")
    except RuntimeError:
        with pytest.raises(ValueError, match="device='gpu'.*no GPU"):
            predict.mtl(SPEC, TR, TE, adapt=AD, device="gpu")
    else:   # a GPU is there: the GPU path equals the NumPy path
        ref = predict.gbml(SPEC, TR, TE, algo="maml", adapt=AD, device="numpy")
        assert rel_err(predict.gbml(SPEC, TR, TE, algo="maml", adapt=AD, device="gpu"), ref) < 1e-10


# ------------------------------------------------------------------------ blocked Cholesky (large kernels)
@pytest.mark.parametrize("n,block", [(300, 64), (257, 256), (40, 100), (90, 1)])
def test_blocked_cholesky_equals_lapack_and_reads_the_upper_triangle_only(n, block):
    from ntk_bridge.predict.outer_solve import cholesky_upper_blocked

    x = np.random.default_rng(n).standard_normal((n, n + 3))
    a_full = x @ x.T / n + 1e-3 * np.eye(n)
    a = np.asfortranarray(a_full.copy())
    a[np.tril_indices(n, -1)] = np.nan   # never read
    assert cholesky_upper_blocked(a, block) == 0
    assert np.max(np.abs(np.triu(a) - np.linalg.cholesky(a_full).T)) < 1e-12
    bad = a_full.copy()
    bad[n // 2, n // 2] = -1.0   # not positive definite from column n//2 + 1 on (1-based), as LAPACK reports
    _, info = scipy.linalg.lapack.dpotrf(bad, lower=0)
    assert cholesky_upper_blocked(np.asfortranarray(bad), block) == info == n // 2 + 1


@pytest.mark.parametrize("consume", [False, True])
def test_blocked_cholesky_path_of_the_outer_solve(monkeypatch, consume):
    """Above ``BLOCKED_ABOVE`` the outer solve factors by blocks: same coefficients and condition estimate."""
    from ntk_bridge.predict import outer_solve
    from ntk_bridge.predict.device import backend

    x = np.random.default_rng(1).standard_normal((120, 130))
    k = x @ x.T / 130 + 1e-2 * np.eye(120)
    r = np.random.default_rng(2).standard_normal((120, 2))
    ref = outer_solve.OuterSolve(k.copy(), r, be=backend("numpy"))
    want, cond = ref.coef(None), ref.cond
    monkeypatch.setattr(outer_solve, "BLOCKED_ABOVE", 50)
    monkeypatch.setattr(outer_solve, "CHOLESKY_BLOCK", 32)
    got = outer_solve.OuterSolve(k.copy(), r, be=backend("numpy"), consume=consume)
    assert rel_err(got.coef(None), want) < 1e-12 and got.cond == pytest.approx(cond, rel=1e-8)
    assert rel_err(got.coef(None), np.linalg.solve(k, r)) < 1e-10
