"""Builders and parsers shared by several test modules (imported as ``from builders import ...``).

Tiny result sets (digits sweeps, a synthetic finite-closeness sweep), the Markdown-table parsers
the appendix tests read numbers back with, and a kernel function that counts its entries.
"""
from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge import metrics, predict, store
from ntk_bridge.experiments import accuracy, closeness, common, conv, distribution, feature_learning
from ntk_bridge.experiments import finite_closeness as fc
from ntk_bridge.experiments.common import TaskConfig

REL = 6e-3     # 3 significant digits: rounding error <= 0.5e-2 relative
REL_STD = 6e-2  # spreads print 2 significant digits


def md_tables(text: str) -> dict:
    """``{label: (header, rows)}`` of the Markdown tables (cells as stripped strings)."""
    tables = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.fullmatch(r"<!-- table: (\S+) -->", line)
        if not m:
            continue
        j = i + 1
        while not lines[j].startswith("|"):
            j += 1
        block = []
        while j < len(lines) and lines[j].startswith("|"):
            block.append([c.strip() for c in re.split(r"(?<!\\)\|", lines[j])[1:-1]])
            j += 1
        tables[m.group(1)] = (block[0], block[2:])
    return tables


def num(cell: str) -> tuple[float, float | None]:
    """``"0.123 ± 0.004"`` -> ``(0.123, 0.004)``; ``"1.5e-05"`` -> ``(1.5e-05, None)``."""
    parts = [p.strip() for p in cell.split("±")]
    return float(parts[0]), (float(parts[1]) if len(parts) > 1 else None)


def close(cell: str, values, rel=REL, rel_std=REL_STD):
    """The printed mean ± std equals the mean and sample std of ``values`` to printing precision."""
    mean, std = num(cell)
    v = np.asarray(values, dtype=float)
    assert mean == pytest.approx(v.mean(), rel=rel, abs=1e-12), cell
    if len(v) > 1:
        assert std is not None, cell
        assert std == pytest.approx(v.std(ddof=1), rel=rel_std, abs=1e-12), cell


FC_CFG = fc.Config(tasks=common.TaskConfig(n_train=3, n_test=2, n_support=2, n_query=2), depths=(1, 4, 16),
                widths=(64, 256), methods=("mtl-shared", "anil"), splits=("same",), protocols=("trained", "fresh"),
                seeds=2, ensembles=(1, 2), ensemble_depths=(), grids=(), n_boot=50)
FLAGGED = ("anil-same", 16, 64, 1)
FLAGGED_KEYS = {FLAGGED, ("anil-same+fresh", 16, 64, 1)}   # one net, read under both heads


def fake_fc_compute(p):
    """Synthetic finite-closeness point results (the experiment's training replaced), one run flagged: one net
    read under both test heads (the fresh head's closed form is a different, no-transfer-like prediction)."""
    rng = np.random.default_rng([p["seed"], p["width"], p["depth"], len(p["method"])])
    shape = common.TaskConfig(**p["tasks"]).draw(p["task_seed"])[1].yq.shape   # the test queries' labels
    inf = np.linspace(-1, 1, int(np.prod(shape))).reshape(shape) * (1.0 + 0.1 * ("anil" in p["method"]) / p["depth"])
    scale = 0.5 * (p["depth"] / p["width"]) ** 0.5 * (1 + 0.1 * p["seed"])
    flagged = (p["method"], p["depth"], p["width"], p["seed"]) == FLAGGED
    protocols = {}
    for head, closed in (("trained", inf), ("fresh", 0.3 * np.linspace(1, -1, inf.size).reshape(shape))):
        pred = closed + scale * rng.standard_normal(shape)
        lin = closed + 0.5 * scale * rng.standard_normal(shape)
        fresh = head == "fresh"
        protocols[head] = {"err": metrics.rel_gap(pred, closed), "fluctuation": metrics.rel_gap(lin, closed),
                           "drift": None if fresh else metrics.rel_gap(pred, lin),
                           "seen": float(np.linalg.norm(pred - lin) / np.linalg.norm(closed)) if fresh else None,
                           "pred": pred, "pred_linearized": lin, "pred_infinite": closed}
    return {"converged": True, "left_kernel_regime": flagged, "rises": 3 if flagged else 0,
            "max_step_ratio": 1.4 if flagged else 0.99, "max_loss_ratio": 1.0, "steps": 10, "final_loss": 1e-7,
            "initial_loss": 1.0, "train_s": 0.01, "protocols": protocols}


def fc_points(root, summary) -> dict:
    """A finite-closeness summary's points read per protocol: ``(label, L, n, seed) -> result`` (predictions as
    arrays; the fresh head's under ``label + "+fresh"``)."""
    out = {}
    for rec in store.points_of(root, summary):
        c = rec["config"]
        flags = {k: v for k, v in rec["result"].items() if k != "protocols"}
        for head, suffix in (("trained", ""), ("fresh", "+fresh")):
            part = {k: np.asarray(v) if k.startswith("pred") and v is not None else v
                    for k, v in rec["result"]["protocols"][head].items()}
            out[c["method"] + suffix, c["depth"], c["width"], c["seed"]] = {**flags, **part}
    return out


DIST_CFG = distribution.Config(
    tasks=TaskConfig(n_train=3, n_test=2, n_support=2, n_query=2, options=(("dim", 4),)),
    methods=("mtl-shared", "anil-same"), widths=(32, 64), n_nets=4, outer_steps=200, tol=1e-3, n_boot=50,
    pairs=(("mtl-shared", "anil-same"),), depths=(1, 4), band_depths=(1, 2), band_train=2, band_support=3)


TINY_DIGITS = TaskConfig("digits", 3, 2, 2, 2, options=(("n_way", 2),))


CONV_IMAGES = (("n_way", 2), ("as_images", True))
CONV_CFG = conv.Config(tasks=TaskConfig("digits", 2, 2, 1, 2, options=CONV_IMAGES), depths=(1, 2), seeds=2,
                       settings=("digits-2way",), n_acc=2, acc_depths=(1,), acc_seeds=1,
                       finite_tasks=TaskConfig("digits", 2, 1, 1, 1, options=CONV_IMAGES), channels=(4, 8),
                       finite_methods=("mtl-shared",), max_channels=(), finite_seeds=2, outer_steps=30, n_boot=20)


_TRAINED: dict[str, Path] = {}   # experiment -> a folder holding its tiny sweep's point records


def seed_trained_points(module, config, root) -> None:
    """Copy into ``root`` the point records of ``module.run(config)``, trained once per test session.

    The tiny conv and feature-learning sweeps train real nets (a minute on 2 cores under the newest JAX); three
    fixtures each need their records.  A sweep resumes from stored points, so ``module.run(config, root)`` after
    this reads the same trained nets back and only summarizes.  Configs that differ in summary-only fields
    (``include_flagged``) share the points.
    """
    name = module.NAME
    if name not in _TRAINED:
        cache = Path(tempfile.mkdtemp(prefix=f"tiny-{name}-"))
        atexit.register(shutil.rmtree, cache, True)
        module.run(config, cache)
        _TRAINED[name] = cache
    dest = Path(root) / name
    dest.mkdir(parents=True, exist_ok=True)
    for record in store.load(_TRAINED[name], name, kind="point"):
        shutil.copy2(store.path_of(_TRAINED[name], name, record["config_hash"]), dest)


def run_tiny_conv(root) -> dict:
    """The tiny conv experiment (real training of 4 small conv nets, once per session)."""
    seed_trained_points(conv, CONV_CFG, root)
    return conv.run(CONV_CFG, root)


FL_CFG = feature_learning.Config(settings=("shared-feature", "digits"), n_tasks=2, scales=(1.0,),
                                 methods=("mtl-shared", "anil"), widths=(16, 32), seeds=2, max_widths=(), float64_methods=(),
                                 outer_steps=40, tol=1e-3, n_boot=20)


def run_tiny_feature_learning(root) -> dict:
    """The tiny feature-learning experiment (real training of 24 small nets, once per session)."""
    seed_trained_points(feature_learning, FL_CFG, root)
    return feature_learning.run(FL_CFG, root)


def run_tiny_digits(root) -> None:
    """Tiny digits closeness and accuracy sweeps (for the figure and appendix fixtures)."""
    closeness.run(closeness.Config(tasks=TINY_DIGITS, depths=(1, 2, 4), seeds=2, lr_steps=(), widths=(), n_boot=20),
                  root)
    accuracy.run(accuracy.Config(families=("digits-2way", "digits-fixed"), n_train=3, n_test=2, depths=(2,), seeds=2,
                                 inner_times=(0.5,), widths=(), finite_families=()), root)


class CountingKernel:
    """Wraps a kernel function; records every evaluated entry as an unordered pair of point ids.

    A symmetric call ``K(x)`` evaluates each unordered pair once (the kernel is mirrored).
    """

    def __init__(self, *task_sets):
        rows = [(s, task, row) for s, t in enumerate(task_sets)
                for task, pts in enumerate(np.concatenate([t.xs, t.xq], 1)) for row in pts]
        self.index = {row.tobytes(): i for i, (_, _, row) in enumerate(rows)}
        self.set = np.array([r[0] for r in rows])
        self.task = np.array([r[1] for r in rows])
        self.fn = predict.analytic(nb.MLPSpec(depth=2))
        self.codes = []

    def _ids(self, x):
        return np.array([self.index[np.asarray(row, dtype=np.float64).tobytes()] for row in x])

    def __call__(self, x1, x2=None):
        a = self._ids(x1)
        b = a if x2 is None else self._ids(x2)
        lo, hi = np.minimum.outer(a, b), np.maximum.outer(a, b)
        keep = np.triu(np.ones(lo.shape, dtype=bool)) if x2 is None else np.ones(lo.shape, dtype=bool)
        self.codes.append(lo[keep] * len(self.index) + hi[keep])
        return self.fn(x1, x2)

    def check(self):
        """No pair twice; no pair of points from two different test tasks.  Returns the number of entries."""
        codes = np.concatenate(self.codes)
        n_twice = codes.size - np.unique(codes).size
        assert n_twice == 0, f"{n_twice} kernel entries evaluated twice"
        lo, hi = np.divmod(codes, len(self.index))
        cross_test = (self.set[lo] == 1) & (self.set[hi] == 1) & (self.task[lo] != self.task[hi])
        assert not cross_test.any(), f"{cross_test.sum()} entries between different test tasks"
        return codes.size
