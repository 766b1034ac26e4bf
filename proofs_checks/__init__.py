"""Numerical proofs of the ntk_bridge theory contract (``docs/theory.md`` in the repository).

``python -m proofs_checks`` runs every check and prints a table; :func:`run_checks` returns
:class:`CheckResult` records; :func:`main` is the command line (also ``ntk-bridge check``).
Each result is PASS, FAIL or SKIP (an optional package such as neural-tangents cannot be
imported; the reason says how to install it); only a FAIL makes the run fail.
"""
from .registry import CheckResult, Outcome, Skip, all_checks, run_checks
from .runner import main

__all__ = ["CheckResult", "Outcome", "Skip", "all_checks", "main", "run_checks"]
