"""Tutorial: an ablation of your own -- the MTL-GBML gap as the inner learning rate and the depth vary.

theory.md §6: on unseen tasks the infinite-width ANIL and MTL predictors differ by
O(lr * steps + 1/L).  This script measures the relative gap ||MTL - ANIL|| / ||ANIL|| of the closed
forms on shared-feature regression tasks for a grid of inner learning rates and depths, and
plots it against lr at each depth.

    python docs/tutorials/ablation.py --out DIR            # DIR/ablation.png (about 20 s)
    python docs/tutorials/ablation.py --out DIR --small    # a few seconds (what the tests run)
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ntk_bridge as nb  # noqa: E402


def main(out_dir, small=False):
    """Measure the gap on the grid, draw ``out_dir/ablation.png``; return the grid, the gaps and the path."""
    n_train, n_test, dim = (8, 4, 8) if small else (30, 10, 16)
    depths = (1, 8) if small else (1, 2, 4, 8, 16)
    lrs = (0.05, 0.2) if small else (0.02, 0.1, 0.3)
    steps = 5
    # Training and test tasks of one family: one world (what tasks share), different seeds.
    train = nb.tasks.shared_feature(n_train, n_support=5, n_query=10, dim=dim, seed=0)
    test = nb.tasks.shared_feature(n_test, n_support=5, n_query=10, dim=dim, seed=1)

    gaps = np.empty((len(depths), len(lrs)))
    for i, depth in enumerate(depths):
        kernel_fn = nb.predict.analytic(nb.MLPSpec(depth=depth))   # the infinite-width (Theta, Sigma)
        for j, lr in enumerate(lrs):
            adapt = nb.Adaptation(lr=lr, steps=steps)
            anil = nb.predict.closed_form("anil-same", kernel_fn, train, test, adapt=adapt)
            mtl = nb.predict.closed_form("mtl-shared", kernel_fn, train, test, adapt=adapt)
            gaps[i, j] = nb.metrics.rel_gap(mtl, anil)

    fig, (by_depth, by_lr) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for lr, column in zip(lrs, gaps.T):
        by_depth.loglog(depths, column, "o-", label=f"lr = {lr}")
    by_depth.loglog(depths, gaps[0, 0] * depths[0] / np.asarray(depths), "k:", label="c / L")
    by_depth.set_xlabel("depth L")
    for depth, row in zip(depths, gaps):
        by_lr.semilogy(np.asarray(lrs) * steps, row, "o-", label=f"L = {depth}")
    by_lr.set_xlabel(f"lr x steps (steps = {steps})")
    by_depth.set_ylabel("relative gap ||MTL - ANIL|| / ||ANIL||")
    by_depth.legend()
    by_lr.legend()
    fig.suptitle("MTL vs ANIL (split='same') on unseen tasks, infinite width")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "ablation.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return {"depths": depths, "lrs": lrs, "steps": steps, "train": train, "test": test, "gaps": gaps,
            "figure": path}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for ablation.png")
    parser.add_argument("--small", action="store_true", help="a small grid (seconds)")
    args = parser.parse_args()
    print(main(args.out, args.small)["figure"])
