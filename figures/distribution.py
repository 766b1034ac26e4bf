"""Figure `distribution`: row C3-dist of paper_repro.md (C3 in distribution: uncentered nets over
initializations, theory.md §9).

Shows the mean prediction ± 2 sd over initializations of MTL and ANIL on one sinusoid task at a
shallow and a deep net; E||Delta||^2 between methods from one initialization against depth, split
into its mean and variance parts, beside trained uncentered nets; and how ensembles of uncentered
nets approach the closed-form mean and covariance as width grows.
Reads the selected `distribution` summary; appendix section `distribution`; writes
<out>/distribution.png and .pdf.  `--help` prints the caption (ntk_bridge.figures.distribution.CAPTION).

    python figures/distribution.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/distribution.py (it ships in the wheel: `python -m
ntk_bridge.figures.distribution` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import distribution as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
