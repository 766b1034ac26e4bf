"""Figure `cost`: Claim C4 (MTL is an order of magnitude cheaper to train than second-order GBML).

Shows wall time per full-batch outer training step of MTL (first order), ANIL, FOMAML and
second-order MAML against width, and each method's time relative to MTL's.
Reads the selected `cost` summary; appendix section `cost`; writes
<out>/cost.png and .pdf.  `--help` prints the caption (ntk_bridge.figures.cost.CAPTION).

    python figures/cost.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/cost.py (it ships in the wheel: `python -m
ntk_bridge.figures.cost` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import cost as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
