"""Figure `kernel_share`: No claim of its own: the mechanism behind claim C3 (appendix section 2, Kernels).

Shows the head's share Sigma/Theta of the infinite-width NTK against depth (theory 1/(L+1) on the
diagonal), and the flattening of the deep NTK toward a constant off the diagonal.
Reads the selected `kernel-share` summary; appendix section `kernels`; writes
<out>/kernel_share.png and .pdf.  `--help` prints the caption (ntk_bridge.figures.kernel_share.CAPTION).

    python figures/kernel_share.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/kernel_share.py (it ships in the wheel: `python -m
ntk_bridge.figures.kernel_share` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import kernel_share as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
