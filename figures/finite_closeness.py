"""Figure `finite_closeness`: Claim C3b (C3 at finite width: trained MTL and ANIL nets within eps for width >= O(eps^-2)),
with rows C3b-fresh (the paper's fresh-head protocol) and C3c-finite (trained MAML and FOMAML).

Shows the trained ANIL-MTL gap against depth per width beside the infinite-width gap (trained-head and
fresh-head protocols, one training read under both heads); the trained MAML-MTL and FOMAML-MTL gaps; the error of trained MTL nets to their closed form over (L, n), and the
width the fitted law err ~ c (L/n)^a needs for err <= 0.1 and 0.05.
Reads the selected `finite-closeness` summary; appendix section `finite_closeness`; writes
<out>/finite_closeness.png and .pdf.  `--help` prints the caption (ntk_bridge.figures.finite_closeness.CAPTION).

    python figures/finite_closeness.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/finite_closeness.py (it ships in the wheel: `python -m
ntk_bridge.figures.finite_closeness` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import finite_closeness as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
