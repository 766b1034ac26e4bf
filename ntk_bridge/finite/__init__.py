"""Finite-width nets actually trained: MTL and GBML (ANIL, MAML, FOMAML), theory.md §3–6.

The same ``MLPSpec`` as the closed forms (NTK parameterization), trained in pure JAX +
optax, so this package never imports neural-tangents and runs on any recent JAX, GPU included.

* **Centered nets** (default): the net computes ``f(x; p) - f(x; p0)``, exactly zero at init
  (same Jacobian), so one trained net estimates the infinite-width *mean* predictor.  With
  ``centered=False``, average ``n_ensemble`` seeds instead.
* **GBML** meta-training differentiates through the inner loop (true second order); FOMAML
  stops the gradient of each inner update, so the outer gradient is the query-loss gradient
  at the adapted parameters.  ANIL adapts the head only, MAML/FOMAML every parameter.
* **MTL**: shared body, one head per training task (``mtl-shared``: all start at ``w0``;
  ``mtl-independent``: drawn afresh), first-order training on support ∪ query.  Test time:
  the trained body with the common initial head ``w0`` (independent heads: the fresh head),
  then head-only fine-tuning on the test support (the ANIL loop).
* **Fresh test head** (``test_head="fresh"``, the paper's protocol): every method is tested
  with the same fresh random head of the seed on its trained body, then its own test-time
  inner loop; at infinite width that is the no-transfer baseline (theory.md §6).
* **Inner loop**: ``adapt.steps`` full-batch GD steps of size ``adapt.lr`` on
  ``0.5 * sum sq. err``; ``adapt.flow=True`` approximates gradient flow for time
  ``lr * steps`` by ``flow_substeps`` times as many steps of size ``lr / flow_substeps``.
  Every inner loop is checked against its stability edge on the net's empirical kernel, at
  initialization and after training (``.guards``).
* **Outer loop**: full-batch GD with learning rate ``lr_scale / lambda_max``; by default
  (``SCHEDULE``, theory.md §8) momentum 0 and ``1 / lambda_max`` of the net's own empirical
  (meta-)NTK in output space (power iteration), so that in the kernel regime the loss falls at
  every step; every rise is recorded (``loss_monitor``) and a run whose loss ever exceeds
  ``RISE_TOL`` = 1.05x its previous value is flagged ``left_kernel_regime``.  Heavy-ball momentum
  and the infinite-width step (``lr_from="analytic"``) remain options.  In NTK parameterization these
  eigenvalues grow with the number of points, so a fixed lr would not do.  Training stops when
  the loss falls below ``tol * initial loss`` or after ``outer_steps``; float32 by default
  (float32 and float64 predictions agree to ~1e-7 relative, measured), ``dtype="float64"``
  for proof-grade checks.

Modules: ``.problem`` (method -> static problem, the one dispatch), ``.initial`` (the
seed's initial net, heads and data layout), ``.net`` (pure jitted pieces: inner loop, outer
loss and steps, prediction), ``.lowrank`` (MAML/FOMAML meta-outputs with each task's adapted weights
as the shared ones minus a low-rank factor: exact, the default path), ``.guards`` (stability and degeneracy checks), ``.fit``
(``fit_predict``), ``.empirical`` (the cross-head kernel), ``.conditioned`` (task-conditioned
nets trained jointly: the finite ``ntk_bridge.conditioning.mtl``), ``.fluctuation`` (the NTK's
diagonal over initializations, against Hanin & Nica), ``.ensemble`` (many seeds: the empirical
predictive distribution over initializations).  Timing lives in
``ntk_bridge.timing``; width sweeps in ``ntk_bridge.experiments.width``.
"""
from . import conditioned, fluctuation
from .empirical import cross_head_kernel
from .decompose import decompose, linearized_predict
from .ensemble import Ensemble, ensemble
from .fit import analytic_lambda_max, fit_predict
from .schedule import MAX_HALVINGS, RISE_FLOOR, RISE_TOL, SCHEDULE, Schedule, loss_monitor
from .initial import Prepared, fresh_head, prepare
from .net import loss, train_steps
from .problem import DEVICES, DTYPES, METHODS, Problem, problem, resolve

__all__ = ["DEVICES", "DTYPES", "Ensemble", "MAX_HALVINGS", "METHODS", "Prepared", "Problem", "RISE_FLOOR", "RISE_TOL", "SCHEDULE", "Schedule",
           "analytic_lambda_max", "conditioned", "cross_head_kernel", "fluctuation", "decompose", "ensemble", "fit_predict", "linearized_predict", "loss_monitor", "fresh_head", "loss", "prepare", "problem", "resolve", "train_steps"]
