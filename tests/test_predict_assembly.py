"""Blocked in-place assembly and the in-place NumPy solve (issue #13): the outer kernels built
tile by tile equal dense formulas, every kernel entry is still evaluated once, and the
lower-triangle Cholesky / transposed LU equal plain dense solves."""
import numpy as np
import pytest

import ntk_bridge as nb
from conftest import rel_err
from ntk_bridge import predict
from ntk_bridge.errors import NotComputable
from ntk_bridge.predict import assembly, outer_solve
from builders import CountingKernel

SPEC = nb.MLPSpec(depth=2)
TRAIN = nb.tasks.shared_feature(7, 2, 3, dim=4, seed=5)     # 7 tasks of 5 points
TEST = nb.tasks.shared_feature(3, 2, 3, dim=4, seed=6)
AD = nb.Adaptation(0.1, 3)
KFN = predict.analytic(SPEC)
SMALL = 11   # points per task block: 2 tasks (10 points) per block, blocks of 2, 2, 2, 1 tasks


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(assembly, "BLOCK_POINTS", SMALL)


def _steps_operator(k, adapt):
    """``T = lr * sum_{i < s} (I - lr K)^i`` = ``K^-1 (I - (I - lr K)^s)``, with no inverse or eigendecomposition."""
    step = np.eye(k.shape[0]) - adapt.lr * k
    term, total = np.eye(k.shape[0]), np.zeros_like(k)
    for _ in range(adapt.steps):
        total += term
        term = term @ step
    return adapt.lr * total


def _dense_meta_ntk(algo, split):
    """theory.md §3 written out task pair by task pair from the dense kernels."""
    x_in, y_in, x_out, _ = predict.gbml_sets(TRAIN, split)
    n, q = x_out.shape[:2]
    k_in_fn = (lambda a, b: KFN(a, b).sigma) if algo == "anil" else (lambda a, b: KFN(a, b).theta)
    th = lambda a, b: KFN(a, b).theta
    a = [_steps_operator(k_in_fn(x_in[i], x_in[i]), AD) @ k_in_fn(x_in[i], x_out[i]) for i in range(n)]
    phi = np.zeros((n * q, n * q))
    for i in range(n):
        for j in range(n):
            blk = th(x_out[i], x_out[j]) - a[i].T @ th(x_in[i], x_out[j])
            if algo != "fomaml":
                blk = blk - th(x_out[i], x_in[j]) @ a[j] + a[i].T @ th(x_in[i], x_in[j]) @ a[j]
            phi[i * q:(i + 1) * q, j * q:(j + 1) * q] = blk
    f0 = np.stack([a[i].T @ y_in[i] for i in range(n)])
    return phi, f0


@pytest.mark.parametrize("split", predict.SPLITS)
@pytest.mark.parametrize("algo", predict.ALGOS)
def test_blocked_meta_ntk_equals_the_dense_formula(algo, split, small_blocks):
    phi, f0 = _dense_meta_ntk(algo, split)
    mk = predict.meta_ntk(KFN, TRAIN, algo=algo, adapt=AD, split=split)
    assert len(assembly.task_blocks(TRAIN.n_tasks, mk.x_in.shape[1] + (0 if split == "same" else 3))) == 4
    assert rel_err(mk.phi, phi) < 1e-12 and rel_err(mk.f0, f0) < 1e-12
    if algo != "fomaml":
        low = predict.meta_ntk(KFN, TRAIN, algo=algo, adapt=AD, split=split, lower_only=True).phi
        assert np.array_equal(low, np.tril(mk.phi)) and np.array_equal(mk.phi, mk.phi.T)


def test_blocked_mtl_kernel_equals_the_dense_one(small_blocks):
    x, _ = TRAIN.merged()
    k = KFN(x.reshape(-1, x.shape[-1]))
    dense = predict.multi_task.mtl_kernel(k.theta, k.sigma, TRAIN.n_tasks, np)
    assert rel_err(assembly.mtl_blocks(KFN, x, lower_only=False), dense) < 1e-12
    assert np.array_equal(assembly.mtl_blocks(KFN, x, lower_only=True),
                          np.tril(assembly.mtl_blocks(KFN, x, lower_only=False)))


CALLS = {
    **{f"{a}-{s}": (lambda fn, a=a, s=s: predict.gbml_from_kernels(fn, TRAIN, TEST, algo=a, adapt=AD, split=s,
                                                                    ridge=1e-6))
       for a in predict.ALGOS for s in predict.SPLITS},
    "mtl": lambda fn: predict.mtl_from_kernels(fn, TRAIN, TEST, adapt=AD, ridge=1e-6),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_many_blocks_evaluate_each_entry_once_and_predict_as_one_block(name, monkeypatch):
    one_block = CALLS[name](KFN)
    monkeypatch.setattr(assembly, "BLOCK_POINTS", SMALL)
    counting = CountingKernel(TRAIN, TEST)
    got = CALLS[name](counting)
    counting.check()
    assert len(counting.codes) > 10                # many tiles, not one call
    assert rel_err(got, one_block) < 1e-10


@pytest.mark.parametrize("kind", ["anil", "mtl"])
def test_jax_cpu_path_with_many_blocks_equals_numpy(kind, small_blocks):
    fn = (lambda d: predict.gbml(SPEC, TRAIN, TEST, adapt=AD, device=d, return_info=True)) if kind == "anil" else \
         (lambda d: predict.mtl(SPEC, TRAIN, TEST, adapt=AD, device=d, return_info=True))
    (ref, info_ref), (got, info) = fn("numpy"), fn("cpu")
    assert rel_err(got, ref) < 1e-10
    assert info_ref["cond"] / 3 <= info["cond"] <= 3 * info_ref["cond"]   # two estimators of cond_1


# ------------------------------------------------------------------------ in-place NumPy solve
def _spd(n, seed=0, cond=1e4):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.geomspace(1.0, 1.0 / cond, n)) @ q.T


def _numpy_solver(k, r, **kw):
    return predict.OuterSolve(k, r, be=predict.device.backend("numpy"), **kw)


@pytest.mark.parametrize("upper", ["zeros", "nan", "full"])
def test_cholesky_reads_the_lower_triangle_only_and_factors_in_place(upper):
    full = _spd(300)
    r = np.random.default_rng(1).standard_normal((300, 2))
    nan_above = np.tril(full) + np.triu(np.full_like(full, np.nan), 1)
    k = {"zeros": np.tril(full), "full": full.copy(), "nan": nan_above}[upper]
    ref = np.linalg.solve(full, r)
    solver = _numpy_solver(k, r, consume=True)
    coef = solver.coef(None)
    assert rel_err(coef, ref) < 1e-9
    assert not np.array_equal(np.tril(k), np.tril(full))       # consumed: the factor overwrote k
    exact = np.linalg.cond(full, 1)
    assert exact / 3 <= solver.cond <= 1.0001 * exact           # LAPACK's estimate: a lower bound within ~3
    kept = full.copy() if upper == "full" else np.tril(full)
    assert rel_err(_numpy_solver(kept, r).coef(None), ref) < 1e-9 and np.array_equal(np.tril(kept), np.tril(full))


def test_flow_from_the_lower_triangle_equals_the_full_eigendecomposition():
    full = _spd(120, cond=1e3)
    r = np.random.default_rng(2).standard_normal((120, 1))
    e, v = np.linalg.eigh(full)
    for t in (0.5, 40.0):
        ref = v @ ((1 - np.exp(-t * e)) / e * (v.T @ r).ravel())[:, None]
        assert rel_err(_numpy_solver(np.tril(full), r, consume=True).coef(t), ref) < 1e-10


def test_transposed_lu_equals_a_dense_solve_and_estimates_cond():
    rng = np.random.default_rng(3)
    k = _spd(200) + 0.05 * rng.standard_normal((200, 200)) / 200 ** 0.5
    r = rng.standard_normal((200, 1))
    solver = _numpy_solver(k.copy(), r, symmetric=False, consume=True)
    assert rel_err(solver._lu_solve(), np.linalg.solve(k, r)) < 1e-9
    exact = np.linalg.cond(k, 1)
    assert exact / 3 <= solver.cond <= 1.0001 * exact


def test_chunked_helpers_equal_dense_numpy(monkeypatch):
    monkeypatch.setattr(outer_solve, "ROW_CHUNK", 7)
    monkeypatch.setattr(assembly, "ROW_CHUNK", 7)
    full = _spd(30) * np.random.default_rng(4).choice([-1.0, 1.0], (30, 30))
    full = np.tril(full) + np.tril(full, -1).T                          # symmetric, mixed signs
    assert outer_solve.symmetric_norm1(np.tril(full)) == pytest.approx(np.linalg.norm(full, 1), rel=1e-14)
    assert outer_solve.column_abs_sums(full) == pytest.approx(np.abs(full).sum(0), rel=1e-14)
    k = np.random.default_rng(5).standard_normal((30, 30))
    for tile in (4, 7, 30, 256):                                        # ragged, exact and single tiles
        assert np.array_equal(np.tril(outer_solve.symmetric_part_lower(k, tile)), np.tril(k + k.T))
    assert np.array_equal(assembly.mirror_lower(np.tril(full)), full)
    bad = np.tril(full)
    bad[3, 29] = np.inf                                                 # upper triangle: not read
    assert outer_solve.all_finite(bad, lower=True) and not outer_solve.all_finite(bad)
    bad[29, 3] = np.nan
    assert not outer_solve.all_finite(bad, lower=True)


def test_ill_posed_lower_triangle_still_raises():
    k = np.tril(_spd(50))
    k[10:, 10:] = 0.0                                                   # singular, and indefinite with a ridge below
    with pytest.raises(NotComputable, match="singular or indefinite.*ridge"):
        _numpy_solver(k.copy(), np.ones((50, 1)), name="test kernel").coef(None)
    near = np.tril(_spd(50, cond=1e13))
    with pytest.raises(NotComputable, match="ill-conditioned"):
        _numpy_solver(near, np.ones((50, 1))).coef(None)


def test_predict_scaling_benchmark_point_smoke():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[1] / "benchmarks" / "predict_scaling.py"
    module_spec = importlib.util.spec_from_file_location("predict_scaling", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    for method, n_outer in (("anil", 4 * 15), ("maml", 4 * 15), ("fomaml", 4 * 15), ("mtl", 4 * 20)):
        row = module.run_point(method, 4, n_test=2, dim=4, depth=1)
        assert row["n_outer"] == n_outer and row["device"] == "numpy" and np.isfinite(row["cond"])
        assert row["wall_s"] == pytest.approx(row["build_s"] + row["solve_s"], abs=2e-3) and row["cpu_s"] > 0
