"""``python -m proofs_checks``: run the checks, exit non-zero on any failure."""
from .runner import main

raise SystemExit(main())
