"""The op-graph IR: frozen ``Op`` nodes in a ``Graph`` with explicit edges.

An ``Op`` carries explicit shapes (batch included), its numeric ``Precision`` and its
``Sparsity``. Derived quantities (MACs, FLOPs, parameters, bytes per tensor at its precision,
arithmetic intensity) are properties. A ``Graph`` holds ops in topological order; its
constructor validates the whole graph and raises ``ValueError`` naming the op and field.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hwsim._opchecks import as_int, as_shape, as_tuple, check_op
from hwsim.numerics import NumberFormat, Precision, Sparsity, SparsityPattern

if TYPE_CHECKING:
    import pandas as pd

Shape = tuple[int, ...]

__all__ = [
    "Graph", "NumberFormat", "Op", "OpKind", "Precision", "Shape", "Sparsity",
    "SparsityPattern", "toposort",
]


class OpKind(StrEnum):
    """The primitive op kinds; composite layers (attention, LSTM) lower to these."""

    INPUT = "input"
    CONV2D = "conv2d"
    MATMUL = "matmul"
    ELEMENTWISE = "elementwise"
    POOL = "pool"
    SOFTMAX = "softmax"
    NORM = "norm"
    EMBEDDING = "embedding"
    CONCAT = "concat"
    RESHAPE = "reshape"


#: Kinds whose work is multiply-accumulates on a weight or a second operand.
MAC_KINDS = frozenset({OpKind.CONV2D, OpKind.MATMUL})
#: Kinds that only move or relabel data (no arithmetic).
MOVE_KINDS = frozenset({OpKind.INPUT, OpKind.CONCAT, OpKind.RESHAPE})

#: FLOPs per output element of elementwise functions (an estimate for transcendental ones).
ELEMENTWISE_FLOPS = {
    "add": 1, "sub": 1, "mul": 1, "relu": 1, "relu6": 2, "identity": 0,
    "gelu": 8, "silu": 5, "sigmoid": 4, "tanh": 5, "rope": 3, "scale": 1, "swiglu": 6,
}
_SOFTMAX_FLOPS = 5
_NORM_FLOPS = 6


def _prod(shape: Iterable[int]) -> int:
    return math.prod(shape)


@dataclass(frozen=True, kw_only=True)
class Op:
    """One node of the op graph.

    Parameters
    ----------
    name : unique name within its graph.
    kind : the primitive kind.
    inputs : names of producer ops, one per entry of ``in_shapes``.
    in_shapes, out_shape : activation shapes, batch first (conv and pool use NCHW).
    weight_shape : shape of the stored weights, ``()`` when the op has none. Conv2d uses
        ``(out_channels, in_channels // groups, kh, kw)``, matmul with weights ``(K, N)``,
        norm ``(n_affine, channels)``, embedding ``(vocab, dim)``.
    bias : whether the op adds a learned bias of one value per output feature.
    kernel, stride, padding, groups : conv2d / pool geometry (height, width).
    func : elementwise function, pool mode ('max' / 'avg'), norm type, or move kind.
    weight_tied_to : name of the op whose weight tensor this op reuses (not counted again as
        parameters or stored bytes; a bias of its own still counts).
    precision, sparsity : numeric format and density.
    """

    name: str
    kind: OpKind
    inputs: tuple[str, ...] = ()
    in_shapes: tuple[Shape, ...] = ()
    out_shape: Shape = ()
    weight_shape: Shape = ()
    bias: bool = False
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    groups: int = 1
    func: str = ""
    weight_tied_to: str = ""
    precision: Precision = field(default_factory=Precision)
    sparsity: Sparsity = field(default_factory=Sparsity)

    def __post_init__(self) -> None:
        if self.kind not in tuple(OpKind):
            raise ValueError(f"op {self.name!r}: kind must be one of "
                             f"{', '.join(OpKind)}, got {self.kind!r}")
        object.__setattr__(self, "kind", OpKind(self.kind))
        object.__setattr__(self, "inputs", as_tuple(self.inputs))
        for name in ("out_shape", "weight_shape", "kernel", "stride", "padding"):
            object.__setattr__(self, name, as_shape(getattr(self, name)))
        object.__setattr__(self, "in_shapes", tuple(as_shape(s) for s in as_tuple(self.in_shapes)))
        object.__setattr__(self, "groups", as_int(self.groups))
        check_op(self)

    def replace(self, **changes: Any) -> Op:
        """A copy of this op with ``changes`` applied (validated again)."""
        return replace(self, **changes)

    # ---- derived geometry -------------------------------------------------------------
    @property
    def gemm(self) -> tuple[int, int, int, int]:
        """``(groups, M, K, N)`` of the op as (grouped) matrix multiplication(s).

        Conv2d maps to implicit GEMM: M = batch * out_h * out_w, K = in_ch/groups * kh * kw,
        N = out_ch / groups, repeated ``groups`` times. Matmul folds leading dims into M when
        the second operand is a weight, otherwise into the group count. Non-MAC ops give zeros.
        """
        if self.kind is OpKind.CONV2D:
            n, _, p, q = self.out_shape
            k_out, c_per_group, kh, kw = self.weight_shape
            return self.groups, n * p * q, c_per_group * kh * kw, k_out // self.groups
        if self.kind is OpKind.MATMUL:
            a = self.in_shapes[0]
            if self.weight_shape:
                return 1, _prod(a[:-1]), a[-1], self.weight_shape[1]
            return _prod(a[:-2]), a[-2], a[-1], self.in_shapes[1][-1]
        return 0, 0, 0, 0

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the dense op (sparsity does not change this figure)."""
        g, m, k, n = self.gemm
        return g * m * k * n

    @property
    def out_elements(self) -> int:
        """Number of output elements."""
        return _prod(self.out_shape)

    @property
    def flops(self) -> int:
        """Floating-point (or integer) operations: 2 per MAC, plus per-element work."""
        if self.kind in MAC_KINDS:
            return 2 * self.macs + (self.out_elements if self.bias else 0)
        if self.kind is OpKind.ELEMENTWISE:
            return ELEMENTWISE_FLOPS.get(self.func, 1) * self.out_elements
        if self.kind is OpKind.POOL:
            return self.out_elements * self.kernel[0] * self.kernel[1]
        if self.kind is OpKind.SOFTMAX:
            return _SOFTMAX_FLOPS * self.out_elements
        if self.kind is OpKind.NORM:
            return _NORM_FLOPS * self.out_elements
        return 0

    @property
    def params(self) -> int:
        """Learned parameters owned by this op (weights plus bias; tied weights count zero)."""
        n = _prod(self.weight_shape) if self.weight_shape and not self.weight_tied_to else 0
        return n + self._bias_elements

    @property
    def out_features(self) -> int:
        """Output channels (NCHW ops) or the last output dimension."""
        if self.kind in {OpKind.CONV2D, OpKind.POOL}:
            return self.out_shape[1]
        return self.out_shape[-1] if self.out_shape else 0

    @property
    def input_bytes(self) -> float:
        """Bytes of all activation inputs at the activation precision."""
        if self.kind is OpKind.EMBEDDING:
            return 4.0 * sum(_prod(s) for s in self.in_shapes)  # int32 token ids
        return sum(_prod(s) for s in self.in_shapes) * self.precision.act_bits / 8.0

    @property
    def _bias_elements(self) -> int:
        return self.out_features if self.bias else 0

    @property
    def weight_bytes(self) -> float:
        """Bytes of the dense weight tensor (plus bias) at the weight precision."""
        n = (_prod(self.weight_shape) if self.weight_shape else 0) + self._bias_elements
        return n * self.precision.weight_bits / 8.0

    @property
    def weight_read_bytes(self) -> float:
        """Bytes of weights one execution of the op must read, at the weight precision.

        The whole tensor (plus bias) for every kind but embeddings: a lookup reads only the
        rows it gathers, at most one per id and never more than the table holds. Cost models
        that charge weight traffic should use this figure, not ``weight_bytes``.
        """
        if self.kind is not OpKind.EMBEDDING:
            return self.weight_bytes
        vocab, dim = self.weight_shape
        rows = min(_prod(self.in_shapes[0]), vocab)
        return rows * dim * self.precision.weight_bits / 8.0

    @property
    def owned_weight_bytes(self) -> float:
        """Bytes of the weights this op stores: its tensor unless tied, plus its own bias."""
        if not self.weight_tied_to:
            return self.weight_bytes
        return self._bias_elements * self.precision.weight_bits / 8.0

    @property
    def output_bytes(self) -> float:
        """Bytes of the output at the activation precision."""
        return self.out_elements * self.precision.act_bits / 8.0

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs per byte of compulsory traffic (inputs, weights read,
        output)."""
        traffic = self.input_bytes + self.weight_read_bytes + self.output_bytes
        return self.flops / traffic if traffic else 0.0


def toposort(ops: Sequence[Op]) -> tuple[Op, ...]:
    """Ops ordered so that every op follows its producers (stable: keeps the given order
    where dependencies allow).

    Raises ``ValueError`` on duplicate names, inputs naming no op, and cycles.
    """
    by_name: dict[str, Op] = {}
    for op in ops:
        if op.name in by_name:
            raise ValueError(f"op name {op.name!r} appears twice")
        by_name[op.name] = op
    for op in ops:
        for src in op.inputs:
            if src not in by_name:
                raise ValueError(f"op {op.name!r}: input {src!r} names no op in the graph")
    indegree = {op.name: len(set(op.inputs)) for op in ops}
    consumers: dict[str, list[str]] = {op.name: [] for op in ops}
    for op in ops:
        for src in dict.fromkeys(op.inputs):
            consumers[src].append(op.name)
    order = {op.name: i for i, op in enumerate(ops)}
    ready = [(order[n], n) for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    out: list[Op] = []
    while ready:
        _, name = heapq.heappop(ready)
        out.append(by_name[name])
        for nxt in consumers[name]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, (order[nxt], nxt))
    if len(out) != len(ops):
        stuck = sorted(n for n, d in indegree.items() if d > 0)
        raise ValueError(f"graph has a cycle through ops {stuck[:5]}")
    return tuple(out)


@dataclass(frozen=True)
class Graph:
    """Ops in topological order with edges given by each op's ``inputs``.

    Built with ``Graph(ops)`` (any order); validated on construction: unique names, inputs
    that name ops, no cycles, each input shape equal to its producer's output shape, and
    weight ties that name an untied op of the graph holding as many weights.
    """

    ops: tuple[Op, ...]
    name: str = "graph"
    _index: dict[str, Op] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ordered = toposort(tuple(self.ops))
        object.__setattr__(self, "ops", ordered)
        object.__setattr__(self, "_index", {op.name: op for op in ordered})
        for op in ordered:
            for i, src in enumerate(op.inputs):
                got = self._index[src].out_shape
                if got != op.in_shapes[i]:
                    raise ValueError(
                        f"op {op.name!r}: in_shapes[{i}] is {op.in_shapes[i]} but input "
                        f"{src!r} produces {got}"
                    )
            if op.weight_tied_to:
                self._check_tie(op)

    def _check_tie(self, op: Op) -> None:
        target = self._index.get(op.weight_tied_to)
        if target is None or target.weight_tied_to:
            raise ValueError(f"op {op.name!r}: weight_tied_to {op.weight_tied_to!r} must name "
                             "an op of the graph whose weights are not tied themselves")
        if _prod(target.weight_shape or (0,)) != _prod(op.weight_shape):
            raise ValueError(
                f"op {op.name!r}: weight_shape {op.weight_shape} holds a different number of "
                f"weights than {target.name!r}'s {target.weight_shape}, to which it is tied"
            )

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __getitem__(self, name: str) -> Op:
        return self._index[name]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        """(producer, consumer) name pairs."""
        return tuple((src, op.name) for op in self.ops for src in op.inputs)

    def consumers(self, name: str) -> tuple[str, ...]:
        """Names of ops that read the output of ``name``."""
        return tuple(op.name for op in self.ops if name in op.inputs)

    def map_ops(self, fn: Any) -> Graph:
        """A new graph with ``fn(op) -> Op`` applied to every op (shapes re-validated)."""
        return Graph(tuple(fn(op) for op in self.ops), name=self.name)

    @property
    def macs(self) -> int:
        """Total MACs."""
        return sum(op.macs for op in self.ops)

    @property
    def flops(self) -> int:
        """Total FLOPs."""
        return sum(op.flops for op in self.ops)

    @property
    def params(self) -> int:
        """Total learned parameters."""
        return sum(op.params for op in self.ops)

    @property
    def weight_bytes(self) -> float:
        """Total stored weight bytes at each op's precision (tied weights counted once)."""
        return sum(op.owned_weight_bytes for op in self.ops)

    def summary(self) -> pd.DataFrame:
        """One row per op: kind, shapes, MACs, FLOPs, params, bytes, intensity, precision."""
        import pandas as pd

        rows = [_summary_row(op) for op in self.ops]
        return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)

    def totals(self) -> dict[str, float]:
        """Whole-graph totals of the summary's numeric columns."""
        return {
            "ops": len(self.ops),
            "macs": self.macs,
            "flops": self.flops,
            "params": self.params,
            "weight_bytes": self.weight_bytes,
        }


SUMMARY_COLUMNS = [
    "op", "kind", "func", "inputs", "out_shape", "macs", "flops", "params",
    "input_bytes", "weight_bytes", "output_bytes", "intensity", "precision",
    "weight_density",
]


def _summary_row(op: Op) -> dict[str, Any]:
    return {
        "op": op.name,
        "kind": op.kind.value,
        "func": op.func,
        "inputs": ",".join(op.inputs),
        "out_shape": "x".join(map(str, op.out_shape)),
        "macs": op.macs,
        "flops": op.flops,
        "params": op.params,
        "input_bytes": op.input_bytes,
        "weight_bytes": op.weight_bytes,
        "output_bytes": op.output_bytes,
        "intensity": op.intensity,
        "precision": op.precision.label,
        "weight_density": op.sparsity.weight_density,
    }


def op_fields() -> tuple[str, ...]:
    """Names of the fields of ``Op`` (for tools that rebuild ops)."""
    return tuple(f.name for f in fields(Op))
