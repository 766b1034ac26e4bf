"""proofs_checks: the fast subset passes, and each check fails when the formula it guards is broken."""
import json

import numpy as np
import pytest

from ntk_bridge import predict
from proofs_checks import closeness, formulation, main, meta_ntk, mtl_kernel, ntk_fluctuation, run_checks


def _one(name):
    (res,) = run_checks([name])
    return res


def test_fast_subset_passes():
    results = run_checks(fast=True)
    assert len(results) >= 10
    failed = {r.name: r.computed for r in results if not r.passed}
    assert not failed


# ------------------------------------------------------------------ C1 formulation
def test_formulation_fails_with_a_perturbed_inner_ridge(monkeypatch):
    true_solve = formulation.ridge_head
    monkeypatch.setattr(formulation, "ridge_head", lambda d, y, lam: true_solve(d, y, 1.5 * lam))
    assert not _one("formulation.gradient").passed
    assert not _one("formulation.value").passed


def test_formulation_fails_without_the_ridge_in_the_outer_loss(monkeypatch):
    def no_outer_ridge(spec, body, x_in, y_in, x_out, y_out, lam):
        w = formulation.ridge_head(formulation.design(spec, body, x_in), y_in, lam)
        r = np.einsum("npa,nak->npk", formulation.design(spec, body, x_out), w) - y_out
        return 0.5 * (r * r).sum()
    monkeypatch.setattr(formulation, "gbml_objective", no_outer_ridge)
    res = _one("formulation.value")
    assert not res.passed and res.value > 1e-3


def test_split_gap_fails_when_query_equals_support(monkeypatch):
    true_objective = formulation.gbml_objective
    monkeypatch.setattr(formulation, "gbml_objective",
                        lambda spec, body, xs, ys, xq, yq, lam: true_objective(
                            spec, body, np.concatenate([xs, xq], 1), np.concatenate([ys, yq], 1),
                            np.concatenate([xs, xq], 1), np.concatenate([ys, yq], 1), lam))
    res = _one("formulation.split_gap")
    assert not res.passed and res.value < 1e-10


# ------------------------------------------------------------------ inner loop
@pytest.fixture
def scaled_t(monkeypatch):
    """``T`` off by one part in a million."""
    true_op = predict.inner_operator
    monkeypatch.setattr(predict, "inner_operator", lambda k, adapt: (1 + 1e-6) * true_op(k, adapt))


@pytest.mark.parametrize("name", ["inner_loop.discrete", "inner_loop.singular", "inner_loop.flow",
                                  "meta_ntk.phi"])
def test_checks_fail_with_a_scaled_inner_operator(scaled_t, name):
    assert not _one(name).passed


def test_divergence_check_fails_if_nothing_raises(monkeypatch):
    def no_guard(k, adapt):
        e, v = np.linalg.eigh(k)
        g = (1 - (1 - adapt.lr * e) ** adapt.steps) / e
        return np.einsum("...ij,...j,...kj->...ik", v, g, v)
    monkeypatch.setattr(predict, "inner_operator", no_guard)
    assert not _one("inner_loop.divergence").passed


# ------------------------------------------------------------------ meta-NTK
@pytest.fixture
def fresh_training():
    meta_ntk.trained.cache_clear()
    yield
    meta_ntk.trained.cache_clear()


@pytest.fixture
def no_f0(monkeypatch):
    true_meta = predict.meta_ntk
    monkeypatch.setattr(predict, "meta_ntk", lambda *a, **kw: true_meta(*a, **kw)._replace(
        f0=np.zeros_like(true_meta(*a, **kw).f0)))


def test_meta_ntk_checks_fail_without_f0(no_f0, fresh_training, monkeypatch):
    assert not _one("meta_ntk.phi").passed
    monkeypatch.setattr(meta_ntk, "CASES", (("anil", "disjoint"),))
    res = _one("meta_ntk.trained")
    assert not res.passed and res.value > 1e-2


def test_trained_check_passes_on_one_case(fresh_training, monkeypatch):
    monkeypatch.setattr(meta_ntk, "CASES", (("maml", "disjoint"),))
    assert _one("meta_ntk.trained").passed
    assert _one("meta_ntk.f0_needed").passed


# ------------------------------------------------------------------ MTL kernel, kernel facts, closeness
def test_mtl_exact_fails_without_the_head_term(monkeypatch):
    monkeypatch.setattr(mtl_kernel, "shared_composition",
                        lambda k, n: np.kron(np.ones((n, n)), k.theta_body))
    assert not _one("mtl_kernel.exact").passed


@pytest.fixture
def fresh_ratios():
    mtl_kernel.cross_block_ratios.cache_clear()
    yield
    mtl_kernel.cross_block_ratios.cache_clear()


@pytest.mark.slow
def test_independent_decay_passes(fresh_ratios):
    """The full check (20 seeds x 7 widths, ~45 s); `python -m proofs_checks` runs it too."""
    res = _one("mtl_kernel.independent_decay")
    assert res.passed, res.computed


def test_independent_decay_fails_for_shared_heads(fresh_ratios, monkeypatch):
    monkeypatch.setattr(mtl_kernel, "DECAY_SEEDS", (0, 1, 2))
    monkeypatch.setattr(mtl_kernel, "WIDTHS", (64, 256, 1024))
    # a "second" head equal to the net's own: the cross block is Theta_body, which does not vanish
    monkeypatch.setattr(mtl_kernel, "second_head",
                        lambda spec, seed, in_dim: spec.init(mtl_kernel.jax.random.PRNGKey(seed), in_dim)["head"])
    res = _one("mtl_kernel.independent_decay")
    assert not res.passed and res.details["fit"]["r"] < 0.2


def test_analytic_mtl_kernel_check_fails_for_a_wrong_analytic_head_kernel(monkeypatch):
    import ntk_bridge as nb
    true_kernels = nb.kernels.kernels
    monkeypatch.setattr(nb.kernels, "kernels", lambda *a, **kw: true_kernels(*a, **kw)._replace(
        sigma=1.5 * true_kernels(*a, **kw).sigma))
    assert not _one("mtl_kernel.analytic").passed


def test_diagonal_check_fails_for_a_wrong_head_share(monkeypatch):
    import ntk_bridge as nb
    true_kernels = nb.kernels.kernels
    monkeypatch.setattr(nb.kernels, "kernels", lambda *a, **kw: true_kernels(*a, **kw)._replace(
        sigma=(1 + 1e-9) * true_kernels(*a, **kw).sigma))
    assert not _one("kernel_facts.diagonal").passed


def test_closeness_fails_for_a_gap_that_does_not_shrink(monkeypatch):
    monkeypatch.setattr(closeness, "DEPTHS", (1, 4))
    monkeypatch.setattr(closeness, "SEEDS", (0, 1))
    monkeypatch.setattr(closeness, "gaps", closeness.gaps.__wrapped__)   # no cache across patches

    def fake_mtl(spec, train, test, *, adapt, **kw):   # a fixed fraction of the way to no transfer
        anil = predict.gbml(spec, train, test, algo="anil", adapt=adapt, split="same")
        return anil + 0.3 * (predict.no_transfer(spec, test, adapt=adapt) - anil)
    monkeypatch.setattr(predict, "mtl", fake_mtl)
    res = _one("closeness.shared_feature")
    assert not res.passed
    assert res.details["normalized"]["ratio_deep_vs_1"] == pytest.approx(1.0, rel=1e-9)


# ------------------------------------------------------------------ runner and command line
def test_a_raising_check_is_a_failure_with_its_message(monkeypatch):
    def boom(k, adapt):
        raise RuntimeError("boom")
    monkeypatch.setattr(predict, "inner_operator", boom)
    res = _one("inner_loop.singular")
    assert not res.passed and "RuntimeError: boom" in res.computed
    assert res.to_dict()["value"] is None      # NaN is not JSON


def test_cli_json_out_and_exit_codes(tmp_path, capsys, monkeypatch):
    out = tmp_path / "sub" / "checks.json"
    assert main(["--only", "inner_loop", "--only", "kernel_facts.diagonal,kernel_facts.degeneration",
                 "--json", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text())
    assert written["passed"] and written["n_checks"] == 6 == len(printed["results"])
    assert {r["name"] for r in written["results"]} >= {"inner_loop.flow", "kernel_facts.diagonal"}
    assert set(written["results"][0]) >= {"name", "statement", "computed", "value", "tolerance", "passed",
                                          "seconds", "details"}
    assert main(["--only", "no_such_check"]) == 2
    monkeypatch.setattr(predict, "inner_operator", lambda k, adapt: 2 * np.eye(k.shape[-1]))
    assert main(["--only", "inner_loop.discrete"]) == 1
    assert "FAIL" in capsys.readouterr().out


# ------------------------------------------------------------------ optional packages: SKIP, not FAIL
@pytest.fixture
def no_neural_tangents(monkeypatch):
    import sys

    from proofs_checks import registry

    monkeypatch.setitem(sys.modules, "neural_tangents", None)   # import fails as if not installed
    registry.missing_requirement.cache_clear()
    yield
    registry.missing_requirement.cache_clear()


def test_a_check_needing_neural_tangents_is_skipped_with_the_install_command(no_neural_tangents, tmp_path,
                                                                              capsys):
    res = _one("kernel_facts.native_vs_nt")
    assert res.status == "SKIP" and res.skipped and not res.failed and not res.passed
    assert 'ntk-bridge[nt]' in res.computed and res.details["requires"] == ["neural_tangents"]
    out = tmp_path / "checks.json"
    assert main(["--only", "kernel_facts.native_vs_nt,inner_loop.singular", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "kernel_facts.native_vs_nt          SKIP" in table and "SKIPPED: ['kernel_facts.native_vs_nt']" in table
    doc = json.loads(out.read_text())
    assert doc["passed"] and (doc["n_passed"], doc["n_failed"], doc["n_skipped"]) == (1, 0, 1)
    assert [r["status"] for r in doc["results"]] == ["PASS", "SKIP"] or \
        [r["status"] for r in doc["results"]] == ["SKIP", "PASS"]
    assert (out.stat().st_mode & 0o777) == 0o644


def test_a_check_raising_skip_is_skipped_and_a_failure_still_fails(monkeypatch):
    from proofs_checks import registry

    def cannot_run(k, adapt):
        raise registry.Skip("no accelerator here")
    monkeypatch.setattr(predict, "inner_operator", cannot_run)
    res = _one("inner_loop.singular")
    assert res.status == "SKIP" and res.computed == "skipped: no accelerator here"
    assert main(["--only", "inner_loop.singular"]) == 0
    monkeypatch.setattr(predict, "inner_operator", lambda k, adapt: 2 * np.eye(k.shape[-1]))
    assert main(["--only", "inner_loop.singular"]) == 1


def test_results_json_is_strict(tmp_path):
    from proofs_checks.runner import write_json

    with pytest.raises(ValueError):
        write_json({"value": float("nan")}, str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def test_f0_needed_fails_where_f0_vanishes(fresh_training, monkeypatch):
    """With a vanishing inner lr the meta-output at the initialization, F0 ~ lr * steps * Theta Y, vanishes and
    the no-F0 closed form becomes the closed form: the check must fail there."""
    monkeypatch.setattr(meta_ntk, "CASES", (("maml", "disjoint"),))
    monkeypatch.setattr(meta_ntk, "ADAPT", predict.Adaptation(lr=1e-7, steps=3))
    res = _one("meta_ntk.f0_needed")
    assert not res.passed and res.value < 1e-4, res.value


@pytest.fixture
def small_fluctuation(monkeypatch):
    """The fluctuation checks on one point, 1,000 nets (their samples recomputed under each patch)."""
    monkeypatch.setattr(ntk_fluctuation, "POINTS", ((4, 32),))
    monkeypatch.setattr(ntk_fluctuation, "N_NETS", 1000)
    ntk_fluctuation.samples.cache_clear()
    yield
    ntk_fluctuation.samples.cache_clear()


def test_head_law_fails_for_the_linear_net_law(small_fluctuation, monkeypatch):
    assert _one("ntk_fluctuation.head_law").passed
    monkeypatch.setattr(ntk_fluctuation.fluctuation, "head_moment_ratio", lambda L, n: (1 + 2 / n) ** L)
    assert not _one("ntk_fluctuation.head_law").passed


def test_mean_check_fails_without_the_head_part(small_fluctuation, monkeypatch):
    assert _one("ntk_fluctuation.mean").passed
    ntk_fluctuation.samples.cache_clear()
    true = ntk_fluctuation.fluctuation.diagonal
    monkeypatch.setattr(ntk_fluctuation.fluctuation, "diagonal", lambda *a, **kw: true(*a, **kw)[:, :-1])
    assert not _one("ntk_fluctuation.mean").passed
