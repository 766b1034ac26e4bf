"""Figure `ntk_fluctuation`: No claim of the paper; row HN of paper_repro.md (the NTK's fluctuation at finite
width against Hanin & Nica's exp(5 L/n)).

Shows, against beta = L/n, log E[Theta(x,x)^2]/E[Theta(x,x)]^2 and Var log Theta(x,x) over
initializations (whole diagonal), and the head's part beside its exact law (1 + 5/n)^L, each with
its fitted slope k and Hanin & Nica's 5.
Reads the selected `ntk-fluctuation` summary; appendix section `ntk_fluctuation`; writes
<out>/ntk_fluctuation.png and .pdf.  `--help` prints the caption (ntk_bridge.figures.ntk_fluctuation.CAPTION).

    python figures/ntk_fluctuation.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/ntk_fluctuation.py (it ships in the wheel: `python -m
ntk_bridge.figures.ntk_fluctuation` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import ntk_fluctuation as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
