"""The one kernel-regime schedule (finite.schedule): its decisions, its name, and both trainers use it (#24)."""
import dataclasses

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge.finite import conditioned, schedule
from ntk_bridge.finite.schedule import Schedule


def test_the_defaults_keep_the_name_stored_records_carry_and_every_parameter_changes_it():
    assert Schedule().name == "empirical-power-tracked/lr1.0/momentum0/v2" == nb.finite.SCHEDULE
    others = {"lr_scale": 0.5, "momentum": 0.9, "tracked": False, "recheck_iters": 2, "rise_tol": 1.1,
              "rise_floor": 0.0, "max_halvings": 3, "stall": 0.9}
    assert set(others) == {f.name for f in dataclasses.fields(Schedule)}
    names = {Schedule(**{k: v}).name for k, v in others.items()}
    assert len(names) == len(others) and Schedule().name not in names


@pytest.mark.parametrize("field, value", [("lr_scale", 0.0), ("momentum", 1.0), ("rise_tol", 0.9),
                                          ("max_halvings", -1), ("stall", 1.5), ("tracked", "yes")])
def test_bad_parameters_name_their_field(field, value):
    with pytest.raises(ValueError, match=field):
        Schedule(**{field: value})


def test_decisions_on_loss_curves():
    s = Schedule(max_halvings=2)
    st = s.init(lam=4.0, loss0=1.0, dtype="float32")
    assert st.lr == 0.25
    st, v = s.update(st, [1.0, 0.5, 0.25], 0.2)                 # falls: kept
    assert v == "accept" and st.lr == 0.25 and st.best == 0.25
    st2, v = s.update(st, [0.2, 0.3, 0.2], 0.1)                 # rose 1.5x in a step: undone, half the step
    assert v == "retry" and st2.lr == 0.125 and st2.undone == 1 and st2.best == 0.25
    st3, v = s.update(st, [0.2, 0.5, 9.0], np.inf)              # diverged: undone, half the step, not a rise
    assert v == "retry" and st3.undone == 0 and st3.halvings == 1
    st4, v = s.update(st, [0.25, 0.249, 0.2485], 0.248)         # stalled (not 1% below the best): kept, half the step
    assert v == "accept" and st4.lr == 0.125
    worn = dataclasses.replace(st, halvings=2)
    assert s.update(worn, [0.2, 0.5, 9.0], np.inf)[1] == "diverged"
    assert s.update(worn, [0.25, 0.249, 0.2485], 0.248)[1] == "stop"
    assert s.update(worn, [0.2, 0.3, 0.2], 0.1)[1] == "accept"  # out of halvings: a rise is kept (and flagged)
    assert Schedule(tracked=False).update(st, [0.2, 0.3, 0.2], 0.1)[1] == "accept"   # untracked: rises kept


def test_tracking_lowers_the_step_only_when_the_kernel_sharpened():
    s = Schedule()
    st = s.init(lam=2.0, loss0=1.0, dtype="float64")
    assert s.track(st, 1.0).lr == 0.5 and s.track(st, 4.0).lr == 0.25 and s.track(st, np.nan).lr == 0.5
    assert Schedule(tracked=False).track(st, 4.0).lr == 0.5


def test_the_rise_floor_ignores_float32_noise_near_the_optimum():
    assert schedule.loss_monitor([1.0, 1e-7, 2e-7])["left_kernel_regime"] is False   # rise below 1e-5 x initial
    assert schedule.loss_monitor([1.0, 0.1, 0.2])["left_kernel_regime"] is True


def test_both_trainers_decide_with_the_schedule(monkeypatch):
    """``finite.fit_predict`` and the conditioned nets' trainer call the same ``Schedule.update``."""
    calls = []
    update = Schedule.update

    def counting(self, state, losses, after):
        calls.append(self.name)
        return update(self, state, losses, after)

    monkeypatch.setattr(Schedule, "update", counting)
    tasks = nb.tasks.shared_feature(3, 4, 4, dim=4, seed=0)
    spec = nb.MLPSpec(depth=1, width=32)
    _, info = nb.finite.fit_predict(spec, tasks, tasks, method="mtl-shared", outer_steps=50, return_info=True)
    n_fit = len(calls)
    _, cinfo = conditioned.fit_predict(spec, tasks, outer_steps=50, chunk=25, return_info=True)
    assert n_fit >= 1 and len(calls) > n_fit
    assert info["schedule"] == cinfo["schedule"] == nb.finite.SCHEDULE
    _, info = nb.finite.fit_predict(spec, tasks, tasks, method="mtl-shared", outer_steps=25, lr_scale=0.5,
                                    return_info=True)
    assert info["schedule"] == Schedule(lr_scale=0.5).name
