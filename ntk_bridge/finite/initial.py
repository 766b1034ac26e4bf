"""The initial net of a seed and the data it trains and is tested on, with the centering offsets.

One seed draws one net in both dtypes (parameters are drawn in float32 and cast).  The key
of ``seed`` splits into three: the initial net ``p0``, the independent training heads
(``mtl-independent``) and the **fresh test head** (the paper's protocol, theory.md §6): for a
given seed it is the same head for every method, so trained nets of different methods are
compared under one head.  ``mtl-independent``'s test head is that fresh head under either
protocol (none of its training heads is common to all tasks).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .. import methods, validate
from ..precision import x64
from ..predict.spec_level import bound
from ..spec import MLPSpec
from ..tasks import TaskSet
from . import net
from .problem import DTYPES, resolve


class Prepared(NamedTuple):
    """Initial net and the data it trains and is tested on (arrays in ``dtype``).

    The trained parameters are ``base + delta`` with ``base = p0`` fixed and ``delta``
    trained from zero: in float32 a small update ``delta`` keeps its full relative precision
    instead of being rounded against ``|p0| ~ 1`` at every step.

    Attributes:
      base: the initial net ``p0``: ``{"body", "head"}`` (GBML, no transfer) or ``{"body", "heads"}``
        with ``heads = (W (N, width, k), b (N, k))`` (MTL, one head per training task).
      test_base: the net the test tasks start from before training, ``{"body", "head"}``: the initial
        body with the test head (GBML's own head, MTL's common initial head ``w0``, or the fresh head).
      train: the training tasks, a dict of ``x_in, y_in, off_in, x_out, y_out, off_out``, each
        ``(tasks, points, d|k)``: the inner set (GBML's support, or support ∪ query for ``"same"``;
        MTL: support ∪ query) and the outer set the loss compares (query, or support ∪ query);
        ``off_*`` are the initial net's outputs ``f(x; p0)`` with the head the points are read out
        by (centered) or zeros.
      test: the test tasks, the same dict: inner set = test support, outer set = test query.

    Examples:
      >>> import ntk_bridge as nb
      >>> train = nb.tasks.shared_feature(3, 2, 4, dim=3, seed=0)
      >>> test = nb.tasks.shared_feature(2, 2, 4, dim=3, seed=1)
      >>> prep = nb.finite.prepare(nb.MLPSpec(depth=1, width=16), train, test, method="anil")
      >>> prep._fields, sorted(prep.train)
      (('base', 'test_base', 'train', 'test'), ['off_in', 'off_out', 'x_in', 'x_out', 'y_in', 'y_out'])
      >>> prep.train["x_in"].shape, prep.train["x_out"].shape, prep.test["y_out"].shape
      ((3, 2, 3), (3, 4, 3), (2, 4, 1))
    """

    base: dict
    test_base: dict
    train: dict
    test: dict


def draw_heads(spec: MLPSpec, key, n: int):
    """``n`` heads ``(W (n, feature_dim, k), b (n, k))``, as ``spec.init`` draws one (weights ``N(0, s^2)``,
    ``s = spec.init_std(depth)``: 1 in the NTK parameterization)."""
    kw, kb = jax.random.split(key)
    return (spec.init_std(spec.depth) * jax.random.normal(kw, (n, spec.feature_dim, spec.out_dim)),
            jax.random.normal(kb, (n, spec.out_dim)))


def fresh_head(spec: MLPSpec, seed: int):
    """The fresh test head of ``seed`` ``(W (feature_dim, k), b (k,))``, float32: the same for every method.

    Drawn from the third of the three keys ``PRNGKey(seed)`` splits into (``draw_heads``: weights
    ``N(0, s^2)``, ``s = spec.init_std(depth)``, biases standard normal), in float32 whatever JAX's mode.

    Args:
      spec: the architecture (its ``feature_dim`` and ``out_dim`` give the shapes).
      seed: the seed of the run, an int ``>= 0``.

    Returns:
      ``(W, b)``: JAX float32 arrays ``(feature_dim, out_dim)`` and ``(out_dim,)``.

    Examples:
      The test head ``prepare`` gives every method under ``test_head="fresh"``:

      >>> import numpy as np, ntk_bridge as nb
      >>> spec = nb.MLPSpec(depth=1, width=16)
      >>> w, b = nb.finite.fresh_head(spec, seed=3)
      >>> w.shape, b.shape, w.dtype
      ((16, 1), (1,), dtype('float32'))
      >>> train, test = nb.tasks.shared_feature(2, 2, 2, dim=3), nb.tasks.shared_feature(1, 2, 2, dim=3, seed=1)
      >>> prep = nb.finite.prepare(spec, train, test, method="maml+fresh", seed=3)
      >>> bool(np.array_equal(prep.test_base["head"][0], w))
      True
    """
    with x64(False):
        _, _, key_test = jax.random.split(jax.random.PRNGKey(seed), 3)
        return jax.tree_util.tree_map(lambda a: a[0], draw_heads(spec, key_test, 1))


def prepare(spec: MLPSpec, train: TaskSet, test: TaskSet, *, method="anil", split: str | None = None,
            test_head: str | None = None, seed: int = 0, centered: bool = True, dtype: str = "float32") -> Prepared:
    """Draw the initial net (seeded) and lay out train/test data with the centering offsets.

    GBML: inner set = support (``split="disjoint"``) or support ∪ query (``"same"``), outer
    set = query or support ∪ query.  MTL: outputs on ``D_i`` = support ∪ query (``split``
    has no effect).  Test tasks: inner set = test support, outputs on the test query.
    Call under ``ntk_bridge.precision.x64()`` for ``dtype="float64"``.

    Args:
      spec: the architecture (a ``ConvSpec`` is bound to the tasks' ``image_shape``).
      train: the training tasks (``TaskSet``).
      test: the test tasks, of the same input and output dims.
      method: a ``Method`` or a name (``methods.parse``).
      split: ``"disjoint"``/``"same"``, overriding the method's (``None``: its own).
      test_head: ``"trained"``/``"fresh"``, overriding the method's (``None``: its own).
      seed: the initialization, an int ``>= 0``: ``PRNGKey(seed)`` split into the initial net, the
        independent training heads and the fresh test head; drawn in float32, then cast.
      centered: ``True``: ``off_*`` are the initial outputs (the centered net is zero at init);
        ``False``: zeros.
      dtype: ``"float32"`` or ``"float64"``, the arrays' dtype.

    Returns:
      ``Prepared`` ``(base, test_base, train, test)``, every array a JAX array in ``dtype``.

    Raises:
      ValueError: naming the bad argument (not ``TaskSet``s, incompatible dims, an unknown method,
        ``split``, ``test_head`` or ``dtype``, a negative seed).

    Examples:
      The offsets are the initial net's outputs (a centered net is zero at initialization); MTL lays out
      every task's support ∪ query:

      >>> import numpy as np, ntk_bridge as nb
      >>> spec = nb.MLPSpec(depth=1, width=16)
      >>> train = nb.tasks.shared_feature(3, 2, 4, dim=3, seed=0)
      >>> test = nb.tasks.shared_feature(2, 2, 4, dim=3, seed=1)
      >>> prep = nb.finite.prepare(spec, train, test, method="anil")
      >>> bool(np.allclose(spec.apply(prep.base, prep.train["x_out"]), prep.train["off_out"], atol=1e-6))
      True
      >>> mtl = nb.finite.prepare(spec, train, test, method="mtl-shared")
      >>> sorted(mtl.base), mtl.base["heads"][0].shape, mtl.train["x_in"].shape
      (['body', 'heads'], (3, 16, 1), (3, 6, 3))
    """
    validate.instance("train", train, TaskSet)
    validate.instance("test", test, TaskSet)
    spec = bound(spec, train)
    train.check_compatible(test, "test")
    m = resolve(method, split, test_head)
    seed = validate.integer("seed", seed, 0)
    centered = validate.flag("centered", centered)
    dt = jnp.dtype(validate.choice("dtype", dtype, DTYPES))
    cast = functools.partial(jax.tree_util.tree_map, lambda a: jnp.asarray(a, dt))
    with x64(False):  # draw in float32 whatever the dtype: one seed, one net, in both dtypes
        key_init, key_heads, _ = jax.random.split(jax.random.PRNGKey(seed), 3)
        p0 = spec.init(key_init, train.dim)
        heads = draw_heads(spec, key_heads, train.n_tasks) if m.heads == "independent" else None
    p0 = cast(p0)
    fresh = m.test_head == "fresh" or m.heads == "independent"
    test_head = cast(fresh_head(spec, seed)) if fresh else p0["head"]
    n = train.n_tasks
    if m.kind == "mtl":
        if heads is None:  # shared init: every head starts at w0
            heads = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (n,) + a.shape), p0["head"])
        base = {"body": p0["body"], "heads": cast(heads)}
        x_out, y_out = (jnp.asarray(a, dt) for a in train.merged())
        off = net.mtl_raw_jit(spec, base, x_out)
        train_data = {"x_in": x_out, "y_in": y_out, "off_in": off, "x_out": x_out, "y_out": y_out, "off_out": off}
    else:
        base = p0
        if m.split == "same":
            x_in, y_in = train.merged()
            x_out, y_out = x_in, y_in
        else:
            x_in, y_in, x_out, y_out = train.xs, train.ys, train.xq, train.yq
        x_in, y_in, x_out, y_out = (jnp.asarray(a, dt) for a in (x_in, y_in, x_out, y_out))
        train_data = {"x_in": x_in, "y_in": y_in, "x_out": x_out, "y_out": y_out,
                      "off_in": net.raw_jit(spec, p0, x_in), "off_out": net.raw_jit(spec, p0, x_out)}
    test_base = {"body": p0["body"], "head": test_head}
    xs, ys, xq, yq = (jnp.asarray(a, dt) for a in (test.xs, test.ys, test.xq, test.yq))
    test_data = {"x_in": xs, "y_in": ys, "x_out": xq, "y_out": yq,
                 "off_in": net.raw_jit(spec, test_base, xs), "off_out": net.raw_jit(spec, test_base, xq)}
    if not centered:
        for d in (train_data, test_data):
            d["off_in"], d["off_out"] = jnp.zeros_like(d["y_in"]), jnp.zeros_like(d["y_out"])
    return Prepared(base, test_base, train_data, test_data)


def test_delta(m: methods.Method, prep: Prepared, delta):
    """The trained change of the test net: the body's change, and the head's when GBML keeps its trained head."""
    if m.kind == "gbml" and m.test_head == "trained":
        return delta
    return {"body": delta["body"], "head": jax.tree_util.tree_map(jnp.zeros_like, prep.test_base["head"])}
