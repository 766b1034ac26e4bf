"""Tutorial: closed forms from your own kernel.

Every closed form of ``nb.predict`` is a function of a kernel function
``kernel_fn(x1, x2=None) -> Kernels(theta, sigma)`` (theory.md §2-4).  This script feeds it two
kernels of its own:

1. the ReLU NTK written out here in NumPy from theory.md §1's recursion (``relu_ntk``): its ANIL
   predictions equal those of the built-in analytic kernel, which checks both;
2. the empirical kernel of a finite net of your own at initialization (``nb.kernels.empirical``):
   the closed form then gives the exact predictions of that net's linearization, which approach
   the infinite-width ones as the width ``n`` grows, like ``n^-1/2``.

    python docs/tutorials/custom_kernel.py --out DIR            # DIR/custom_kernel.png (about 15 s)
    python docs/tutorials/custom_kernel.py --out DIR --small    # a few seconds (what the tests run)
"""
import argparse
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ntk_bridge as nb  # noqa: E402
from ntk_bridge.kernel_values import Kernels  # noqa: E402


def relu_ntk(depth, w_std=2 ** 0.5, b_std=0.0, head_std=1.0):
    """``kernel_fn`` of a ReLU net of ``depth`` hidden layers in NTK parameterization (theory.md §1)."""

    def kernel_fn(x1, x2=None):
        x1 = np.asarray(x1, dtype=np.float64)
        x2 = x1 if x2 is None else np.asarray(x2, dtype=np.float64)
        d = x1.shape[1]
        k = w_std ** 2 * (x1 @ x2.T) / d + b_std ** 2                       # K_1 = Theta_1
        k1 = w_std ** 2 * np.sum(x1 ** 2, 1) / d + b_std ** 2             # K_l(x, x), K_l(x', x')
        k2 = w_std ** 2 * np.sum(x2 ** 2, 1) / d + b_std ** 2
        theta = k.copy()
        for layer in range(1, depth + 1):
            s = head_std if layer == depth else w_std                     # the Dense layer after ReLU l
            g = np.sqrt(np.outer(k1, k2))
            alpha = np.arccos(np.clip(k / g, -1.0, 1.0))
            k = s ** 2 * g / (2 * np.pi) * (np.sin(alpha) + (np.pi - alpha) * np.cos(alpha)) + b_std ** 2
            theta = s ** 2 * theta * (np.pi - alpha) / (2 * np.pi) + k
            k1, k2 = s ** 2 * k1 / 2 + b_std ** 2, s ** 2 * k2 / 2 + b_std ** 2
        return Kernels(theta, k)                                          # Sigma = K_{L+1}, Theta = Theta_{L+1}

    return kernel_fn


def main(out_dir, small=False):
    """ANIL from the hand-written NTK and from finite nets' empirical kernels; draw ``out_dir/custom_kernel.png``."""
    depth, dim = 2, 8
    widths = (64, 512) if small else (64, 128, 256, 512, 1024, 2048)
    seeds = 1 if small else 3
    train = nb.tasks.shared_feature(6 if small else 20, n_support=5, n_query=10, dim=dim, seed=0)
    test = nb.tasks.shared_feature(3 if small else 10, n_support=5, n_query=10, dim=dim, seed=1)
    adapt = nb.Adaptation(lr=0.1, steps=5)
    spec = nb.MLPSpec(depth=depth)

    def anil(kernel_fn):
        return nb.predict.gbml_from_kernels(kernel_fn, train, test, algo="anil", adapt=adapt, split="same")

    mine = anil(relu_ntk(depth))                        # 1. your own NTK
    builtin = anil(nb.predict.analytic(spec))           # the package's analytic NTK

    errors = np.empty((seeds, len(widths)))             # 2. the empirical NTK of finite nets
    for j, width in enumerate(widths):
        net = spec.replace(width=width)
        for seed in range(seeds):
            params = net.init(jax.random.PRNGKey(seed), dim)

            def empirical(x1, x2=None, params=params, net=net):
                k = nb.kernels.empirical(net, params, x1, x2)
                return Kernels(np.asarray(k.theta, np.float64), np.asarray(k.sigma, np.float64))

            errors[seed, j] = nb.metrics.rel_gap(anil(empirical), builtin)

    fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
    mean = errors.mean(0)
    ax.loglog(widths, mean, "o-", label=f"empirical NTK at init (mean of {seeds} nets)")
    ax.loglog(widths, mean[0] * (widths[0] / np.asarray(widths)) ** 0.5, "k:", label="c n^-1/2")
    ax.set_xlabel("width n")
    ax.set_ylabel("||ANIL(empirical) - ANIL(analytic)|| / ||ANIL(analytic)||")
    ax.set_title(f"closed form from your own kernel (L = {depth})")
    ax.legend()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "custom_kernel.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return {"spec": spec, "adapt": adapt, "train": train, "test": test, "mine": mine, "builtin": builtin,
            "widths": widths, "errors": errors, "figure": path}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for custom_kernel.png")
    parser.add_argument("--small", action="store_true", help="two widths, one net each (seconds)")
    args = parser.parse_args()
    result = main(args.out, args.small)
    print(f"hand-written NTK vs built-in: rel. gap {nb.metrics.rel_gap(result['mine'], result['builtin']):.1e}")
    print(result["figure"])
