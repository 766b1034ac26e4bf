"""Figure `lr_steps`: Claim C3 (the lr*steps term of gap = O(lr*steps + 1/L) + eps).

Shows the relative GBML-MTL gap (split same) against the inner loop's lr x steps at several depths,
with the least-squares fit gap ~ a*lr*steps + b/L + c.
Reads the selected `closeness` summary; appendix section `closeness`; writes
<out>/lr_steps.png and .pdf.  `--help` prints the caption (ntk_bridge.figures.lr_steps.CAPTION).

    python figures/lr_steps.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/lr_steps.py (it ships in the wheel: `python -m
ntk_bridge.figures.lr_steps` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import lr_steps as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
