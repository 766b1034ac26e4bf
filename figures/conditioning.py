"""Figure `conditioning`: No claim of its own: where sharing starts to hurt (negative transfer; appendix section 9).

Shows query MSE of jointly trained task-conditioned nets over that of one independent net per task,
against task similarity (above 1: negative transfer), with the crossings of 1 and their
bootstrap intervals; trained finite nets where recorded.
Reads the selected `conditioning` summary; appendix section `conditioning`; writes
<out>/conditioning.png and .pdf.  `--help` prints the caption (ntk_bridge.figures.conditioning.CAPTION).

    python figures/conditioning.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/conditioning.py (it ships in the wheel: `python -m
ntk_bridge.figures.conditioning` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import conditioning as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
