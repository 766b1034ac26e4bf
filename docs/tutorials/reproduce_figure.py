"""Tutorial: reproduce one figure from the reference results.

Figures are drawn from stored summary records only: nothing is recomputed.  This script draws the
headline figure (claim C3: the MTL-GBML gap against depth) from ``results/reference`` with the
figure's own module, and prints the numbers behind it from the same summary, read through the
experiment's typed reader.  The PNG names the summary record it was drawn from in its metadata
(``Description``), so a figure can always be traced back to its record.

    python docs/tutorials/reproduce_figure.py --out DIR                    # DIR/closeness.png and .pdf
    python docs/tutorials/reproduce_figure.py --out DIR --results R        # from another results folder
    python -m ntk_bridge.figures.closeness --results results/reference --out DIR   # the same figure
"""
import argparse
from pathlib import Path

from ntk_bridge.figures import closeness, common

REFERENCE = Path(__file__).resolve().parents[2] / "results" / "reference"


def main(out_dir, results=REFERENCE):
    """Draw ``out_dir/closeness.png`` (and ``.pdf``) from ``results``; return its paths and ANIL's gaps.

    ``gaps``: ``{depth: mean relative ANIL-MTL gap over seeds}`` on ``split="same"``, the numbers the
    figure's first panel plots; ``summary``: the typed summary record drawn from.
    """
    png, pdf = closeness.main(results, out_dir)                  # the figure, exactly as `ntk-bridge figures` draws it
    summary = common.summary(results, closeness.EXPERIMENT)      # the selected closeness summary, typed
    gaps = {depth: None if stat is None else stat.mean
            for depth, stat in zip(summary.depths, summary.gap("same", "anil", "rel_gap"))}
    return {"png": png, "pdf": pdf, "summary": summary, "gaps": gaps}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for closeness.png and closeness.pdf")
    parser.add_argument("--results", default=REFERENCE, help="results folder (default: the reference results)")
    args = parser.parse_args()
    result = main(args.out, args.results)
    record = result["summary"].record
    print(f"drawn from {record['experiment']} summary {record['config_hash']} ({record['created']})")
    for depth, gap in result["gaps"].items():
        print(f"L = {depth:3d}: ANIL-MTL relative gap {gap:.4g}")
    print(result["png"])
