"""One description of the architecture: the finite net and its infinite-width kernels.

An ``MLPSpec`` is a fully connected ReLU network, by default in NTK parameterization
(the neural-tangents default)::

    hidden layer l (l = 1..depth):  Dense(width, W_std=w_std, b_std=b_std) -> ReLU
    head:                           Dense(out_dim, W_std=head_std, b_std=b_std)

``Dense`` in NTK parameterization computes ``h = (W_std / sqrt(fan_in)) x @ W + b_std * b``
with ``W, b ~ N(0, 1)``.  The same spec yields the neural-tangents ``stax`` triple
(``MLPSpec.stax``) and a pure-JAX finite network (``MLPSpec.init``,
``MLPSpec.apply``) that imports nothing from neural-tangents, so it runs on any JAX.

Other parameterizations of the finite net (``parameterization``, theory.md §12): layer ``l``
computes ``h = m_l x @ W`` with ``W ~ N(0, s_l^2)`` at initialization, every parameter trained
by one learning rate.  In Yang & Hu's abc form (Tensor Programs IV, §3: ``W = n^-a w``,
``w ~ N(0, n^-2b)``, learning rate ``eta n^-c``; the input dimension counts as a constant)::

    "ntk"       m_l = std / sqrt(fan_in)                       s_l = 1
    "mup"       input  m = (std / sqrt(d)) sqrt(n)            s = n^-1/2     (a = -1/2, b = 1/2)
                hidden m = std                                 s = n^-1/2     (a = 0,    b = 1/2)
                head   m = head_std / sqrt(n)                  s = n^-1/2     (a = 1/2,  b = 1/2),  c = 0
    "standard"  input  m = std / sqrt(d)                       s = 1          (a = 0, b = 0)
                hidden / head  m = std                         s = n^-1/2     (a = 0, b = 1/2)

At initialization all three compute the same hidden features (``m_l s_l`` is the NTK's
``std / sqrt(fan_in)``); muP's head starts ``n^-1/2`` smaller.  Relative to the NTK
parameterization muP multiplies the effective learning rate of the input and hidden layers by
``n`` and keeps the head's (the ``mup`` package's ``MuSGD``: vector-like input weights ``x
width_mult``, hidden weights ``x 1``, ``MuReadout`` output ``/ width_mult``).  The trainer's
step ``1 / lambda_max`` of the net's own NTK fixes the one global learning rate: ``Theta(1)``
in width under "ntk" and "mup", ``~ 1 / n`` under "standard" (its ``c = 1``, a kernel limit).
Biases are NTK-parameterized only: the other two need ``b_std = 0``.  Infinite-width kernels
and closed forms exist for "ntk" only; they raise ``NotComputable``
otherwise.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from . import validate

Params = dict  # {"body": [(W, b), ...], "head": (W, b)}
PARAMETERIZATIONS = ("ntk", "mup", "standard")


@dataclasses.dataclass(frozen=True)
class MLPSpec:
    """ReLU MLP with ``depth`` hidden layers of ``width`` units and a linear head.

    Attributes:
      depth: number of hidden Dense+ReLU layers ``L >= 1``.
      width: hidden width ``n`` of a finite net (ignored by the infinite-width kernels).
      w_std: weight standard deviation of the hidden layers (``sqrt(2)`` keeps ReLU variances fixed).
      b_std: bias standard deviation of every layer (``0`` disables biases' contribution).
      head_std: weight standard deviation of the head.
      out_dim: number of outputs ``k`` of the head.
      parameterization: of the finite net, ``"ntk"`` (default), ``"mup"`` or ``"standard"`` (module docstring).

    Examples:
      One spec, a finite net and its infinite-width kernel; muP starts from the same features, its head
      ``n^-1/2`` smaller:

      >>> import jax, numpy as np, ntk_bridge as nb
      >>> spec = nb.MLPSpec(depth=2, width=256)
      >>> x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
      >>> params = spec.init(jax.random.PRNGKey(0), in_dim=3)
      >>> spec.apply(params, x).shape
      (5, 1)
      >>> mup = spec.replace(parameterization="mup")
      >>> p = mup.init(jax.random.PRNGKey(0), in_dim=3)
      >>> bool(np.allclose(mup.features(p["body"], x), spec.features(params["body"], x), rtol=1e-5, atol=1e-6))
      True
      >>> bool(np.allclose(mup.apply(p, x), spec.apply(params, x) / 16, rtol=1e-4, atol=1e-6))
      True
    """

    depth: int = 4
    width: int = 512
    w_std: float = math.sqrt(2.0)
    b_std: float = 0.0
    head_std: float = 1.0
    out_dim: int = 1
    parameterization: str = "ntk"

    def __post_init__(self):
        # Stored as plain Python numbers (np.int64(4) -> 4, np.float32(0.1) -> 0.1...), so a
        # spec hashes, compares and serializes the same whatever type it was built from.
        for name in ("depth", "width", "out_dim"):
            object.__setattr__(self, name, validate.integer(f"MLPSpec.{name}", getattr(self, name), 1))
        for name in ("w_std", "head_std"):
            object.__setattr__(self, name, validate.positive(f"MLPSpec.{name}", getattr(self, name)))
        object.__setattr__(self, "b_std", validate.nonnegative("MLPSpec.b_std", self.b_std))
        validate.choice("MLPSpec.parameterization", self.parameterization, PARAMETERIZATIONS)
        if self.parameterization != "ntk" and self.b_std != 0:
            raise ValueError(f"MLPSpec.b_std must be 0 with parameterization={self.parameterization!r} (biases are "
                             f"NTK-parameterized only), got {self.b_std}")

    @property
    def feature_dim(self) -> int:
        """The head's fan-in: the dimension of ``features(body, x)``."""
        return self.width

    def multiplier(self, layer: int, fan_in: int) -> float:
        """``m_l`` of layer ``layer`` (``0..depth-1`` hidden, ``depth`` the head) of fan-in ``fan_in``.

        See the module docstring for the table of multipliers per parameterization."""
        std = self.head_std if layer == self.depth else self.w_std
        if self.parameterization == "ntk" or (layer == 0 and self.parameterization == "standard"):
            return std / math.sqrt(fan_in)
        if layer == 0:  # muP's input layer: a = -1/2
            return std / math.sqrt(fan_in) * math.sqrt(self.width)
        if layer == self.depth and self.parameterization == "mup":  # muP's head: a = 1/2
            return std / math.sqrt(self.width)
        return std

    def init_std(self, layer: int) -> float:
        """``s_l``: the standard deviation of layer ``layer``'s weights at initialization (module docstring)."""
        if self.parameterization == "ntk" or (layer == 0 and self.parameterization == "standard"):
            return 1.0
        return 1.0 / math.sqrt(self.width)

    def require_ntk(self, what: str) -> None:
        """``NotComputable`` naming ``what`` unless this is the NTK parameterization."""
        if self.parameterization != "ntk":
            from .errors import NotComputable

            raise NotComputable(f"{what} exists for the NTK parameterization only; this MLPSpec has "
                                f"parameterization={self.parameterization!r}: train finite nets "
                                f"(nb.finite.fit_predict) or use parameterization='ntk'")

    def replace(self, **changes: Any) -> "MLPSpec":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    # ---------------------------------------------------------------- neural-tangents
    def stax(self):
        """The neural-tangents ``(init_fn, apply_fn, kernel_fn)`` triple of this architecture.

        Imports neural-tangents lazily: the finite-width path never needs it.

        Raises:
          ModuleNotFoundError: neural-tangents is not installed (or not importable on this
            JAX); the message names the ``nt`` extra that provides it.
        """
        self.require_ntk("the neural-tangents description (and infinite-width kernel)")
        stax = neural_tangents().stax

        layers = []
        for _ in range(self.depth):
            layers += [stax.Dense(self.width, W_std=self.w_std, b_std=self.nt_b_std()), stax.Relu()]
        layers.append(stax.Dense(self.out_dim, W_std=self.head_std, b_std=self.nt_b_std()))
        return stax.serial(*layers)

    def nt_b_std(self):
        """``b_std`` as neural-tangents' ``Dense`` takes it: ``None`` (no bias parameter) for ``b_std = 0``.

        ``0.0`` would keep a bias with zero scale (the same kernels, but a useless parameter in finite nets).
        """
        return None if self.b_std == 0 else self.b_std

    # ---------------------------------------------------------------- finite net (pure JAX)
    def init(self, key, in_dim: int) -> Params:
        """Parameters ``{"body": [(W, b)] * depth, "head": (W, b)}``: weights ``N(0, s_l^2)`` (``init_std``;
        standard normal in the NTK parameterization), biases standard normal."""
        import jax

        in_dim = validate.integer("in_dim", in_dim, 1)
        keys = jax.random.split(key, 2 * self.depth + 2)
        sizes = [in_dim] + [self.width] * self.depth
        body = [
            (self.init_std(l) * jax.random.normal(keys[2 * l], (sizes[l], sizes[l + 1])),
             jax.random.normal(keys[2 * l + 1], (sizes[l + 1],)))
            for l in range(self.depth)
        ]
        head = (self.init_std(self.depth) * jax.random.normal(keys[-2], (self.width, self.out_dim)),
                jax.random.normal(keys[-1], (self.out_dim,)))
        return {"body": body, "head": head}

    def features(self, body, x):
        """Last-layer features ``phi(x)`` (post-ReLU), shape ``(..., width)``."""
        import jax.numpy as jnp

        h = x
        for l, (w, b) in enumerate(body):
            h = jnp.maximum(self.multiplier(l, w.shape[0]) * (h @ w) + self.b_std * b, 0.0)
        return h

    def head_apply(self, head, phi):
        """Head readout ``m_head phi @ W + b_std * b`` (NTK: ``m_head = head_std / sqrt(width)``)."""
        w, b = head
        return self.multiplier(self.depth, w.shape[0]) * (phi @ w) + self.b_std * b

    def apply(self, params: Params, x):
        """Network output ``f(x; params)``, shape ``(..., out_dim)``."""
        return self.head_apply(params["head"], self.features(params["body"], x))


POOLS = ("gap", "flatten")


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """ReLU conv net: ``depth`` conv layers of ``channels`` channels, pooling, then a dense head (theory.md §11).

    ::

        conv layer l (l = 1..depth):  Conv(channels, (filter, filter), stride 1, SAME zero padding,
                                      W_std=w_std, b_std=b_std) -> ReLU
        pooling:                      global average over pixels ("gap") or flattening ("flatten")
        head:                         Dense(out_dim, W_std=head_std, b_std=b_std)

    NTK parameterization (neural-tangents' ``stax.Conv``/``Dense``): a conv layer computes
    ``(W_std / sqrt(filter^2 C_in)) conv(x, W) + b_std b`` with ``W, b ~ N(0, 1)`` (the fan-in counts
    the whole filter, padding included); the head's fan-in is ``channels`` (``"gap"``) or
    ``H W channels`` (``"flatten"``).

    Attributes:
      depth: conv layers ``L >= 1``.
      channels: of a finite net (ignored at infinite width).
      filter: odd filter size.
      pool: ``"gap"`` or ``"flatten"``.
      w_std: as ``MLPSpec``.
      b_std: as ``MLPSpec``.
      head_std: as ``MLPSpec``.
      out_dim: as ``MLPSpec``.
      image_shape: ``(H, W, C)``, how flat inputs ``(points, H W C)`` (a ``TaskSet``'s,
        whose ``image_shape`` it is) are read as images; ``None``: inputs must be images ``(points, H, W, C)``.

    Examples:
      >>> import jax, numpy as np, ntk_bridge as nb
      >>> spec = nb.ConvSpec(depth=2, channels=8, pool="flatten", image_shape=(8, 8, 1))
      >>> spec.feature_dim                       # H W channels
      512
      >>> params = spec.init(jax.random.PRNGKey(0), in_dim=64)
      >>> spec.apply(params, np.ones((3, 64), np.float32)).shape
      (3, 1)
    """

    depth: int = 2
    channels: int = 256
    filter: int = 3
    pool: str = "gap"
    w_std: float = math.sqrt(2.0)
    b_std: float = 0.0
    head_std: float = 1.0
    out_dim: int = 1
    image_shape: tuple | None = None

    def __post_init__(self):
        for name in ("depth", "channels", "filter", "out_dim"):
            object.__setattr__(self, name, validate.integer(f"ConvSpec.{name}", getattr(self, name), 1))
        if self.filter % 2 != 1:
            raise ValueError(f"ConvSpec.filter must be odd (SAME padding centred on the pixel), got {self.filter}")
        validate.choice("ConvSpec.pool", self.pool, POOLS)
        for name in ("w_std", "head_std"):
            object.__setattr__(self, name, validate.positive(f"ConvSpec.{name}", getattr(self, name)))
        object.__setattr__(self, "b_std", validate.nonnegative("ConvSpec.b_std", self.b_std))
        if self.image_shape is not None:
            shape = tuple(self.image_shape) if isinstance(self.image_shape, (tuple, list)) else None
            if shape is None or len(shape) != 3:
                raise ValueError(f"ConvSpec.image_shape must be (H, W, C), got {self.image_shape!r}")
            object.__setattr__(self, "image_shape", tuple(validate.integer("ConvSpec.image_shape", v, 1)
                                                          for v in shape))

    @property
    def width(self) -> int:
        """The finite net's width in the sense of ``MLPSpec``: its channels."""
        return self.channels

    @staticmethod
    def init_std(layer: int) -> float:
        """1: a conv net is NTK-parameterized, its weights standard normal (``MLPSpec.init_std``)."""
        return 1.0

    @property
    def feature_dim(self) -> int:
        """The head's fan-in: ``channels`` (``"gap"``) or ``H W channels`` (``"flatten"``, needs ``image_shape``)."""
        if self.pool == "gap":
            return self.channels
        h, w, _ = self._shape(math.prod(self.image_shape) if self.image_shape else 0)
        return h * w * self.channels

    def replace(self, **changes: Any) -> "ConvSpec":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def images(self, x, name: str = "x"):
        """``x`` as float64 images ``(points, H, W, C)``: images as they are, flat rows ``(points, H W C)``
        through ``image_shape``; ``ValueError`` naming ``name`` otherwise."""
        import numpy as np

        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 4:
            if self.image_shape is not None and x.shape[1:] != self.image_shape:
                raise ValueError(f"{name} has images of shape {x.shape[1:]}, ConvSpec.image_shape is {self.image_shape}")
            return x
        if x.ndim == 2 and self.image_shape is not None:
            if x.shape[1] != math.prod(self.image_shape):
                raise ValueError(f"{name} has rows of {x.shape[1]} values, ConvSpec.image_shape {self.image_shape} "
                                 f"holds {math.prod(self.image_shape)}")
            return x.reshape((x.shape[0],) + self.image_shape)
        raise ValueError(f"{name} must be images (points, H, W, C), or flat rows (points, H W C) with "
                         f"ConvSpec.image_shape set, got shape {x.shape}")

    # ---------------------------------------------------------------- finite net (pure JAX)
    def init(self, key, in_dim: int) -> Params:
        """Standard-normal parameters ``{"body": [(W (f, f, C_in, channels), b (channels,))] * depth,
        "head": (W (fan_in, out_dim), b (out_dim,))}``; ``in_dim = H W C`` (needs ``image_shape``)."""
        import jax

        in_dim = validate.integer("in_dim", in_dim, 1)
        _, _, c = self._shape(in_dim)
        keys = jax.random.split(key, 2 * self.depth + 2)
        chans = [c] + [self.channels] * self.depth
        body = [(jax.random.normal(keys[2 * l], (self.filter, self.filter, chans[l], chans[l + 1])),
                 jax.random.normal(keys[2 * l + 1], (chans[l + 1],))) for l in range(self.depth)]
        head = (jax.random.normal(keys[-2], (self.feature_dim, self.out_dim)),
                jax.random.normal(keys[-1], (self.out_dim,)))
        return {"body": body, "head": head}

    def features(self, body, x):
        """Pooled last-layer features ``phi(x)`` (post-ReLU), ``(..., channels)`` (``"gap"``) or
        ``(..., H W channels)`` (``"flatten"``); ``x``: flat rows ``(..., H W C)``."""
        import jax
        import jax.numpy as jnp

        lead = x.shape[:-1]
        h = x.reshape((-1,) + self._shape(x.shape[-1]))
        for w, b in body:
            scale = self.w_std / math.sqrt(self.filter ** 2 * w.shape[2])
            conv = jax.lax.conv_general_dilated(h, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
            h = jnp.maximum(scale * conv + self.b_std * b, 0.0)
        phi = h.mean(axis=(1, 2)) if self.pool == "gap" else h.reshape(h.shape[0], -1)
        return phi.reshape(lead + phi.shape[1:])

    def head_apply(self, head, phi):
        """Head readout ``(head_std / sqrt(fan_in)) phi @ W + b_std * b``."""
        w, b = head
        return dense(phi, w, b, self.head_std, self.b_std)

    def apply(self, params: Params, x):
        """Network output ``f(x; params)`` on flat rows ``(..., H W C)``, shape ``(..., out_dim)``."""
        return self.head_apply(params["head"], self.features(params["body"], x))

    def _shape(self, in_dim: int) -> tuple:
        if self.image_shape is None:
            raise ValueError("a finite ConvSpec net reads flat rows through ConvSpec.image_shape, which is None: set "
                             "it (e.g. image_shape=tasks.image_shape)")
        if math.prod(self.image_shape) != in_dim:
            raise ValueError(f"inputs have {in_dim} values per point, ConvSpec.image_shape {self.image_shape} holds "
                             f"{math.prod(self.image_shape)}")
        return self.image_shape

    def stax(self):
        """The neural-tangents ``(init_fn, apply_fn, kernel_fn)`` triple (NHWC inputs); see ``MLPSpec.stax``."""
        stax = neural_tangents().stax
        b_std = None if self.b_std == 0 else self.b_std
        layers = []
        for _ in range(self.depth):
            layers += [stax.Conv(self.channels, (self.filter, self.filter), padding="SAME", W_std=self.w_std,
                                 b_std=b_std), stax.Relu()]
        layers.append(stax.GlobalAvgPool() if self.pool == "gap" else stax.Flatten())
        layers.append(stax.Dense(self.out_dim, W_std=self.head_std, b_std=b_std))
        return stax.serial(*layers)


NT_EXTRA_HINT = ('install the "nt" extra with the pinned versions: '
                 'pip install -c constraints.txt "ntk-bridge[nt]" (neural-tangents 0.6.5 needs jax 0.4.30), '
                 'or use backend="native"')


def neural_tangents():
    """The ``neural_tangents`` module, or a ``ModuleNotFoundError`` naming the ``nt`` extra.

    neural-tangents is optional: only ``backend="nt"`` and ``MLPSpec.stax`` need it.
    Its 0.6.5 release imports JAX APIs removed after the 0.4.30 era, so on a newer JAX it
    fails to import even when installed; both cases get the same one-line fix.

    Returns:
      The imported ``neural_tangents`` module.

    Raises:
      ModuleNotFoundError: when neural-tangents is not installed, or is installed but fails to import
        on this JAX (any ``ImportError``); its ``name`` is ``"neural_tangents"`` and its message gives the
        install command of the ``nt`` extra (``NT_EXTRA_HINT``).

    Examples:
      Either outcome is usable: the module on the pinned stack (JAX 0.4.30), the one-line fix elsewhere:

      >>> from ntk_bridge.spec import neural_tangents
      >>> try:
      ...     print(hasattr(neural_tangents().stax, "Dense"))                  # installed and importable
      ... except ModuleNotFoundError as exc:                                  # missing, or too new a JAX
      ...     print(exc.name == "neural_tangents" and "ntk-bridge[nt]" in str(exc))
      True
    """
    try:
        import neural_tangents as nt
    except ImportError as exc:
        installed = getattr(exc, "name", None) != "neural_tangents"
        why = (f"neural-tangents is installed but cannot be imported with this JAX ({type(exc).__name__}: {exc})"
               if installed else "neural-tangents is not installed")
        raise ModuleNotFoundError(f"{why}: {NT_EXTRA_HINT}", name="neural_tangents") from exc
    return nt


def dense(x, w, b, w_std, b_std):
    """NTK-parameterized Dense: ``(w_std / sqrt(fan_in)) x @ W + b_std * b``, ``fan_in = W.shape[0]``.

    Args:
      x: inputs ``(..., fan_in)``.
      w: weights ``(fan_in, fan_out)``, standard normal at initialization.
      b: bias ``(fan_out,)``, standard normal at initialization.
      w_std: weight standard deviation ``W_std`` (the layer's ``w_std`` or ``head_std``).
      b_std: bias standard deviation ``b_std`` (``0``: the bias does not contribute).

    Returns:
      ``(..., fan_out)`` in the dtype the inputs promote to (NumPy or JAX arrays alike).

    Examples:
      >>> import numpy as np
      >>> from ntk_bridge.spec import dense
      >>> x, w, b = np.ones((2, 4)), np.ones((4, 3)), np.arange(3.0)
      >>> dense(x, w, b, w_std=2.0, b_std=0.5)            # (2 / sqrt(4)) * 4 + 0.5 * b
      array([[4. , 4.5, 5. ],
             [4. , 4.5, 5. ]])
    """
    return (w_std / math.sqrt(w.shape[0])) * (x @ w) + b_std * b
