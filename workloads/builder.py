"""A small layer-builder API that emits ``hwsim.graph`` ops with shapes worked out.

Each method takes the tensor(s) it consumes, appends one op and returns the new tensor.
Names are scoped: inside ``with b.scope("layer1.0"):`` an op named ``conv1`` becomes
``layer1.0.conv1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hwsim.graph import Graph, Op, OpKind, Precision, Shape


@dataclass(frozen=True)
class Tensor:
    """The output of an op: its producer's name and its shape."""

    op: str
    shape: Shape


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class GraphBuilder:
    """Accumulates ops; ``build()`` returns the validated ``Graph``."""

    def __init__(self, name: str, precision: Precision | None = None) -> None:
        self.name = name
        self.precision = precision or Precision()
        self._ops: list[Op] = []
        self._prefix: list[str] = []
        self._counts: dict[str, int] = {}

    @contextmanager
    def scope(self, prefix: str) -> Iterator[None]:
        """Prefix the names of ops added inside the block with ``prefix.``."""
        self._prefix.append(prefix)
        try:
            yield
        finally:
            self._prefix.pop()

    def _name(self, name: str | None, default: str) -> str:
        if name is None:
            base = ".".join([*self._prefix, default])
            n = self._counts.get(base, 0)
            self._counts[base] = n + 1
            return base if n == 0 else f"{base}_{n}"
        return ".".join([*self._prefix, name])

    def _add(self, name: str, kind: OpKind, inputs: tuple[Tensor, ...], out: Shape,
             **attrs: object) -> Tensor:
        op = Op(
            name=name,
            kind=kind,
            inputs=tuple(t.op for t in inputs),
            in_shapes=tuple(t.shape for t in inputs),
            out_shape=tuple(out),
            precision=self.precision,
            **attrs,  # type: ignore[arg-type]
        )
        self._ops.append(op)
        return Tensor(op.name, op.out_shape)

    def build(self) -> Graph:
        """The validated graph of every op added so far."""
        return Graph(tuple(self._ops), name=self.name)

    # ---- layers -----------------------------------------------------------------------
    def input(self, shape: Shape, name: str = "input") -> Tensor:
        """A graph input (zero-cost op producing ``shape``)."""
        return self._add(self._name(name, "input"), OpKind.INPUT, (), tuple(shape))

    def conv2d(self, x: Tensor, out_channels: int, kernel: int | tuple[int, int], *,
               stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
               groups: int = 1, bias: bool = False, name: str | None = None) -> Tensor:
        """2-D convolution over NCHW (depthwise when ``groups`` equals the channel count)."""
        n, c, h, w = x.shape
        k, s, p = _pair(kernel), _pair(stride), _pair(padding)
        out_h = (h + 2 * p[0] - k[0]) // s[0] + 1
        out_w = (w + 2 * p[1] - k[1]) // s[1] + 1
        return self._add(
            self._name(name, "conv"), OpKind.CONV2D, (x,), (n, out_channels, out_h, out_w),
            weight_shape=(out_channels, c // groups, *k), kernel=k, stride=s, padding=p,
            groups=groups, bias=bias,
        )

    def linear(self, x: Tensor, out_features: int, *, bias: bool = True,
               name: str | None = None, tied_to: str = "") -> Tensor:
        """Fully connected layer on the last dim (a matmul against a weight)."""
        return self._add(
            self._name(name, "linear"), OpKind.MATMUL, (x,), (*x.shape[:-1], out_features),
            weight_shape=(x.shape[-1], out_features), bias=bias, weight_tied_to=tied_to,
        )

    def matmul(self, a: Tensor, b: Tensor, name: str | None = None) -> Tensor:
        """Batched product of two activations: (..., M, K) x (..., K, N)."""
        return self._add(self._name(name, "matmul"), OpKind.MATMUL, (a, b),
                         (*a.shape[:-1], b.shape[-1]))

    def elementwise(self, func: str, *xs: Tensor, name: str | None = None) -> Tensor:
        """Elementwise function of one or more same-shape tensors."""
        return self._add(self._name(name, func), OpKind.ELEMENTWISE, tuple(xs), xs[0].shape,
                         func=func)

    def relu(self, x: Tensor, name: str | None = None) -> Tensor:
        """ReLU activation."""
        return self.elementwise("relu", x, name=name)

    def add(self, a: Tensor, b: Tensor, name: str | None = None) -> Tensor:
        """Elementwise sum (residual connection)."""
        return self.elementwise("add", a, b, name=name)

    def pool(self, x: Tensor, kernel: int | tuple[int, int], *, mode: str = "max",
             stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0,
             name: str | None = None) -> Tensor:
        """Max or average pooling over NCHW."""
        n, c, h, w = x.shape
        k, p = _pair(kernel), _pair(padding)
        s = _pair(stride) if stride is not None else k
        out = (n, c, (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1)
        return self._add(self._name(name, f"{mode}pool"), OpKind.POOL, (x,), out,
                         kernel=k, stride=s, padding=p, func=mode)

    def global_avgpool(self, x: Tensor, name: str | None = None) -> Tensor:
        """Average over the whole spatial extent (output N, C, 1, 1)."""
        return self.pool(x, (x.shape[2], x.shape[3]), mode="avg", name=name or "avgpool")

    def softmax(self, x: Tensor, name: str | None = None) -> Tensor:
        """Softmax over the last dim."""
        return self._add(self._name(name, "softmax"), OpKind.SOFTMAX, (x,), x.shape)

    def norm(self, x: Tensor, kind: str = "layernorm", name: str | None = None) -> Tensor:
        """Normalisation: 'batchnorm' (channel dim 1), 'layernorm' or 'rmsnorm' (last dim)."""
        channels = x.shape[1] if kind == "batchnorm" else x.shape[-1]
        n_affine = 1 if kind == "rmsnorm" else 2
        return self._add(self._name(name, kind), OpKind.NORM, (x,), x.shape,
                         weight_shape=(n_affine, channels), func=kind)

    def embedding(self, ids: Tensor, vocab: int, dim: int, name: str | None = None) -> Tensor:
        """Table lookup: ids (batch, seq) -> (batch, seq, dim)."""
        return self._add(self._name(name, "embedding"), OpKind.EMBEDDING, (ids,),
                         (*ids.shape, dim), weight_shape=(vocab, dim))

    def concat(self, xs: list[Tensor], axis: int, name: str | None = None) -> Tensor:
        """Concatenation along ``axis`` (negative counts from the end)."""
        out = list(xs[0].shape)
        axis %= len(out)
        out[axis] = sum(t.shape[axis] for t in xs)
        return self._add(self._name(name, "concat"), OpKind.CONCAT, tuple(xs), tuple(out),
                         func=str(axis))

    def reshape(self, x: Tensor, shape: Shape, name: str | None = None,
                func: str = "reshape") -> Tensor:
        """Reshape, transpose or flatten: data movement with no arithmetic."""
        return self._add(self._name(name, func), OpKind.RESHAPE, (x,), tuple(shape), func=func)

    def flatten(self, x: Tensor, name: str | None = None) -> Tensor:
        """Flatten all but the batch dim."""
        rest = 1
        for d in x.shape[1:]:
            rest *= d
        return self.reshape(x, (x.shape[0], rest), name=name or "flatten", func="flatten")
