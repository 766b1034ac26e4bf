"""Tutorial: a task family of your own.

Any data becomes tasks through ``nb.TaskSet(xs, ys, xq, yq)``: float arrays of shapes
``(tasks, support, dim)``, ``(tasks, support, out_dim)``, ``(tasks, query, dim)``,
``(tasks, query, out_dim)``, validated on construction (a bad one raises ``ValueError`` naming the
field).  This script defines a family, waves along one direction ``u`` that all tasks share,

    y_i(x) = a_i cos(omega u . x + phi_i),    x on the unit sphere,

with a per-task amplitude ``a_i`` and phase ``phi_i``; then it compares MTL, ANIL and no transfer on
unseen tasks of the family at infinite width as the depth grows.

    python docs/tutorials/task_family.py --out DIR            # DIR/task_family.png (about 15 s)
    python docs/tutorials/task_family.py --out DIR --small    # a few seconds (what the tests run)
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ntk_bridge as nb  # noqa: E402

OMEGA = 4.0


def waves(n_tasks, n_support=5, n_query=10, *, dim=8, world_seed=0, seed=0):
    """``n_tasks`` tasks of the family: a ``TaskSet`` and each task's ``(amplitude, phase)``, ``(n_tasks, 2)``.

    ``world_seed`` draws the shared direction ``u``; ``seed`` the tasks and their points, so training
    and test tasks come from one world with different seeds.
    """
    u = np.random.default_rng(world_seed).standard_normal(dim)
    u /= np.linalg.norm(u)
    rng = np.random.default_rng([world_seed, seed])
    params = np.stack([rng.uniform(0.5, 2.0, n_tasks), rng.uniform(0.0, 2 * np.pi, n_tasks)], axis=1)
    x = rng.standard_normal((n_tasks, n_support + n_query, dim))
    x /= np.linalg.norm(x, axis=-1, keepdims=True)                       # the unit sphere: kernels stay O(1)
    y = params[:, :1, None] * np.cos(OMEGA * (x @ u)[..., None] + params[:, 1:, None])
    tasks = nb.TaskSet(x[:, :n_support], y[:, :n_support], x[:, n_support:], y[:, n_support:])
    return tasks, params, u


def main(out_dir, small=False):
    """MTL, ANIL and no transfer on the family against depth; draw ``out_dir/task_family.png``."""
    depths = (1, 4) if small else (1, 2, 4, 8, 16, 32)
    train, _, _ = waves(8 if small else 40, seed=0)
    test, test_params, u = waves(4 if small else 20, seed=1)
    adapt = nb.Adaptation(lr=0.1, steps=5)
    methods = ("mtl-shared", "anil-same", "no-transfer")
    preds = {m: [] for m in methods}
    for depth in depths:
        kernel_fn = nb.predict.analytic(nb.MLPSpec(depth=depth))
        for m in methods:
            preds[m].append(nb.predict.closed_form(m, kernel_fn, train, test, adapt=adapt))
    mse = {m: [nb.metrics.mse(p, test.yq) for p in preds[m]] for m in methods}
    gaps = [nb.metrics.rel_gap(a, b) for a, b in zip(preds["mtl-shared"], preds["anil-same"])]

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for m in methods:
        left.semilogx(depths, mse[m], "o-", label=nb.methods.parse(m).display)
    left.set_ylabel("test MSE on unseen tasks")
    right.loglog(depths, gaps, "o-", color="k")
    right.set_ylabel("relative gap ||MTL - ANIL|| / ||ANIL||")
    for ax in (left, right):
        ax.set_xlabel("depth L")
    left.legend()
    fig.suptitle(f"your own family: y = a cos({OMEGA:g} u.x + phi), infinite width")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "task_family.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return {"depths": depths, "adapt": adapt, "train": train, "test": test, "test_params": test_params, "u": u,
            "preds": preds, "mse": mse, "gaps": gaps, "figure": path}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for task_family.png")
    parser.add_argument("--small", action="store_true", help="two depths, few tasks (seconds)")
    args = parser.parse_args()
    print(main(args.out, args.small)["figure"])
