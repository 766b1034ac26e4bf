"""Figure `digits`: Claims C3-digits and C5-digits (C3 and C5 on real images).

Shows scikit-learn's 8x8 digits: the MTL-ANIL/MAML gap against depth (both splits), test accuracy of
every method per digits setting, and (where run) trained nets on digits against their closed forms.
Reads the selected `closeness` and `accuracy` summaries on digits (drawn if either was run; a
third row from `finite-closeness` on digits); appendix section `digits`; writes <out>/digits.png
and .pdf.  `--help` prints the caption (ntk_bridge.figures.digits.CAPTION).

    python figures/digits.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/digits.py (it ships in the wheel: `python -m
ntk_bridge.figures.digits` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import digits as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
