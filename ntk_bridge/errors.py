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
    """A well-posed request that cannot be computed at these settings; the message says why and what to change.

    Raised by the library (never by the caller) where a computation is well defined but fails at the given
    settings: an inner loop that diverges (``lr * lambda_max > 2``), a singular, indefinite or ill-conditioned
    outer kernel, a first-order meta-training flow that does not converge, a finite run that diverges.
    Experiments may store it as a result; every other exception propagates.  A subclass of ``ValueError``:
    ``except ValueError`` catches it too.

    Examples:
        A discrete inner loop with ``lr * lambda_max = 1.5 * 2.207... > 2`` diverges:

        >>> import numpy as np, ntk_bridge as nb
        >>> from ntk_bridge.errors import NotComputable
        >>> issubclass(NotComputable, ValueError)
        True
        >>> k = np.array([[2.0, 0.5], [0.5, 1.0]])                  # eigenvalues (3 +- sqrt(2)) / 2
        >>> try:
        ...     nb.predict.inner_operator(k, nb.Adaptation(lr=1.5, steps=4))
        ... except NotComputable as err:
        ...     print(str(err).split(" for ")[0])
        inner loop diverges: lr * lambda_max = 3.311 > 2
    """
