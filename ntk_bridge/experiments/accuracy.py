"""Accuracy (claim C5): test error of MTL, ANIL, MAML, FOMAML and no transfer on each task family.

Error is the MSE on the test queries (regression) or the accuracy of the argmax output
(classification families, ``tasks.CLASSIFICATION``: ``clusters``, ``digits``).  Besides the
task families, ``families`` takes the task *settings* of ``SETTINGS`` (real images,
scikit-learn's 8x8 digits): ``"digits"`` (5-way 1-shot), ``"digits-5shot"`` (5-way 5-shot),
``"digits-2way"`` (2-way 5-shot) with labels permuted per episode and meta-test classes 5-9
disjoint from the meta-train classes 0-4, and ``"digits-fixed"`` (5-way 1-shot, fixed
class-to-output labels, test tasks on the meta-train classes with unseen images: what class
semantics transfer).  ``clusters`` permutes its labels per task (class centres are drawn
afresh per task): in the kernel regime nothing but an initial function transfers, so its
rows measure test-time adaptation, not transfer; ``digits-fixed`` is the fixed-label
variant where transfer can show.  The inner loop is ``steps`` gradient steps of size
``tau / (steps * lambda_max)``, with ``lambda_max`` the largest eigenvalue of ``Theta`` on
the first training task's data (support ∪ query): one loop for every method, stable
(``tau / steps <= 2``) and comparable across families whose kernels differ in scale;
``inner_times`` lists the ``tau`` (small: the theorem's regime; large: the support is
nearly fitted).  GBML predictors that cannot be computed (``errors.NotComputable``: a
singular meta-NTK when the inner loop fits ``D_i`` with ``split="same"``) are stored as
errors; any other error propagates.  Finite-width points (``nb.finite.fit_predict``, centered
nets, no transfer included: the seed's initial net fine-tuned) use the smallest ``tau``, for the
families in both ``families`` and ``finite_families``; a trained net that did not reach
``finite_tol`` of its initial loss or left the kernel regime is recorded and kept out of the
statistics (counted as ``excluded``) unless ``include_flagged``.

Classification families also run the authors' test-time procedure (``ntk_bridge.probe``,
logistic regression with ``C = probe_C`` on the frozen body's normalized features): at
infinite width once per point (every method's body is the initial one), at finite width on
every trained body; rows carry it as ``Row.probe(method)``.

Methods are ``Method`` s; figures and the appendix read the
summary through ``read``.
"""
from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

from .. import metrics, probe, store, sweep, validate
from ..errors import NotComputable
from ..kernels import BACKENDS
from ..methods import Method, parse
from ..predict import closed_form
from ..spec import MLPSpec
from ..tasks import CLASSIFICATION, FAMILIES
from . import schema
from .common import (TaskConfig, check_choice, check_int, check_ints, kernel_table, point, save_summary,
                     scaled_adaptation, spec_for, stat)
from .stats import Stat, Summary

NAME = "accuracy"
ALGORITHM = 1  # bump when this module would store other results for the same config (store.register)
store.register(NAME, ALGORITHM)
FIGURES = ("accuracy",)   # what reports it (ntk_bridge.figures, ntk_bridge.appendix.sections)
SECTIONS = ("accuracy",)
QUICK_S = 33   # seconds of its quick config (2-core machine, 2026-12-05): reproduce starts the longest first
METHODS = tuple(parse(name) for name in ("mtl-shared", "anil-same", "anil-disjoint", "maml-same", "maml-disjoint",
                                          "fomaml-same", "fomaml-disjoint", "no-transfer"))
FINITE_METHODS = tuple(parse(name) for name in ("mtl-shared", "anil-disjoint", "maml-disjoint", "fomaml-disjoint",
                                                 "no-transfer"))


def key(method: Method) -> str:
    """The key of ``method``'s entry in this experiment's records: its label, ``"mtl"`` for MTL (schema 1).

    Args:
      method: a ``Method`` (``methods.parse`` turns a name into one).

    Returns:
      str: ``method.label``, or ``"mtl"`` for any MTL method (the records store only shared heads).

    Examples:
      >>> from ntk_bridge.methods import parse
      >>> from ntk_bridge.experiments import accuracy
      >>> accuracy.key(parse("anil-same")), accuracy.key(parse("mtl-shared")), accuracy.key(parse("no-transfer"))
      ('anil-same', 'mtl', 'no-transfer')
    """
    return "mtl" if method.kind == "mtl" else method.label
# Points per task: support and query (per class for clusters and digits, 5-way 1-shot).
SIZES = {"shared-feature": (5, 10), "sinusoid": (5, 10), "clusters": (1, 2), "digits": (1, 3)}
# Task settings beyond a family's defaults: name -> (family, support, query, family options).
# Sizes fit the digits pools without repeated images at n_train = n_test = 20 (about 180
# images per class; "digits-fixed" draws its test tasks from the training classes).
SETTINGS = {
    "digits": ("digits", 1, 3, (("n_way", 5),)),
    "digits-5shot": ("digits", 5, 3, (("n_way", 5),)),
    "digits-2way": ("digits", 5, 5, (("n_way", 2),)),
    "digits-fixed": ("digits", 1, 3, (("n_way", 5), ("labels", "fixed"), ("test_classes", "train"))),
}
DIGITS = tuple(SETTINGS)


def task_config(family: str, n_train: int, n_test: int) -> TaskConfig:
    """The tasks of ``family`` (a task family or a name in ``SETTINGS``).

    A setting gives its family, points per task and options (``SETTINGS``); a family its points per
    task from ``SIZES`` (per class for ``clusters`` and ``digits``) and no options.

    Args:
      family: a key of ``SIZES`` (``"shared-feature"``, ``"sinusoid"``, ``"clusters"``, ``"digits"``) or of
        ``SETTINGS`` (``"digits"``, ``"digits-5shot"``, ``"digits-2way"``, ``"digits-fixed"``).
      n_train: training tasks per seed.
      n_test: test tasks per seed.

    Returns:
      TaskConfig: the tasks to draw.

    Raises:
      ValueError: when ``family`` is neither in ``SETTINGS`` nor in ``SIZES``; from ``TaskConfig``: ``n_train``
        or ``n_test`` not a positive integer.

    Examples:
      >>> from ntk_bridge.experiments import accuracy
      >>> accuracy.task_config("digits-2way", 20, 20)
      TaskConfig(family='digits', n_train=20, n_test=20, n_support=5, n_query=5, options=(('n_way', 2),))
      >>> accuracy.task_config("sinusoid", 4, 2).n_support, accuracy.task_config("sinusoid", 4, 2).n_query
      (5, 10)
    """
    if family in SETTINGS:
        base, s, q, options = SETTINGS[family]
        return TaskConfig(base, n_train, n_test, s, q, options)
    if family not in SIZES:
        raise ValueError(f"family must be a task family {tuple(SIZES)} or a setting {tuple(SETTINGS)}, got {family!r}")
    s, q = SIZES[family]
    return TaskConfig(family, n_train, n_test, s, q)


def metric(family: str) -> str:
    """``"accuracy"`` for classification families (``tasks.CLASSIFICATION``), else ``"mse"``.

    Args:
      family: a task family or a name in ``SETTINGS`` (as ``task_config``).

    Returns:
      str: ``"accuracy"`` (argmax accuracy, higher is better) or ``"mse"`` (lower is better).

    Raises:
      KeyError: ``family`` unknown (``task_config``).

    Examples:
      >>> from ntk_bridge.experiments import accuracy
      >>> accuracy.metric("clusters"), accuracy.metric("digits-fixed"), accuracy.metric("sinusoid")
      ('accuracy', 'accuracy', 'mse')
    """
    return "accuracy" if task_config(family, 1, 1).family in CLASSIFICATION else "mse"


@dataclasses.dataclass(frozen=True)
class Config:
    """The accuracy sweep: family x depth x inner time x seed in closed form, plus trained nets.

    Closed-form points for every ``families`` x ``depths`` x ``inner_times`` x seed; trained nets
    (``widths``; none if empty) at ``finite_depth`` and the smallest inner time, for the families
    in both ``families`` and ``finite_families``, ``finite_seeds`` seeds each.  The default is the
    reference sweep (``results/reference``); ``quick()`` the one of ``reproduce --quick``;
    ``digits()`` the real-image settings.

    Attributes:
      AXES: fields left out of each point's config (``common.point``): sweep axes and summary-only
        settings, so changing them reuses the stored points (class constant, not a field).
      families: task families (``tasks.FAMILIES``) or settings (``SETTINGS``) swept, a non-empty tuple.
      n_train: training tasks per seed.
      n_test: unseen test tasks per seed.
      depths: depths ``L`` of the closed forms.
      seeds: task samplings per closed-form setting (seed ``s``: training tasks ``2s``, test ``2s + 1``).
      inner_times: inner times ``tau``, each in ``(0, 2 * steps]``: the inner loop takes ``steps``
        steps of size ``tau / (steps * lambda_max)`` (``common.scaled_adaptation``).
      steps: inner-loop steps.
      widths: hidden widths of the trained nets (``()``: no trained nets).
      finite_families: the families that also get trained nets (others: closed forms only).
      finite_depth: depth of the trained nets.
      finite_seeds: seeds (initialization and task sampling) of the trained nets.
      finite_outer_steps: most outer steps a trained net takes.
      finite_tol: convergence threshold of a trained net, relative to its initial loss, in ``(0, 1)``.
      probe_C: inverse L2 strength ``C`` of the authors' logistic probe (``probe``), classification only.
      include_flagged: keep trained nets that did not converge or left the kernel regime in the statistics.
      backend: kernel backend, one of ``kernels.BACKENDS``.

    Raises:
      ValueError: a field out of range (unknown family, non-positive counts, ``finite_tol`` outside
        ``(0, 1)``, ``probe_C <= 0``, an inner time outside ``(0, 2 * steps]``, a bad backend); the
        message names the field.

    Examples:
      >>> from ntk_bridge.experiments import accuracy
      >>> accuracy.Config.quick().widths, accuracy.Config.digits().families
      ((128,), ('digits', 'digits-5shot', 'digits-2way', 'digits-fixed'))
      >>> accuracy.Config(inner_times=(20.0,))
      Traceback (most recent call last):
      ...
      ValueError: inner_times must be a non-empty tuple of numbers in (0, 2 * steps], got (20.0,)
    """

    AXES: ClassVar[tuple] = ("families", "depths", "seeds", "inner_times", "widths", "finite_families", "finite_depth",
                             "finite_seeds", "finite_outer_steps", "finite_tol", "probe_C",
                             "include_flagged")
    families: tuple = ("shared-feature", "sinusoid", "clusters")
    n_train: int = 20
    n_test: int = 20
    depths: tuple = (2, 8)
    seeds: int = 5
    inner_times: tuple = (0.5, 5.0)
    steps: int = 5
    widths: tuple = (512,)
    finite_families: tuple = ("shared-feature", "sinusoid", "clusters")
    finite_depth: int = 2
    finite_seeds: int = 2
    finite_outer_steps: int = 3000
    finite_tol: float = 1e-7
    probe_C: float = probe.C_AUTHORS
    include_flagged: bool = False
    backend: str = "native"

    def __post_init__(self):
        known = sorted(FAMILIES) + [f for f in SETTINGS if f not in FAMILIES]
        if not isinstance(self.families, tuple) or not self.families or any(f not in known for f in self.families):
            raise ValueError(f"families must be a non-empty tuple of {known}, got {self.families!r}")
        if not isinstance(self.finite_families, tuple) or any(f not in known for f in self.finite_families):
            raise ValueError(f"finite_families must be a tuple of {known}, got {self.finite_families!r}")
        for name in ("n_train", "n_test", "seeds", "steps", "finite_depth", "finite_seeds", "finite_outer_steps"):
            check_int(name, getattr(self, name))
        validate.real("finite_tol", self.finite_tol, 0.0, 1.0, low_open=True, high_open=True)
        validate.positive("probe_C", self.probe_C)
        validate.flag("include_flagged", self.include_flagged)
        check_ints("depths", self.depths)
        if self.widths:
            check_ints("widths", self.widths)
        if not self.inner_times or any(not (isinstance(t, (int, float)) and 0 < t <= 2 * self.steps)
                                       for t in self.inner_times):
            raise ValueError(f"inner_times must be a non-empty tuple of numbers in (0, 2 * steps], "
                             f"got {self.inner_times!r}")
        check_choice("backend", self.backend, BACKENDS)

    @classmethod
    def quick(cls) -> "Config":
        return cls(seeds=2, widths=(128,), finite_families=("shared-feature",), finite_seeds=1,
                   finite_outer_steps=1000, finite_tol=1e-5)

    @classmethod
    def digits(cls, quick: bool = False) -> "Config":
        """C5 on real images: the four digits settings (``SETTINGS``), closed forms at depths 2
        and 8, inner time tau = 0.5, 2 seeds; trained nets of width 256 (depth 2) on every setting,
        one seed, up to 3000 outer steps to 1e-4 of the initial loss (about 15 CPU-minutes: second-order
        MAML dominates); the authors' logistic probe (C = 3) on every body."""
        if quick:
            return cls(families=DIGITS, n_train=8, n_test=8, seeds=2, depths=(2,), inner_times=(0.5,), widths=())
        return cls(families=DIGITS, seeds=2, inner_times=(0.5,), finite_families=DIGITS, widths=(256,),
                   finite_seeds=1, finite_outer_steps=3000, finite_tol=1e-4)


def _probe(config: Config, family: str) -> dict:
    """The probe's point field: ``{"probe_C": C}`` for classification families, else nothing."""
    return {"probe_C": config.probe_C} if metric(family) == "accuracy" else {}


def _tasks(p: dict) -> TaskConfig:
    """The point's tasks; image inputs (``as_images``) for a convolutional point (``p["arch"] == "conv"``)."""
    tasks = task_config(p["family"], p["n_train"], p["n_test"])
    if p.get("arch", "mlp") == "conv":
        tasks = dataclasses.replace(tasks, options=tasks.options + (("as_images", True),))
    return tasks


def _score(family: str, pred, target) -> float:
    return metrics.accuracy(pred, target) if metric(family) == "accuracy" else metrics.mse(pred, target)


def evaluate(p: dict) -> dict:
    """One closed-form point: every method's test error (``{"error": ...}`` where not computable) and, for
    classification, the probe on the initial body.  ``p["arch"] == "conv"``: a ``ConvSpec`` on the images.

    Draws the seed's training and test tasks (``task_config(family, n_train, n_test).draw(seed)``),
    sets the inner loop by ``common.scaled_adaptation`` (``steps`` steps of ``lr = tau / (steps *
    lambda_max)``) and runs ``predict.closed_form`` of every method of ``METHODS`` on the test tasks.

    Args:
      p: the point: ``family``, ``n_train``, ``n_test``, ``seed``, ``depth``, ``tau``, ``steps``,
        ``backend``; ``probe_C`` (classification: run the probe); optionally ``arch``/``pool``
        (``common.spec_for``).

    Returns:
      dict: ``"lr"`` and ``"time"`` (``lr * steps``) of the inner loop; per method ``key(method)`` ->
      ``{"error_metric": float}`` (test MSE, or argmax accuracy for classification) or ``{"error":
      message}`` (``errors.NotComputable``); with ``probe_C``, ``"probe"``: ``probe.infinite``'s result.

    Raises:
      ValueError: tasks that cannot be drawn (``TaskConfig.draw``) or an unknown ``backend``.
      KeyError: a field missing from ``p``, or an unknown ``family``.

    Examples:
      >>> import numpy as np
      >>> from ntk_bridge.experiments import accuracy
      >>> p = {"family": "shared-feature", "n_train": 3, "n_test": 2, "seed": 0, "depth": 1, "tau": 0.5,
      ...      "steps": 5, "backend": "native"}
      >>> res = accuracy.evaluate(p)
      >>> sorted(res)
      ['anil-disjoint', 'anil-same', 'fomaml-disjoint', 'fomaml-same', 'lr', 'maml-disjoint', 'maml-same',
       'mtl', 'no-transfer', 'time']
      >>> sorted(res["mtl"]), bool(np.isclose(res["time"], 5 * res["lr"]))
      (['error_metric'], True)
    """
    train, test = _tasks(p).draw(p["seed"])
    spec = spec_for(p, train)   # MLPSpec, or a ConvSpec on images (the conv experiment's points)
    kfn = kernel_table(spec, train, test, backend=p["backend"])
    adapt = scaled_adaptation(kfn, train, p["tau"], p["steps"])
    result = {"lr": adapt.lr, "time": adapt.time}
    for method in METHODS:
        try:
            pred = closed_form(method, kfn, train, test, adapt=adapt)
        except NotComputable as exc:  # singular meta-NTK: a result, recorded; any other error is a bug
            result[key(method)] = {"error": str(exc)}
        else:
            result[key(method)] = {"error_metric": _score(p["family"], pred, test.yq)}
    if "probe_C" in p:   # classification: the authors' test-time probe on the (unmoved) infinite-width body
        result["probe"] = probe.infinite(spec, test, p["probe_C"], backend=p["backend"])
    return result


def _compute_finite(p: dict) -> dict:
    from .. import finite

    train, test = _tasks(p).draw(p["seed"])
    spec = MLPSpec(depth=p["depth"], width=p["width"], out_dim=train.out_dim)
    adapt = scaled_adaptation(kernel_table(spec, train, test, backend=p["backend"]), train, p["tau"], p["steps"])
    result = {"lr": adapt.lr}
    for method in FINITE_METHODS:
        pred, info = finite.fit_predict(spec, train, test, method=method.name, adapt=adapt, split=method.split,
                                        seed=p["seed"], outer_steps=p["outer_steps"], tol=p["tol"], return_info=True)
        result[key(method)] = {"error_metric": _score(p["family"], pred, test.yq), "converged": bool(info["converged"]),
                               "train_s": float(info["wall_s"]), "steps": int(info["steps"]),
                               "left_kernel_regime": bool(info["left_kernel_regime"])}
        if "probe_C" in p:   # the authors' test-time probe on the trained body (classification)
            result[key(method)]["probe"] = probe.finite(spec, info["body"], test, p["probe_C"])
    return result


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) family x depth x tau x seed, and the finite-width points; store the summary.

    Closed-form points (``evaluate``) and trained-net points (``nb.finite.fit_predict`` of each of
    ``FINITE_METHODS``) are stored under ``root/accuracy`` (stored ones are reused).  The summary
    holds one ``Row`` per (family, depth, tau) in closed form (``infinite_rows``) and one per
    (family, width) of trained nets; trained nets that did not converge or left the kernel regime
    are counted as ``excluded`` and left out unless ``config.include_flagged``.

    Args:
      config: the sweep (``Config``).
      root: results folder the records are stored under (default ``results``).

    Returns:
      dict: the stored summary record (``kind == "summary"``); ``read`` gives its typed view.

    Raises:
      ValueError: from ``TaskConfig.draw``: tasks the families cannot serve (``digits`` pools too small
        for ``n_train``/``n_test``).

    Examples:
      >>> import tempfile
      >>> from ntk_bridge.experiments import accuracy
      >>> config = accuracy.Config(families=("shared-feature",), n_train=3, n_test=2, depths=(1,), seeds=2,
      ...                          inner_times=(0.5,), widths=())
      >>> with tempfile.TemporaryDirectory() as root:
      ...     rec = accuracy.run(config, root=root)
      >>> row, = accuracy.read(rec).rows
      >>> row.family, row.depth, row.tau, row.width, row.metric, len(row.scores) + len(row.errors)
      ('shared-feature', 1, 0.5, None, 'mse', 8)
    """
    start = time.perf_counter()
    points = [point(config, family=f, depth=L, tau=tau, seed=s, **_probe(config, f)) for f in config.families
              for L in config.depths for tau in config.inner_times for s in range(config.seeds)]
    records = sweep.run(root, NAME, points, evaluate, seed_of=lambda p: p["seed"], desc="accuracy (inf. width)")
    from ..finite import SCHEDULE  # the outer schedule is part of a trained point's identity (issue #14)

    finite_points = [point(config, family=f, depth=config.finite_depth, tau=min(config.inner_times), width=w,
                           seed=s, outer_steps=config.finite_outer_steps, tol=config.finite_tol, schedule=SCHEDULE,
                           **_probe(config, f))
                     for f in config.families if f in config.finite_families
                     for w in config.widths for s in range(config.finite_seeds)]
    finite_records = sweep.run(root, NAME, finite_points, _compute_finite, seed_of=lambda p: p["seed"],
                               desc="accuracy (finite width)") if config.widths else []
    rows = []
    for f in config.families:
        rows += infinite_rows(f, config.depths, config.inner_times, records)
        for w in config.widths if f in config.finite_families else ():
            res = [r["result"] for r in finite_records
                   if (r["config"]["family"], r["config"]["width"]) == (f, w)]
            probes = {m: [x[key(m)]["probe"] for x in res if key(m) in x and "probe" in x[key(m)]
                          and (config.include_flagged or not _flag(x[key(m)]))] for m in FINITE_METHODS}
            rows.append(_row(f, config.finite_depth, min(config.inner_times), w,
                             {m: [x[key(m)] for x in res if key(m) in x] for m in FINITE_METHODS},
                             {m: v for m, v in probes.items() if v}, config.include_flagged))
    return save_summary(root, NAME, config, records + finite_records, schema.to_json(AccuracyResult(tuple(rows))),
                        start)


def infinite_rows(family: str, depths, inner_times, records: list[dict]) -> list["Row"]:
    """The closed-form rows of ``family`` per depth and inner time, over the seeds of ``records`` (point records
    of ``evaluate``).

    Records are matched by ``config["family"]``, ``["depth"]`` and ``["tau"]`` only: pass closed-form
    records alone (a trained-net record of the same family, depth and tau would be counted too).  Every
    method shares one probe ``Stat`` (infinite width: one body for all).

    Args:
      family: the task family or setting of the rows.
      depths: the depths, one row each (outer loop).
      inner_times: the inner times ``tau``, one row each (inner loop).
      records: point records (``{"config": ..., "result": ...}``) of ``evaluate``; others are ignored.

    Returns:
      list[Row]: ``len(depths) * len(inner_times)`` rows with ``width`` ``None``, depth-major.

    Examples:
      The reference summary's sinusoid rows, rebuilt from its closed-form point records:

      >>> from ntk_bridge import selection, store
      >>> from ntk_bridge.experiments import accuracy
      >>> rec = selection.summary("results/reference", "accuracy")
      >>> points = [r for r in store.points_of("results/reference", rec) if "width" not in r["config"]]
      >>> rows = accuracy.infinite_rows("sinusoid", (2, 8), (0.5, 5.0), points)
      >>> [(r.depth, r.tau) for r in rows]
      [(2, 0.5), (2, 5.0), (8, 0.5), (8, 5.0)]
      >>> rows == [r for r in accuracy.read(rec).rows if r.family == "sinusoid" and r.width is None]
      True
    """
    rows = []
    for L in depths:
        for tau in inner_times:
            res = [r["result"] for r in records
                   if (r["config"]["family"], r["config"]["depth"], r["config"]["tau"]) == (family, L, tau)]
            probes = [x["probe"] for x in res if "probe" in x]
            # one body for every method at infinite width: the same probe accuracy
            rows.append(_row(family, L, tau, None, {m: [x[key(m)] for x in res if key(m) in x] for m in METHODS},
                             {m: probes for m in METHODS} if probes else {}, include_flagged=True))
    return rows


def _flag(result: dict) -> str | None:
    """Why a trained net's result stays out of the statistics (not converged, left the kernel regime), or ``None``."""
    if result.get("left_kernel_regime"):
        return "left the kernel regime (its loss rose by more than 5% in a step)"
    if result.get("converged") is False:
        return f"did not converge in {result.get('steps', '?')} outer steps"
    return None


def _row(family: str, depth: int, tau: float, width: int | None, results: dict, probes: dict,
         include_flagged: bool) -> "Row":
    """One setting: per method, the Stat of ``error_metric`` over the seeds that computed, or why none did.

    Trained nets flagged by ``_flag`` are counted as ``excluded`` and left out unless
    ``include_flagged``; a method no record holds (records stored before it was added) is left out.
    """
    scores, errors = {}, {}
    for m, res in results.items():
        done = [r for r in res if "error_metric" in r]
        ok = [r["error_metric"] for r in done if include_flagged or not _flag(r)]
        if ok:
            scores[m.label] = Stat.read(dict(stat(ok), failed=len(res) - len(done), excluded=len(done) - len(ok)))
        elif done:
            errors[m.label] = f"every run excluded: {_flag(done[0])}"
        elif res:
            errors[m.label] = str(res[0].get("error", "not computable"))
    return Row(family, depth, tau, width, metric(family), scores, errors,
               {m.label: Stat.read(stat(v)) for m, v in probes.items()})


# --------------------------------------------------------------------------- the summary's schema
@dataclasses.dataclass(frozen=True)
class Row:
    """Test error of every method at one (family, depth, tau, width) setting.

    ``ran(method)``, ``score(method)`` and ``probe(method)`` look a method up by name or ``Method``;
    ``higher_is_better`` is ``metric == "accuracy"``.

    Attributes:
      family: the task family or setting (``SETTINGS``).
      depth: number of hidden layers ``L``.
      tau: the inner time (``lr = tau / (steps * lambda_max)``).
      width: hidden width of the trained nets; ``None`` for the closed form (infinite width).
      metric: ``"mse"`` (lower is better) or ``"accuracy"`` (higher is better).
      scores: ``Method.label`` -> ``Stat`` of the test error over the seeds that computed (``failed``:
        seeds not computable, ``excluded``: flagged trained nets left out).
      errors: ``Method.label`` -> why no seed gave a score (the first seed's error, or the flag).
      probes: ``Method.label`` -> ``Stat`` of the logistic probe's query accuracy (classification only).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import accuracy
      >>> s = accuracy.read(selection.summary("results/reference", "accuracy"))
      >>> row = next(r for r in s.rows if r.family == "clusters")
      >>> row.depth, row.tau, row.width, row.metric, row.higher_is_better
      (2, 0.5, None, 'accuracy', True)
      >>> row.ran("maml-same"), row.probe("maml-same") == row.probe("mtl-shared")    # one body at infinite width
      (True, True)
    """

    family: str
    depth: int
    tau: float
    width: int | None               # None: closed form (infinite width)
    metric: str                     # "mse" (lower is better) | "accuracy" (higher is better)
    scores: dict[str, Stat]         # Method.label -> Stat (mean/std over the seeds that computed)
    errors: dict[str, str]          # Method.label -> message, where no seed could be computed
    probes: dict[str, Stat]         # Method.label -> Stat: the authors' probe (nb.probe)

    def ran(self, method) -> bool:
        """Whether ``method`` (a ``Method`` or name) was run at this setting."""
        label = parse(method).label
        return label in self.scores or label in self.errors

    def score(self, method) -> Stat | None:
        """Mean/std of the test error of ``method``; ``None`` if not run or not computable."""
        return self.scores.get(parse(method).label)

    def probe(self, method) -> Stat | None:
        """Query accuracy of the logistic probe (``nb.probe``, ``C = probe_C``) on ``method``'s body;
        ``None`` where it was not run (regression, or records from before the probe)."""
        return self.probes.get(parse(method).label)

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "accuracy"


@dataclasses.dataclass(frozen=True)
class AccuracyResult:
    """What an accuracy summary stores (``schema.to_json``).

    Attributes:
      rows: per family, its closed-form ``Row`` s (depth x tau) then its trained-net rows (one per width).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import accuracy
      >>> result = accuracy.read(selection.summary("results/reference", "accuracy")).result
      >>> len(result.rows), [(r.family, r.width) for r in result.rows if r.width is not None]
      (15, [('shared-feature', 512), ('sinusoid', 512), ('clusters', 512)])
    """

    rows: tuple[Row, ...]


@dataclasses.dataclass(frozen=True)
class AccuracySummary(Summary):
    """An accuracy summary record, typed: its ``AccuracyResult`` and accessors (``rows``, ``families`` in
    sweep order, ``methods``: ``METHODS``).

    Attributes:
      record: the stored summary record (dict; ``config`` reads its config).
      result: the typed result (``AccuracyResult``).

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import accuracy
      >>> s = accuracy.read(selection.summary("results/reference", "accuracy"))
      >>> s.families, [m.label for m in s.methods][:3]
      (('shared-feature', 'sinusoid', 'clusters'), ['mtl-shared', 'anil-same', 'anil-disjoint'])
    """

    result: AccuracyResult | None = None

    @property
    def rows(self) -> tuple:
        return self.result.rows

    @property
    def families(self) -> tuple:
        return tuple(dict.fromkeys(r.family for r in self.rows))

    @property
    def methods(self) -> tuple:
        """Every method of the sweep, in ``METHODS`` order."""
        return METHODS


def read(summary: dict) -> AccuracySummary:
    """The typed view of an accuracy summary record.

    Args:
      summary: a stored accuracy summary record (from ``run``, or ``selection.summary(root, "accuracy")``).

    Returns:
      AccuracySummary: the record and its ``AccuracyResult``.

    Raises:
      ValueError: from ``schema.from_json``: ``summary["result"]`` does not have the schema's shape.
      KeyError: ``summary`` has no ``"result"``.

    Examples:
      >>> from ntk_bridge import selection
      >>> from ntk_bridge.experiments import accuracy
      >>> s = accuracy.read(selection.summary("results/reference", "accuracy", digits=True))
      >>> type(s).__name__, s.families, {r.metric for r in s.rows}
      ('AccuracySummary', ('digits', 'digits-5shot', 'digits-2way', 'digits-fixed'), {'accuracy'})
    """
    return AccuracySummary(summary, schema.from_json(AccuracyResult, summary["result"]))
