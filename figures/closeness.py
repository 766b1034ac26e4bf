"""Figure `closeness`: Claim C3 (C3a: ANIL, in the theorem's scope; C3c: MAML, beyond it).

Shows the gap between the MTL and GBML (ANIL, MAML) predictions on unseen test tasks against depth,
relative and transfer-normalized, both splits, with the fitted rate of ANIL's gap ~ c L^-r and
trained finite nets overlaid.
Reads the selected `closeness` summary; appendix section `closeness`; writes
<out>/closeness.png and .pdf.  `--help` prints the caption (ntk_bridge.figures.closeness.CAPTION).

    python figures/closeness.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/closeness.py (it ships in the wheel: `python -m
ntk_bridge.figures.closeness` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import closeness as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
