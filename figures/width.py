"""Figure `width`: Claim C2 (closed forms of the trained predictors in the NTK regime).

Shows relative error of trained centered finite nets to their closed-form infinite-width predictors
against width, with fitted rates (theory n^-1/2), and the trained GBML-MTL gap beside the
infinite-width gap.
Reads the selected `width` summary; appendix section `width`; writes
<out>/width.png and .pdf.  `--help` prints the caption (ntk_bridge.figures.width.CAPTION).

    python figures/width.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/width.py (it ships in the wheel: `python -m
ntk_bridge.figures.width` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import width as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
