"""Width (claim C2): trained finite nets approach the closed-form predictors as width grows.

For each depth, width, method and initialization seed, one centered net is trained
(``nb.finite.fit_predict``) on one fixed draw of tasks and compared on the test queries with
the infinite-width closed form: ``err = ||f_width - f_inf|| / ||f_inf||``.  The summary
fits ``err ~ c * width^-r`` per method and depth (theory: ``r = 1/2``), with a bootstrap
interval over seeds, and reports the finite-width gap MTL vs each GBML method beside the
infinite-width one (the records keep the test predictions for that).
"""
from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

import numpy as np

from .. import metrics, store
from ..kernels import BACKENDS
from ..predict import SPLITS, Adaptation, gbml_from_kernels, mtl_from_kernels
from ..spec import MLPSpec
from .common import TaskConfig, check_choice, check_int, check_ints, kernel_table, point, save_summary, stat

NAME = "width"
METHODS = ("mtl-shared", "anil", "maml")


@dataclasses.dataclass(frozen=True)
class Config:
    AXES: ClassVar[tuple] = ("depths", "widths", "methods", "seeds", "n_boot")
    tasks: TaskConfig = TaskConfig(n_train=10, n_test=10, n_support=5, n_query=10)
    task_seed: int = 0
    depths: tuple = (2, 4)
    widths: tuple = (64, 256, 1024, 4096)
    methods: tuple = METHODS
    seeds: int = 3
    lr: float = 0.02
    steps: int = 5
    split: str = "same"
    outer_steps: int = 3000
    n_boot: int = 2000
    backend: str = "native"

    def __post_init__(self):
        check_int("task_seed", self.task_seed, 0)
        check_ints("depths", self.depths)
        check_ints("widths", self.widths)
        if len(self.widths) < 2:
            raise ValueError(f"widths must hold >= 2 widths to fit a rate, got {self.widths!r}")
        if not self.methods or any(m not in METHODS for m in self.methods):
            raise ValueError(f"methods must be a non-empty tuple of {METHODS}, got {self.methods!r}")
        for name in ("seeds", "outer_steps", "n_boot"):
            check_int(name, getattr(self, name))
        Adaptation(self.lr, self.steps)
        check_choice("split", self.split, SPLITS)
        check_choice("backend", self.backend, BACKENDS)

    @classmethod
    def quick(cls) -> "Config":
        return cls(depths=(2,), widths=(64, 256, 1024), methods=("mtl-shared", "anil"), seeds=2,
                   outer_steps=1000, n_boot=1000)


def _infinite(p: dict, train, test) -> np.ndarray:
    spec = MLPSpec(depth=p["depth"], out_dim=train.out_dim)
    kfn = kernel_table(spec, train, test, backend=p["backend"])
    adapt = Adaptation(p["lr"], p["steps"])
    if p["method"] == "mtl-shared":
        return mtl_from_kernels(kfn, train, test, adapt=adapt)
    return gbml_from_kernels(kfn, train, test, algo=p["method"], adapt=adapt, split=p["split"])


def _compute(p: dict) -> dict:
    from .. import finite

    train, test = TaskConfig(**p["tasks"]).draw(p["task_seed"])
    spec = MLPSpec(depth=p["depth"], width=p["width"], out_dim=train.out_dim)
    pred, info = finite.fit_predict(spec, train, test, method=p["method"], adapt=Adaptation(p["lr"], p["steps"]),
                                    split=p["split"], seed=p["seed"], outer_steps=p["outer_steps"], return_info=True)
    inf = _infinite(p, train, test)
    return {"err": metrics.rel_gap(pred, inf), "converged": bool(info["converged"]), "steps": int(info["steps"]),
            "final_loss": float(info["final_loss"]), "initial_loss": float(info["initial_loss"]),
            "train_s": float(info["wall_s"]), "pred": pred, "pred_infinite": inf}


def run(config: Config, root=store.DEFAULT_ROOT) -> dict:
    """Run (or resume) depth x width x method x seed; store the summary with fitted rates."""
    start = time.perf_counter()
    keys = [(L, w, m, s) for L in config.depths for m in config.methods for w in config.widths
            for s in range(config.seeds)]
    points = [point(config, depth=L, width=w, method=m, seed=s) for L, w, m, s in keys]
    records = store.sweep(root, NAME, points, _compute, seed_of=lambda p: p["seed"], desc="width")
    res = {k: r["result"] for k, r in zip(keys, records)}
    summary = {"widths": list(config.widths), "depths": list(config.depths), "methods": list(config.methods)}
    for L in config.depths:
        for m in config.methods:
            errs = np.array([[res[L, w, m, s]["err"] for w in config.widths] for s in range(config.seeds)])
            summary[f"{L}/{m}/err"] = [stat(errs[:, j]) for j in range(len(config.widths))]
            summary[f"{L}/{m}/fit"] = metrics.fit_power_law(config.widths, errs, n_boot=config.n_boot)
            summary[f"{L}/{m}/converged"] = all(res[L, w, m, s]["converged"]
                                               for w in config.widths for s in range(config.seeds))
        if "mtl-shared" in config.methods:
            for m in config.methods:
                if m == "mtl-shared":
                    continue
                fin = [[metrics.rel_gap(res[L, w, m, s]["pred"], res[L, w, "mtl-shared", s]["pred"])
                        for w in config.widths] for s in range(config.seeds)]
                any_key = (L, config.widths[0], m, 0)
                summary[f"{L}/{m}/gap_to_mtl"] = {
                    "finite": [stat(col) for col in np.array(fin).T],
                    "infinite": metrics.rel_gap(res[any_key]["pred_infinite"],
                                                res[L, config.widths[0], "mtl-shared", 0]["pred_infinite"])}
    return save_summary(root, NAME, config, records, summary, start)
