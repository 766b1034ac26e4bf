"""The one timing harness (``ntk_bridge.timing``) against a clock the test controls.

The outer steps are replaced by a stand-in that advances a fake clock by a known cost per
step (one cost per method, varying from call to call), so every number the harness and the
cost experiment report has an exact expected value: medians per step, ratios per repeat,
warm-up time.  The real steps are exercised by the smoke tests (``test_finite.py``).
"""
import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import store, timing
from ntk_bridge.experiments import cost

COST = {"mtl-shared": 1e-3, "anil": 3e-3, "fomaml": 2e-3, "maml": 7e-3}  # seconds per outer step
COMPILE = 0.5
JITTER = (1.0, 1.3, 0.9, 1.1)  # the k-th call of a method costs JITTER[k % 4] x its cost per step


def _method_of(cfg):
    if cfg.mtl:
        return "mtl-shared"
    if cfg.head_only:
        return "anil"
    return "fomaml" if cfg.first_order else "maml"


@pytest.fixture
def fake_clock(monkeypatch):
    now = [0.0]
    calls = {}

    def run_steps(cfg, momentum, n_steps, delta, state, lr, base, data):
        m = _method_of(cfg)
        k = calls.get(m, 0)
        calls[m] = k + 1
        now[0] += (COMPILE if k == 0 else 0.0) + n_steps * COST[m] * JITTER[k % len(JITTER)]
        return delta, state, None

    monkeypatch.setattr(timing, "_clock", lambda: now[0])
    monkeypatch.setattr(timing, "_run_steps", run_steps)
    return calls


def _expected(m, repeats):
    """Per-step times of the timed calls 1..repeats (call 0 is the warm-up)."""
    return [COST[m] * JITTER[k % len(JITTER)] for k in range(1, repeats + 1)]


def test_harness_reports_per_step_medians_and_ratios(fake_clock):
    train = nb.tasks.shared_feature(2, 2, 2, dim=3, seed=0)
    spec = nb.MLPSpec(depth=1, width=4)
    out = timing.time_methods(spec, train, nb.Adaptation(0.02, 2), n_steps=4, repeats=3)
    assert list(out) == list(timing.METHODS)
    ref = _expected("mtl-shared", 3)
    for m, row in out.items():
        want = _expected(m, 3)
        np.testing.assert_allclose(row["per_step_all_s"], want, rtol=1e-12)
        assert row["per_step_s"] == pytest.approx(np.median(want), rel=1e-12)
        assert row["warmup_s"] == pytest.approx(COMPILE + 4 * COST[m], rel=1e-12)
        np.testing.assert_allclose(row["ratio_all"], np.array(want) / np.array(ref), rtol=1e-12)
        assert row["ratio"] == pytest.approx(np.median(want) / np.median(ref), rel=1e-12)
    assert out["maml"]["ratio"] == pytest.approx(7.0, rel=1e-12)
    assert all(n == 4 for n in fake_clock.values())  # one warm-up and three timed calls each


def test_cost_experiment_uses_the_harness(tmp_path, fake_clock):
    cfg = cost.Config(depth=1, widths=(4, 8), n_tasks=2, n_support=2, n_query=2, dim=3, steps=2, n_steps=2,
                      repeats=4)
    summary = cost.run(cfg, tmp_path)
    # the largest width: each method's calls 5 (warm-up) and 6..9
    want = np.array(_expected("maml", 9)[5:]) / np.array(_expected("mtl-shared", 9)[5:])
    ratio = cost.read(summary).ratio_maml
    assert ratio.mean == pytest.approx(want.mean(), rel=1e-12)
    assert ratio.std == pytest.approx(want.std(ddof=1), abs=1e-12)
    last = store.points_of(tmp_path, summary)[-1]["result"]
    np.testing.assert_allclose(last["anil"]["per_step_all_s"], _expected("anil", 9)[5:], rtol=1e-12)


def test_bad_input_names_the_field():
    train = nb.tasks.shared_feature(2, 2, 2, dim=3, seed=0)
    for kw, field in (({"n_steps": 0}, "n_steps"), ({"repeats": 1.5}, "repeats"), ({"device": "tpu"}, "device")):
        args = {"n_steps": 1, "repeats": 1, **kw}
        with pytest.raises(ValueError, match=field):
            timing.time_outer_step(nb.MLPSpec(depth=1, width=4), train, "anil", nb.Adaptation(), **args)
