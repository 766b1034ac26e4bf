"""Errors with a meaning beyond "bad input".

``NotComputable`` is the one error an experiment may store as a result and leave out of
its fits: the computation is well defined but cannot be carried out at these settings (an
inner loop that diverges, a meta-NTK that is singular or whose first-order flow does not
converge, a finite run that diverges).  Anything else, a broadcasting bug included, must
propagate.  It subclasses ``ValueError``, so callers of the library see a ``ValueError``
that names the cause and the fix either way.
"""
from __future__ import annotations


class NotComputable(ValueError):
    """A well-posed request that cannot be computed at these settings; the message says why and what to change."""
