"""Figure `feature_learning`: rows C3-muP and C5-muP of paper_repro.md (beyond the kernel regime, theory.md §12).

Shows trained centered nets in the NTK and the maximal-update (muP) parameterization: the movement of the last
hidden features and of the empirical NTK against width with the fitted rates, the gap between GBML and MTL nets
trained from one initialization, the distance between the functions of consecutive widths, and digits accuracy
with the inner loop and the probe beside no transfer.
Reads the selected `feature-learning` summary; appendix section `feature_learning`; writes
<out>/feature_learning.png and .pdf.  `--help` prints the caption (ntk_bridge.figures.feature_learning.CAPTION).

    python figures/feature_learning.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/feature_learning.py (it ships in the wheel: `python -m
ntk_bridge.figures.feature_learning` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import feature_learning as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
