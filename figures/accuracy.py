"""Figure `accuracy`: Claim C5 (MTL is competitive with GBML in accuracy).

Shows test error on unseen tasks' queries of MTL, ANIL, MAML (both splits) and no transfer, per task
family, depth and inner-loop time, closed form and trained finite nets.
Reads the selected `accuracy` summary; appendix section `accuracy`; writes
<out>/accuracy.png and .pdf.  `--help` prints the caption (ntk_bridge.figures.accuracy.CAPTION).

    python figures/accuracy.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/accuracy.py (it ships in the wheel: `python -m
ntk_bridge.figures.accuracy` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import accuracy as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
