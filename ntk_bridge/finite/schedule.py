"""The kernel-regime outer schedule: one object, ``init`` / ``track`` / ``update``, for every trainer.

Plain GD (heavy-ball ``momentum``, default 0) with the step ``lr_scale / lambda_max`` of the net's
own (meta-)NTK (docs/theory.md §8).  On a quadratic, a step ``<= 1 / lambda_max`` lowers the
loss at every step, so a rise measures the net leaving its linearization.  The trainer
(``finite.fit``, ``finite.conditioned``) owns the net and the data; the schedule owns the
decisions, in chunks of steps:

    s = Schedule()                               # s.name: what trained points store as "schedule"
    state = s.init(lam, loss0, dtype)            # step lr_scale / lam (rounded to dtype)
    state = s.track(state, lam_now)              # before a chunk (tracked): lower the step if the kernel sharpened
    state, verdict = s.update(state, losses, after)
        # "accept": keep the chunk (the step may have been halved for a stall)
        # "retry": undo it and run it again at half the step (diverged, or rose by > rise_tol in a step)
        # "stop": max_halvings reached on a stall or rise (keep what was accepted; not converged)
        # "diverged": diverged at every step size (the trainer raises its diagnosis)

``name`` is derived from the parameters, so another schedule gives trained points another
hash: the defaults are ``"empirical-power-tracked/lr1.0/momentum0/v2"`` (the name stored
records carry since issue #14), any other parameter is spelled out after it.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .. import validate

DEFAULT_NAME = "empirical-power-tracked/lr1.0/momentum0/v2"
RISE_TOL = 1.05    # a loss that exceeds 1.05x its previous value in a step has left the kernel regime ...
# ... by more than RISE_FLOOR x its initial loss: near the optimum the float32 rounding of the outputs is
# a percent-level part of the residual (measured: MAML, L = 1, lr 0.5 x 5, loss 2.7e-5 x initial: 8% rises
# at every step size down to 1/256 of it), and that noise is no dynamics.
RISE_FLOOR = 1e-5
MAX_HALVINGS = 8   # step halvings (a step 256x smaller) before training gives up
RECHECK_ITERS = 4  # warm-started power iterations before each chunk: the step follows the current kernel
STALL = 0.99       # a chunk that does not bring the best loss below 0.99x has stalled (GD cycling at ReLU kinks)


def loss_monitor(history, final: float | None = None, initial: float | None = None, *,
                 rise_tol: float = RISE_TOL, rise_floor: float = RISE_FLOOR) -> dict:
    """Rises of a loss curve ``history`` (losses before each outer step; ``final`` after the last).

    Args:
      history: the losses before each outer step, any array-like (flattened, float64).
      final: the loss after the last step, appended to ``history``; ``None``: none.
      initial: the loss that scales ``rise_floor``; ``None``: the curve's first loss.
      rise_tol: a step ratio ``loss[t+1] / loss[t]`` above it is a rise out of the kernel regime (``RISE_TOL``).
      rise_floor: such a rise counts only when it also exceeds ``rise_floor * initial`` (above the float32
        noise floor; ``RISE_FLOOR``).

    Returns:
      A dict: ``rises`` (int, steps with ``loss[t+1] > loss[t]``), ``max_step_ratio`` (float, max
      ``loss[t+1] / loss[t]``, 0 for fewer than two losses; ``inf`` for a rise from 0), ``max_loss_ratio``
      (float, max ``loss / loss[0]``; 1 when ``loss[0]`` is 0, 0 for an empty curve) and
      ``left_kernel_regime`` (bool: some ``loss[t+1] / loss[t] > rise_tol`` with ``loss[t+1] - loss[t] >
      rise_floor * initial``).

    Examples:
      >>> from ntk_bridge.finite import loss_monitor
      >>> loss_monitor([1.0, 0.5, 0.6], final=0.3)                  # 0.5 -> 0.6: a rise by 1.2x
      {'rises': 1, 'max_step_ratio': 1.2, 'max_loss_ratio': 1.0, 'left_kernel_regime': True}
      >>> loss_monitor([1.0, 0.5, 0.6], rise_tol=1.5)["left_kernel_regime"]
      False
    """
    h = np.asarray(history, dtype=np.float64).ravel()
    if final is not None:
        h = np.append(h, final)
    if h.size < 2:
        return {"rises": 0, "max_step_ratio": 0.0, "max_loss_ratio": 1.0 if h.size else 0.0,
                "left_kernel_regime": False}
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(h[:-1] > 0, h[1:] / h[:-1], np.where(h[1:] > 0, np.inf, 1.0))
    above = h[1:] - h[:-1] > rise_floor * (h[0] if initial is None else initial)
    return {"rises": int(np.sum(ratio > 1.0)), "max_step_ratio": float(np.max(ratio)),
            "max_loss_ratio": float(h.max() / h[0]) if h[0] > 0 else 1.0,
            "left_kernel_regime": bool(np.any((ratio > rise_tol) & above))}


@dataclasses.dataclass(frozen=True)
class State:
    """Where a schedule stands: the step, its halvings, the rises undone, the best and the initial loss."""

    lr: float
    halvings: int
    undone: int
    best: float
    loss0: float
    dtype: str


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The kernel-regime schedule's parameters (module docstring); checked on construction.

    ``name`` spells the parameters (stored in every trained point's config); ``init``, ``track`` and
    ``update`` make the decisions of a trainer's outer loop (module docstring).

    Attributes:
      lr_scale: the step is ``lr_scale / lambda_max`` (``> 0``; ``1``: the kernel regime's largest safe step).
      momentum: heavy-ball momentum in ``[0, 1)`` (0: plain GD).
      tracked: re-estimate ``lambda_max`` before every chunk and undo rises (the net's own
        kernel, ``lr_from="power"``); ``False``: a fixed step (``lr_from="analytic"``), only
        divergence and stalls halve it.
      recheck_iters: warm-started power iterations before each chunk (``>= 1``).
      rise_tol: a loss step ratio above it is a rise (``>= 1``, ``RISE_TOL``).
      rise_floor: a rise counts only above ``rise_floor`` x the initial loss (``>= 0``, ``RISE_FLOOR``).
      max_halvings: step halvings before training stops (stall, rise) or raises (divergence), ``>= 0``.
      stall: a chunk whose best loss is not below ``stall`` x the best so far has stalled (``[0, 1]``).

    Raises:
      ValueError: naming the field, for a value outside its range.

    Examples:
      >>> from ntk_bridge.finite import Schedule
      >>> s = Schedule()
      >>> s.name, Schedule(lr_scale=0.5).name
      ('empirical-power-tracked/lr1.0/momentum0/v2', 'empirical-power-tracked/lr1.0/momentum0/v2/lr_scale=0.5')
      >>> state = s.init(lam=4.0, loss0=1.0)                           # step lr_scale / lambda_max
      >>> state.lr
      0.25
      >>> state, verdict = s.update(state, [1.0, 0.5], after=0.25)
      >>> verdict, state.best
      ('accept', 0.5)
      >>> retry, verdict = s.update(state, [0.2, 0.3], after=0.4)      # rose 1.5x in a step
      >>> verdict, retry.lr, retry.undone
      ('retry', 0.125, 1)
    """

    lr_scale: float = 1.0
    momentum: float = 0.0
    tracked: bool = True
    recheck_iters: int = RECHECK_ITERS
    rise_tol: float = RISE_TOL
    rise_floor: float = RISE_FLOOR
    max_halvings: int = MAX_HALVINGS
    stall: float = STALL

    def __post_init__(self):
        validate.positive("lr_scale", self.lr_scale)
        validate.real("momentum", self.momentum, 0.0, 1.0, high_open=True)
        validate.flag("tracked", self.tracked)
        validate.integer("recheck_iters", self.recheck_iters, 1)
        validate.real("rise_tol", self.rise_tol, 1.0, math.inf)
        validate.nonnegative("rise_floor", self.rise_floor)
        validate.integer("max_halvings", self.max_halvings, 0)
        validate.real("stall", self.stall, 0.0, 1.0)

    @property
    def name(self) -> str:
        """``DEFAULT_NAME``, then ``/field=value`` for every parameter that is not the default."""
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)
                   if getattr(self, f.name) != f.default]
        return "/".join([DEFAULT_NAME, *changed])

    def monitor(self, history, final: float | None = None, initial: float | None = None) -> dict:
        """``loss_monitor`` with this schedule's rise rule."""
        return loss_monitor(history, final, initial, rise_tol=self.rise_tol, rise_floor=self.rise_floor)

    def init(self, lam: float, loss0: float, dtype: str = "float64") -> State:
        """The state before the first chunk: step ``lr_scale / lam``, rounded to ``dtype`` (the trainer's)."""
        return State(self._round(self.lr_scale / lam, dtype), 0, 0, float(loss0), float(loss0), dtype)

    def track(self, state: State, lam_now: float) -> State:
        """Lower the step to ``lr_scale / lam_now`` when the kernel sharpened past it (tracked schedules)."""
        if self.tracked and math.isfinite(lam_now) and lam_now > 0 and state.lr * lam_now > self.lr_scale:
            return dataclasses.replace(state, lr=self._round(self.lr_scale / lam_now, state.dtype))
        return state

    def update(self, state: State, losses, after: float) -> tuple[State, str]:
        """Judge one chunk: ``losses`` before each of its steps, ``after`` the loss after it (module docstring)."""
        losses = np.asarray(losses)  # in the trainer's dtype: its comparisons are the trainer's own
        diverged = not (np.all(np.isfinite(losses)) and math.isfinite(after) and losses[-1] <= 10 * losses[0])
        rose = (self.tracked and not diverged and losses.size > 1 and state.halvings < self.max_halvings
                and self.monitor(np.append(losses, after), initial=state.loss0)["left_kernel_regime"])
        if diverged or rose or losses.min() > self.stall * state.best:
            if state.halvings >= self.max_halvings and diverged:
                return state, "diverged"
            state = dataclasses.replace(state, lr=state.lr / 2, halvings=state.halvings + 1)
            if state.halvings > self.max_halvings:
                return state, "stop"
            if diverged or rose:
                return dataclasses.replace(state, undone=state.undone + int(rose)), "retry"
        return dataclasses.replace(state, best=min(state.best, float(losses.min()))), "accept"

    @staticmethod
    def _round(lr: float, dtype: str) -> float:
        return float(np.asarray(lr, dtype=dtype))


SCHEDULE = Schedule().name  # the defaults' name: experiments put it in every trained point's config
