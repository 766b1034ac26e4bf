"""``python -m ntk_bridge.figures --results DIR --out DIR``: every figure (same as ``ntk-bridge figures``)."""
import argparse
import sys
from pathlib import Path

from . import main
from .. import store

parser = argparse.ArgumentParser(prog="python -m ntk_bridge.figures", description=__doc__)
parser.add_argument("--results", type=Path, default=store.DEFAULT_ROOT, metavar="DIR",
                    help=f"results root (default {store.DEFAULT_ROOT})")
parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder the figures are written to")
args = parser.parse_args()
sys.exit(main(args.results, args.out))
