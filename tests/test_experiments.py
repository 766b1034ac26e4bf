"""Results store (atomic, content-addressed, resumable) and the experiments that write to it."""
import dataclasses
import json

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import selection, store, sweep
from ntk_bridge.experiments import ablate, accuracy, closeness, configure, cost, kernel_share, width
from ntk_bridge.experiments.common import TaskConfig

TINY_TASKS = TaskConfig(n_train=4, n_test=3, n_support=3, n_query=4)


# ---------------------------------------------------------------------------- store
def test_record_layout_and_roundtrip(tmp_path):
    config = {"b": 2, "a": (1, 2.5), "nested": {"y": None, "x": "s"}}
    rec = store.save(tmp_path, "demo", config, {"value": np.float64(1.5), "arr": np.arange(3)}, seed=7,
                     timings={"total_s": 0.25})
    path = tmp_path / "demo" / f"{rec['config_hash']}.json"
    assert path.exists() and len(rec["config_hash"]) == 16
    on_disk = json.loads(path.read_text())
    assert on_disk == rec
    assert on_disk["config"] == {"a": [1, 2.5], "b": 2, "nested": {"x": "s", "y": None}}
    assert on_disk["result"] == {"value": 1.5, "arr": [0, 1, 2]}
    assert on_disk["seed"] == 7 and on_disk["timings"]["total_s"] == 0.25 and on_disk["kind"] == "point"
    assert set(on_disk["versions"]) >= {"ntk_bridge", "python", "numpy", "jax", "jaxlib", "neural_tangents"}
    assert set(on_disk["device"]) >= {"jax_backend", "device_kind", "host_cpu"}
    assert on_disk["created"].endswith("+00:00")
    assert [p.name for p in (tmp_path / "demo").iterdir()] == [path.name]  # no temporary file left behind
    assert store.get(tmp_path, "demo", {"nested": {"x": "s", "y": None}, "a": [1, 2.5], "b": 2}) == rec
    assert store.load(tmp_path, "demo") == [rec]


def test_hash_changes_with_config_kind_and_experiment():
    base = {"depth": 2, "lr": 0.1}
    h = store.config_hash("e", base)
    assert store.config_hash("e", dict(reversed(list(base.items())))) == h  # key order is irrelevant
    assert store.config_hash("e", {"depth": 2, "lr": 0.1000001}) != h
    assert store.config_hash("e", {"depth": 3, "lr": 0.1}) != h
    assert store.config_hash("f", base) != h
    assert store.config_hash("e", base, kind="summary") != h


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    first = store.save(tmp_path, "demo", {"k": 1}, {"v": 1})
    path = tmp_path / "demo" / f"{first['config_hash']}.json"

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.save(tmp_path, "demo", {"k": 1}, {"v": 2})
    assert json.loads(path.read_text())["result"] == {"v": 1}  # the old record is intact
    assert [p.name for p in (tmp_path / "demo").iterdir()] == [path.name]  # temp file removed


def test_bad_values_are_refused(tmp_path):
    with pytest.raises(ValueError, match="finite"):
        store.save(tmp_path, "demo", {"k": 1}, {"v": float("nan")})
    with pytest.raises(ValueError, match="experiment"):
        store.save(tmp_path, "../escape", {"k": 1}, {"v": 1})
    with pytest.raises(ValueError, match="kind"):
        store.save(tmp_path, "demo", {"k": 1}, {"v": 1}, kind="other")


def test_sweep_resumes_and_recomputes_only_missing(tmp_path):
    calls = []

    def compute(cfg):
        calls.append(cfg["x"])
        return {"square": cfg["x"] ** 2}

    configs = [{"x": x, "seed": 0} for x in range(5)]
    recs = sweep.run(tmp_path, "sq", configs, compute, seed_of=lambda c: c["seed"])
    assert calls == [0, 1, 2, 3, 4] and [r["result"]["square"] for r in recs] == [0, 1, 4, 9, 16]
    (tmp_path / "sq" / f"{recs[3]['config_hash']}.json").unlink()
    calls.clear()
    again = sweep.run(tmp_path, "sq", configs, compute, seed_of=lambda c: c["seed"])
    assert calls == [3]
    assert [r["config_hash"] for r in again] == [r["config_hash"] for r in recs]
    calls.clear()
    sweep.run(tmp_path, "sq", [{"x": 2, "seed": 1}], compute, seed_of=lambda c: c["seed"])
    assert calls == [2]  # a changed config never reuses an old record


def test_points_of_reports_missing_records(tmp_path):
    summary = store.save(tmp_path, "demo", {"s": 1}, {"points": ["0123456789abcdef"]}, kind="summary")
    assert selection.summary(tmp_path, "demo") == summary
    with pytest.raises(FileNotFoundError, match="rerun"):
        store.points_of(tmp_path, summary)


# ---------------------------------------------------------------------------- experiments
def _tiny_closeness(**kw):
    return closeness.Config(tasks=TINY_TASKS, depths=(1, 4), seeds=2, lr_steps=((0.02, 1), (0.05, 2)),
                            lr_steps_depths=(1, 2, 4), widths=(), n_boot=50, **kw)


def test_closeness_gaps_match_direct_computation(tmp_path):
    summary = closeness.run(_tiny_closeness(), tmp_path)
    points = store.points_of(tmp_path, summary)
    assert len(points) == len(summary["result"]["points"]) == (2 + 3 * 2) * 2  # (headline + grid) x seeds
    rec = next(p for p in points if p["config"]["depth"] == 4 and p["config"]["lr"] == 0.02
               and p["config"]["steps"] == 5 and p["seed"] == 1)
    # Independent recomputation through the public spec-level API (no kernel table).
    train, test = TINY_TASKS.draw(1)
    spec = nb.MLPSpec(depth=4)
    adapt = nb.Adaptation(lr=0.02, steps=5)
    m = nb.predict.mtl(spec, train, test, adapt=adapt)
    c = nb.predict.no_transfer(spec, test, adapt=adapt)
    for split in ("same", "disjoint"):
        for algo in ("anil", "maml"):
            g = nb.predict.gbml(spec, train, test, algo=algo, adapt=adapt, split=split)
            stored = rec["result"][split][algo]
            assert stored["rel_gap"] == pytest.approx(nb.metrics.rel_gap(g, m), rel=1e-9)
            assert stored["normalized_gap"] == pytest.approx(nb.metrics.normalized_gap(g, m, c), rel=1e-9)
    # The summary's per-depth mean is the mean of its points.
    at4 = [p["result"]["same"]["anil"]["rel_gap"] for p in points
           if p["config"]["depth"] == 4 and (p["config"]["lr"], p["config"]["steps"]) == (0.02, 5)]
    s = closeness.read(summary)
    assert s.gap("same", "anil")[1].mean == pytest.approx(np.mean(at4), rel=1e-12)
    fit = s.fit("same", "anil")
    assert fit.r_lo <= fit.r <= fit.r_hi
    assert s.lr_steps["anil"].fit.n == 6


def test_lr_steps_fit_recovers_a_plane():
    rows = [{"depth": L, "lr_steps": x, "gap": 0.3 * x + 0.5 / L + 0.01} for L in (1, 2, 8) for x in (0.1, 1.0)]
    fit = closeness.lr_steps_fit(rows)
    assert (fit["a"], fit["b"], fit["c"]) == pytest.approx((0.3, 0.5, 0.01), abs=1e-12)
    assert fit["r2"] == pytest.approx(1.0, abs=1e-12)


def test_lr_steps_fit_of_equal_gaps_is_the_constant_with_r2_one():
    rows = [{"depth": L, "lr_steps": x, "gap": 0.2} for L in (1, 2) for x in (0.1, 1.0)]
    fit = closeness.lr_steps_fit(rows)
    assert (fit["a"], fit["b"], fit["c"], fit["r2"], fit["rmse"]) == pytest.approx((0.0, 0.0, 0.2, 1.0, 0.0), abs=1e-12)


def test_an_lr_steps_grid_without_split_same_is_refused_naming_both_fields():
    with pytest.raises(ValueError, match="lr_steps.*split 'same'.*lr_steps=()"):
        closeness.Config(splits=("disjoint",))
    assert closeness.Config(splits=("disjoint",), lr_steps=()).lr_steps == ()


def test_kernel_share_needs_three_points_for_a_spread_of_correlations():
    from ntk_bridge.experiments import kernel_share
    with pytest.raises(ValueError, match="n_points"):
        kernel_share.Config(n_points=2)


def test_closeness_rerun_reads_back_and_config_change_recomputes(tmp_path):
    first = closeness.run(_tiny_closeness(), tmp_path)
    n_files = len(list((tmp_path / "closeness").glob("*.json")))
    again = closeness.run(_tiny_closeness(), tmp_path)
    assert again["result"]["points"] == first["result"]["points"]
    assert len(list((tmp_path / "closeness").glob("*.json"))) == n_files  # same summary hash, no new point
    assert again["created_ns"] == first["created_ns"]  # same inputs: the summary is kept, not rewritten
    changed = closeness.run(_tiny_closeness(lr=0.03), tmp_path)
    assert changed["config_hash"] != first["config_hash"]
    assert set(changed["result"]["points"]) != set(first["result"]["points"])


def test_kernel_share_diagonal_is_one_over_depth_plus_one(tmp_path):
    cfg = kernel_share.Config(depths=(1, 3, 7), n_points=6, dim=5, seeds=2, n_boot=20)
    rows = kernel_share.read(kernel_share.run(cfg, tmp_path)).rows
    for row in rows:
        assert row.diag_share.mean == pytest.approx(1.0 / (row.depth + 1), rel=1e-7)
        assert 0 < row.offdiag_share.mean < 1


def test_accuracy_and_ablate_tiny(tmp_path):
    acc = accuracy.Config(families=("shared-feature", "clusters"), n_train=3, n_test=2, depths=(2,), seeds=2,
                          inner_times=(0.5,), widths=())
    rows = accuracy.read(accuracy.run(acc, tmp_path)).rows
    assert [r.metric for r in rows] == ["mse", "accuracy"]
    assert 0 <= rows[1].score("mtl-shared").mean <= 1
    # MSE of MTL recomputed from the public API for one seed.
    pt = next(p for p in store.points_of(tmp_path, selection.summary(tmp_path, "accuracy"))
              if p["config"]["family"] == "shared-feature" and p["seed"] == 0)
    train, test = TaskConfig("shared-feature", 3, 2, 5, 10).draw(0)
    adapt = nb.Adaptation(lr=pt["result"]["lr"], steps=5)
    pred = nb.predict.mtl(nb.MLPSpec(depth=2), train, test, adapt=adapt)
    assert pt["result"]["mtl"]["error_metric"] == pytest.approx(nb.metrics.mse(pred, test.yq), rel=1e-9)

    abl = ablate.Config(tasks=TINY_TASKS, depths=(2,), seeds=1, steps_grid=(1, 5), lr_grid=(0.02,),
                        n_train_grid=(2, 4), similarity_grid=(0.5,), scaling_depths=(1, 2))
    s = ablate.read(ablate.run(abl, tmp_path))
    assert set(s.ablations) == set(ablate.ABLATIONS)
    heads = {r.value: r for r in s.of("heads")}
    # Independent heads transfer nothing at infinite width: MTL equals the no-transfer baseline.
    assert heads["independent"].test_mse("mtl-independent").mean == pytest.approx(
        heads["independent"].test_mse("no-transfer").mean, rel=1e-12)
    assert heads["independent"].gap("same", "anil", "normalized_gap") is None


def test_configure_validates_options():
    assert configure("closeness", quick=True, depths=(1, 2)).depths == (1, 2)
    assert configure("closeness", family="sinusoid").tasks.family == "sinusoid"
    assert configure("accuracy", family="clusters").families == ("clusters",)
    with pytest.raises(ValueError, match=r"family must be one of \(None, 'digits'\), got 'sinusoid'"):
        configure("kernel-share", family="sinusoid")   # kernel share takes digit images or the sphere only
    with pytest.raises(ValueError, match="no option --family"):
        configure("cost", family="sinusoid")
    with pytest.raises(ValueError, match="depths"):
        configure("closeness", depths=(0, 2))
    with pytest.raises(ValueError, match="family"):
        dataclasses.replace(TINY_TASKS, family="nope")
    with pytest.raises(ValueError, match="experiment"):
        configure("nope")


def test_width_tiny_records_match_closed_form(tmp_path):
    cfg = width.Config(tasks=TaskConfig(n_train=2, n_test=2, n_support=3, n_query=3), depths=(1,), widths=(32, 128),
                       methods=("mtl-shared", "anil"), seeds=1, outer_steps=30, n_boot=20,
                       include_flagged=True)  # 30 outer steps do not converge: fit them anyway, on purpose
    summary = width.run(cfg, tmp_path)
    train, test = cfg.tasks.draw(cfg.task_seed)
    adapt = nb.Adaptation(lr=cfg.lr, steps=cfg.steps)
    inf = {"mtl-shared": nb.predict.mtl(nb.MLPSpec(depth=1), train, test, adapt=adapt),
           "anil": nb.predict.gbml(nb.MLPSpec(depth=1), train, test, algo="anil", adapt=adapt, split=cfg.split)}
    for rec in store.points_of(tmp_path, summary):
        res, method = rec["result"], rec["config"]["method"]
        np.testing.assert_allclose(res["pred_infinite"], inf[method], rtol=1e-10, atol=1e-12)
        assert res["err"] == pytest.approx(nb.metrics.rel_gap(res["pred"], inf[method]), rel=1e-12)
    fit = width.read(summary).fit(1, "anil")
    assert fit.ok and fit.r_lo <= fit.r <= fit.r_hi and fit.x == (32, 128)


def test_cost_ratios_are_ratios_of_stored_times(tmp_path):
    cfg = cost.Config(depth=1, widths=(8, 16), n_tasks=2, n_support=2, n_query=2, dim=3, steps=2, n_steps=2,
                      repeats=2)
    summary = cost.run(cfg, tmp_path)
    last = store.points_of(tmp_path, summary)[-1]["result"]
    ratios = np.array(last["maml"]["per_step_all_s"]) / np.array(last["mtl-shared"]["per_step_all_s"])
    assert cost.read(summary).ratio_maml.mean == pytest.approx(ratios.mean(), rel=1e-12)
    assert all(r > 0 for r in ratios)


@pytest.mark.parametrize("tau,steps,field", [(0.5, 0, "steps"), (0.0, 5, "tau"), (float("nan"), 5, "tau")])
def test_scaled_adaptation_names_a_bad_field_before_dividing(tau, steps, field):
    import ntk_bridge as nb
    from ntk_bridge.experiments.common import scaled_adaptation
    train = nb.tasks.sinusoid(2, 3, 4, seed=0)
    with pytest.raises(ValueError, match=field):
        scaled_adaptation(nb.predict.analytic(nb.MLPSpec(depth=1)), train, tau, steps)
