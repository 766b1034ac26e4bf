"""``python -m ntk_bridge.appendix`` (same as ``ntk-bridge appendix``)."""
import sys

from . import main

sys.exit(main())
