"""Figure `ablate`: Claim C3, ablations (e.g. the lr-scaling ablation quoted under C3).

Shows the relative GBML-MTL gap (split same, infinite width) as one factor varies: inner steps, inner
lr, number of training tasks, task similarity, MTL head initialization, gradient flow vs steps,
lr scaling with depth.
Reads the selected `ablate` summary; appendix section `ablate`; writes
<out>/ablate.png and .pdf.  `--help` prints the caption (ntk_bridge.figures.ablate.CAPTION).

    python figures/ablate.py --results results/reference --out DIR

The drawing code is ntk_bridge/figures/ablate.py (it ships in the wheel: `python -m
ntk_bridge.figures.ablate` does the same); this script only hands its arguments to it.
"""
from ntk_bridge.figures import ablate as figure
from ntk_bridge.figures.common import cli

if __name__ == "__main__":
    cli(figure.main, figure.CAPTION)
