"""Figure `conv`: rows C3-conv and C5-conv of paper_repro.md (convolutional nets on digit images, theory.md §11).

Shows the gap between the GBML and MTL closed forms against depth with the CNTK of a conv net beside the
MLP's NTK on the same images; the test accuracy of each method's closed form and of the authors' probe per
digits setting, conv and MLP; and trained centered conv nets approaching their CNTK closed form as the
channels grow, with the fitted rate.
Reads the selected `conv` summary (on digits); appendix section `conv`; writes <out>/conv.png and .pdf.
`--help` prints the caption (ntk_bridge.figures.conv.CAPTION).

    python figures/conv.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/conv.py (it ships in the wheel: `python -m ntk_bridge.figures.conv`
does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import conv as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
