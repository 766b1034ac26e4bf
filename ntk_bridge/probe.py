"""The test-time procedure of the authors' MTL code: a logistic-regression probe on frozen features.

Per test task: the last-hidden-layer features ``phi(x)`` of a frozen body on the task's
support and query, each row scaled to unit L2 norm; multinomial logistic regression with an
L2 penalty (scikit-learn's ``LogisticRegression``, lbfgs, inverse strength ``C``, default
``C_AUTHORS`` = 3) fit on the support labels; the accuracy of its prediction on the query.
Labels are the argmax of the (centred one-hot) targets, so only classification task sets
(``tasks.CLASSIFICATION``) have them.

Finite width (``finite``): ``phi = MLPSpec.features(body, x)`` of a (trained) body.
Infinite width (``infinite``): the body does not move in the kernel regime, so the
features are the initial ones, whose Gram is the last hidden layer's NNGP kernel
``k(x, x') = (Sigma(x, x') - b_std^2) / head_std^2`` (``Sigma``: the head's kernel,
``kernels.Kernels.sigma``).  Features that reproduce a Gram matrix ``G`` exactly on the task's
points are ``V sqrt(E)`` (``G = V E V^T``, ``gram_features``); an L2-penalized linear model's
fit and predictions depend on its features only through their inner products (representer
theorem; the penalty is rotation-invariant), so the probe on them equals the probe on the
infinite-dimensional features.  Every method's body at infinite width is the initial body:
one probe accuracy per task set, the same for MTL, ANIL, MAML and no transfer.
"""
from __future__ import annotations

import numpy as np

from . import validate
from .predict.spec_level import check_out_dim
from .spec import MLPSpec
from .tasks import TaskSet

C_AUTHORS = 3.0     # the authors' MTL code (Wang, Zhao & Li 2021): LogisticRegression(C=3) at test time
MAX_ITER = 1000
NEGATIVE_TOL = 1e-9  # relative size of a Gram eigenvalue below 0 that is rounding (clipped), not indefiniteness
ASYMMETRY_TOL = 1e-9  # relative size of gram - gram^T that is rounding (symmetrized), not a non-symmetric matrix


def labels(ys: np.ndarray, name: str = "test.ys") -> np.ndarray:
    """Class indices ``argmax(ys, -1)``, ``(tasks, points)``; ``ValueError`` for single-output targets.

    Args:
      ys: ``(tasks, points, out_dim)`` one-hot or centred one-hot targets, ``out_dim >= 2``.
      name: how the error message calls ``ys``.

    Returns:
      ``(tasks, points)`` integer class indices (NumPy's ``intp``, int64 on 64-bit platforms).

    Raises:
      ValueError: when ``ys`` is not 3-d or has fewer than 2 outputs (a regression family).

    Examples:
        >>> import ntk_bridge as nb
        >>> from ntk_bridge import probe
        >>> tasks = nb.tasks.gaussian_clusters(2, n_way=3, k_shot=2, n_query=1, dim=8, seed=0)
        >>> probe.labels(tasks.ys).shape, probe.labels(tasks.ys)[0].tolist()      # classes in order, repeated
        ((2, 6), [0, 1, 2, 0, 1, 2])
        >>> probe.labels(nb.tasks.sinusoid(2).ys)
        Traceback (most recent call last):
        ...
        ValueError: test.ys: the logistic probe needs one-hot class targets (out_dim >= 2, ...), got shape (2, 5, 1)
    """
    ys = np.asarray(ys)
    if ys.ndim != 3 or ys.shape[-1] < 2:
        raise ValueError(f"{name}: the logistic probe needs one-hot class targets (out_dim >= 2, a classification "
                         f"family: clusters or digits), got shape {ys.shape}")
    return np.argmax(ys, axis=-1)


def task_accuracy(phi_s: np.ndarray, y_s: np.ndarray, phi_q: np.ndarray, y_q: np.ndarray,
                  C: float = C_AUTHORS) -> float:
    """Query accuracy of L2-penalized multinomial logistic regression fit on one task's support.

    scikit-learn's ``LogisticRegression(C=C, max_iter=MAX_ITER, tol=1e-8)`` (lbfgs) on the support
    features, each row scaled to unit L2 norm first; a support with one class predicts that class
    everywhere (no model is fit).

    Args:
      phi_s: ``(s, p)`` support features.
      y_s: ``(s,)`` support class indices.
      phi_q: ``(q, p)`` query features.
      y_q: ``(q,)`` query class indices.
      C: inverse L2-penalty strength ``> 0`` (default ``C_AUTHORS`` = 3; not validated here).

    Returns:
      ``float`` in ``[0, 1]``: the fraction of query points whose predicted class is ``y_q``'s.

    Raises:
      ValueError: when a row of ``phi_s`` or ``phi_q`` is all zeros (its normalization is undefined).

    Examples:
        >>> import numpy as np
        >>> from ntk_bridge import probe
        >>> phi_s, y_s = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 1])
        >>> phi_q, y_q = np.array([[2.0, 0.1], [0.1, 3.0], [1.0, 0.2]]), np.array([0, 1, 1])
        >>> round(probe.task_accuracy(phi_s, y_s, phi_q, y_q), 4)      # the third point looks like class 0
        0.6667
    """
    from sklearn.linear_model import LogisticRegression

    phi_s, phi_q = _unit_rows(phi_s), _unit_rows(phi_q)
    y_s, y_q = np.asarray(y_s), np.asarray(y_q)
    if np.unique(y_s).size < 2:
        return float(np.mean(y_q == y_s[0]))
    model = LogisticRegression(C=C, max_iter=MAX_ITER, tol=1e-8)
    model.fit(phi_s, y_s)
    return float(np.mean(model.predict(phi_q) == y_q))


def gram_features(gram: np.ndarray) -> np.ndarray:
    """Rows ``F`` with ``F F^T = gram`` (``(m, m)`` symmetric PSD): ``V sqrt(E)``, eigen-form, float64.

    ``max|gram - gram^T| > ASYMMETRY_TOL * max|gram|`` and eigenvalues below
    ``-NEGATIVE_TOL * max|E|`` raise ``ValueError`` (not a Gram matrix); smaller asymmetry and
    negative eigenvalues are rounding: ``gram`` is symmetrized and those eigenvalues become 0.

    Args:
      gram: ``(m, m)`` finite, symmetric positive semi-definite matrix (read as float64).

    Returns:
      ``F``: ``(m, m)`` float64, ``F = V sqrt(max(E, 0))`` with ``(gram + gram^T) / 2 = V E V^T``; a column per
      eigenvalue (ascending), zero columns for the null space.

    Raises:
      ValueError: when ``gram`` is not a finite square matrix, not symmetric, or not positive semi-definite
        (beyond the tolerances above).

    Examples:
      >>> import numpy as np
      >>> from ntk_bridge.probe import gram_features
      >>> a = np.random.default_rng(0).standard_normal((4, 2))
      >>> f = gram_features(a @ a.T)             # rank 2: two non-zero columns
      >>> bool(np.allclose(f @ f.T, a @ a.T)), int(np.sum(np.linalg.norm(f, axis=0) > 1e-6))
      (True, 2)
    """
    g = np.asarray(gram, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != g.shape[1] or not np.all(np.isfinite(g)):
        raise ValueError(f"gram must be a finite square matrix, got shape {g.shape}")
    asym, top = float(np.max(np.abs(g - g.T))), float(np.max(np.abs(g)))
    if asym > ASYMMETRY_TOL * top:
        raise ValueError(f"gram is not symmetric (max |gram - gram^T| = {asym:.3g}, max |gram| = {top:.3g}): "
                         f"it is not a feature Gram matrix; pass F F^T")
    e, v = np.linalg.eigh((g + g.T) / 2)
    scale = max(float(np.max(np.abs(e))), np.finfo(float).tiny)
    if e[0] < -NEGATIVE_TOL * scale:
        raise ValueError(f"gram is not positive semi-definite (smallest eigenvalue {e[0]:.3g}, largest "
                         f"{e[-1]:.3g}): it is not a feature Gram matrix")
    return v * np.sqrt(np.clip(e, 0.0, None))


def finite(spec: MLPSpec, body, test: TaskSet, C: float = C_AUTHORS) -> float:
    """Mean query accuracy over ``test``'s tasks of the probe on ``spec.features(body, x)``.

    ``body``: ``spec.depth`` pairs ``(W, b)``, ``W`` ``(fan_in, spec.width)`` with ``fan_in =
    test.dim`` for the first layer and ``spec.width`` after, ``b`` ``(spec.width,)``, finite (the
    ``"body"`` of ``spec.init(key, test.dim)`` or of a trained net).

    Args:
      spec: the ``MLPSpec`` of the net, whose ``out_dim`` is ``test``'s.
      body: the body's layers, as above (JAX or NumPy arrays; read as float64).
      test: a classification ``TaskSet`` (``out_dim >= 2``, centred one-hot targets).
      C: inverse L2-penalty strength ``> 0``.

    Returns:
      ``float`` in ``[0, 1]``: the mean over ``test``'s tasks of ``task_accuracy`` on that task's features.

    Raises:
      ValueError: naming ``body``, ``spec``, ``test`` or ``C``; also for a dead body (a point with all-zero
        features).

    Examples:
        The probe equals ``task_accuracy`` applied task by task to the body's features:

        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> from ntk_bridge import probe
        >>> test = nb.tasks.gaussian_clusters(2, n_way=3, k_shot=2, n_query=2, dim=8, seed=0)
        >>> spec = nb.MLPSpec(depth=1, width=32, out_dim=3)
        >>> rng = np.random.default_rng(0)
        >>> body = [(rng.standard_normal((8, 32)), rng.standard_normal(32))]    # one (W, b) per hidden layer
        >>> acc = probe.finite(spec, body, test)
        >>> phi_s, phi_q = np.asarray(spec.features(body, test.xs)), np.asarray(spec.features(body, test.xq))
        >>> ys, yq = probe.labels(test.ys), probe.labels(test.yq)
        >>> bool(acc == np.mean([probe.task_accuracy(phi_s[i], ys[i], phi_q[i], yq[i]) for i in range(2)]))
        True
        >>> probe.finite(spec, body[:0], test)
        Traceback (most recent call last):
        ...
        ValueError: body has 0 layers, spec.depth is 1: pass the body of a net of this spec
    """
    check_out_dim(spec, test, "test")
    body = _body(spec, body, test.dim)
    C = validate.positive("C", C)
    ys, yq = labels(test.ys), labels(test.yq, "test.yq")
    phi_s = np.asarray(spec.features(body, test.xs), dtype=np.float64)
    phi_q = np.asarray(spec.features(body, test.xq), dtype=np.float64)
    return float(np.mean([task_accuracy(phi_s[i], ys[i], phi_q[i], yq[i], C) for i in range(test.n_tasks)]))


def infinite(spec, test: TaskSet, C: float = C_AUTHORS, backend: str = "native") -> float:
    """Mean query accuracy over ``test``'s tasks of the probe on the infinite-width (initial) features.

    Per task, the last hidden layer's NNGP kernel on its support and query, ``G = (Sigma - b_std^2) /
    head_std^2`` (``Sigma``: the head's kernel), is factored into features ``gram_features(G)``; the
    probe (``task_accuracy``) runs on them.  The same for every method (the body does not move).

    Args:
      spec: an ``MLPSpec``, or a ``ConvSpec`` on image tasks, whose ``out_dim`` is ``test``'s.
      test: a classification ``TaskSet`` (``out_dim >= 2``, centred one-hot targets).
      C: inverse L2-penalty strength ``> 0``.
      backend: the kernels' backend (``kernels.kernels``): ``"native"`` or ``"nt"``.

    Returns:
      ``float`` in ``[0, 1]``: the mean over ``test``'s tasks of the query accuracy.

    Raises:
      ValueError: naming ``spec``, ``test`` or ``C`` (e.g. single-output targets).

    Examples:
        The probe on the factored kernel, by hand:

        >>> import numpy as np
        >>> import ntk_bridge as nb
        >>> from ntk_bridge import probe
        >>> test = nb.tasks.gaussian_clusters(2, n_way=3, k_shot=2, n_query=2, dim=8, seed=0)
        >>> spec = nb.MLPSpec(depth=1, out_dim=3)
        >>> acc = probe.infinite(spec, test)
        >>> round(acc, 4), acc * 12 == round(acc * 12)      # 2 tasks x 6 query points
        (0.75, True)
        >>> def by_hand(i):                              # 6 support points, then 6 query points
        ...     x = np.concatenate([test.xs[i], test.xq[i]])
        ...     gram = (nb.kernels.kernels(spec, x).sigma - spec.b_std ** 2) / spec.head_std ** 2
        ...     f, y = probe.gram_features(gram), probe.labels(test.merged()[1])[i]
        ...     return probe.task_accuracy(f[:6], y[:6], f[6:], y[6:])
        >>> bool(acc == np.mean([by_hand(0), by_hand(1)]))
        True
    """
    from .kernels import kernels

    spec = check_out_dim(spec, test, "test")
    C = validate.positive("C", C)
    ys, yq = labels(test.ys), labels(test.yq, "test.yq")
    s = test.xs.shape[1]
    acc = []
    for i in range(test.n_tasks):
        x = np.concatenate([test.xs[i], test.xq[i]])
        gram = (kernels(spec, x, backend=backend).sigma - spec.b_std ** 2) / spec.head_std ** 2
        f = gram_features(gram)
        acc.append(task_accuracy(f[:s], ys[i], f[s:], yq[i], C))
    return float(np.mean(acc))


def _body(spec: MLPSpec, body, in_dim: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``body`` as float64 ``(W, b)`` pairs after checking it is a finite body of ``spec`` on ``in_dim`` inputs."""
    if isinstance(body, (str, bytes, dict)) or not hasattr(body, "__len__"):
        raise ValueError(f"body must be a sequence of depth = {spec.depth} pairs (W, b), the 'body' of "
                         f"spec.init(key, in_dim) or of a trained net, got {type(body).__name__}")
    if len(body) != spec.depth:
        raise ValueError(f"body has {len(body)} layers, spec.depth is {spec.depth}: pass the body of a net of this spec")
    out = []
    for l, layer in enumerate(body):
        if isinstance(layer, (str, bytes, dict)) or not hasattr(layer, "__len__") or len(layer) != 2:
            raise ValueError(f"body[{l}] must be a pair (W, b), got {type(layer).__name__}")
        w, b = (np.asarray(a, dtype=np.float64) for a in layer)
        want = (in_dim if l == 0 else spec.width, spec.width)
        if w.shape != want:
            raise ValueError(f"body[{l}] has W of shape {w.shape}, expected {want} (spec.width = {spec.width}, "
                             f"input dim {in_dim}): pass the body of a net of this spec on these tasks")
        if b.shape != (spec.width,):
            raise ValueError(f"body[{l}] has b of shape {b.shape}, expected ({spec.width},) (spec.width)")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ValueError(f"body[{l}] has non-finite entries (NaN or inf): a diverged net has no features to probe")
        out.append((w, b))
    return out


def _unit_rows(phi: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(phi, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("a point has all-zero features (a dead body): the probe's L2 normalization is undefined; "
                         "use a wider net")
    return phi / norms
