"""Shape and field validation of ``Op`` nodes (used by ``hwsim.graph``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hwsim.graph import Op, Shape

def as_tuple(value: Any) -> tuple:
    """``value`` as a tuple (lists and other iterables converted)."""
    return tuple(value) if not isinstance(value, tuple) else value


def _positive_shape(op: Op, field_name: str, shape: Shape) -> None:
    if any((not isinstance(d, int)) or d < 1 for d in shape):
        raise ValueError(
            f"op {op.name!r}: {field_name} must have positive integer dims, got {shape}"
        )


def check_op(op: Op) -> None:
    """Raise ``ValueError`` naming the op and field when ``op`` is malformed."""
    if not op.name or not isinstance(op.name, str):
        raise ValueError(f"op name must be a non-empty string, got {op.name!r}")
    if len(op.inputs) != len(op.in_shapes):
        raise ValueError(
            f"op {op.name!r}: inputs has {len(op.inputs)} entries but in_shapes has "
            f"{len(op.in_shapes)}"
        )
    for i, s in enumerate(op.in_shapes):
        _positive_shape(op, f"in_shapes[{i}]", s)
    if not op.out_shape:
        raise ValueError(f"op {op.name!r}: out_shape must not be empty")
    _positive_shape(op, "out_shape", op.out_shape)
    _positive_shape(op, "weight_shape", op.weight_shape)
    for name in ("kernel", "stride"):
        _positive_shape(op, name, getattr(op, name))
    if any(p < 0 for p in op.padding):
        raise ValueError(f"op {op.name!r}: padding must be >= 0, got {op.padding}")
    if op.groups < 1:
        raise ValueError(f"op {op.name!r}: groups must be >= 1, got {op.groups}")
    _SHAPE_CHECKS.get(op.kind, _check_nothing)(op)


def _check_nothing(op: Op) -> None:
    return None


def _expect(op: Op, field_name: str, got: Any, want: Any) -> None:
    if got != want:
        raise ValueError(
            f"op {op.name!r}: {field_name} must be {want} for {op.kind.value}, got {got}"
        )


def _window_out(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _check_conv(op: Op) -> None:
    _expect(op, "number of inputs", len(op.in_shapes), 1)
    n, c, h, w = _rank(op, op.in_shapes[0], 4, "in_shapes[0]")
    k_out, c_g, kh, kw = _rank(op, op.weight_shape, 4, "weight_shape")
    if c % op.groups or k_out % op.groups:
        raise ValueError(
            f"op {op.name!r}: groups={op.groups} must divide in channels {c} "
            f"and out channels {k_out}"
        )
    _expect(op, "weight_shape[1]", c_g, c // op.groups)
    _expect(op, "kernel", op.kernel, (kh, kw))
    p = _window_out(h, kh, op.stride[0], op.padding[0])
    q = _window_out(w, kw, op.stride[1], op.padding[1])
    _expect(op, "out_shape", op.out_shape, (n, k_out, p, q))


def _check_matmul(op: Op) -> None:
    a = op.in_shapes[0] if op.in_shapes else ()
    if op.weight_shape:
        _expect(op, "number of inputs", len(op.in_shapes), 1)
        _rank(op, op.weight_shape, 2, "weight_shape")
        _expect(op, "weight_shape[0]", op.weight_shape[0], a[-1])
        _expect(op, "out_shape", op.out_shape, (*a[:-1], op.weight_shape[1]))
        return
    _expect(op, "number of inputs", len(op.in_shapes), 2)
    b = op.in_shapes[1]
    if len(a) < 2 or len(b) != len(a) or a[:-2] != b[:-2] or a[-1] != b[-2]:
        raise ValueError(f"op {op.name!r}: in_shapes {a} and {b} cannot be multiplied")
    _expect(op, "out_shape", op.out_shape, (*a[:-1], b[-1]))


def _check_same_shape(op: Op) -> None:
    for i, s in enumerate(op.in_shapes):
        _expect(op, f"in_shapes[{i}]", s, op.out_shape)


def _check_pool(op: Op) -> None:
    _expect(op, "number of inputs", len(op.in_shapes), 1)
    n, c, h, w = _rank(op, op.in_shapes[0], 4, "in_shapes[0]")
    p = _window_out(h, op.kernel[0], op.stride[0], op.padding[0])
    q = _window_out(w, op.kernel[1], op.stride[1], op.padding[1])
    _expect(op, "out_shape", op.out_shape, (n, c, p, q))


def _check_norm(op: Op) -> None:
    _check_same_shape(op)
    if op.weight_shape:
        channels = op.out_shape[1] if op.func == "batchnorm" else op.out_shape[-1]
        _expect(op, "weight_shape[1]", op.weight_shape[-1], channels)


def _check_embedding(op: Op) -> None:
    _rank(op, op.weight_shape, 2, "weight_shape")
    _expect(op, "out_shape", op.out_shape, (*op.in_shapes[0], op.weight_shape[1]))


def _check_concat(op: Op) -> None:
    axis = int(op.func or 1)
    rest = [s[:axis] + s[axis + 1 :] for s in op.in_shapes]
    if any(r != rest[0] for r in rest):
        raise ValueError(f"op {op.name!r}: in_shapes {op.in_shapes} differ outside axis {axis}")
    total = sum(s[axis] for s in op.in_shapes)
    _expect(op, "out_shape", op.out_shape, (*rest[0][:axis], total, *rest[0][axis:]))


def _check_reshape(op: Op) -> None:
    _expect(op, "number of inputs", len(op.in_shapes), 1)
    _expect(op, "number of elements", math.prod(op.out_shape), math.prod(op.in_shapes[0]))


def _rank(op: Op, shape: Shape, rank: int, field_name: str) -> Shape:
    if len(shape) != rank:
        raise ValueError(f"op {op.name!r}: {field_name} must have {rank} dims, got {shape}")
    return shape


# Keyed by OpKind value (OpKind is a StrEnum, so members look up equal strings).
_SHAPE_CHECKS = {
    "conv2d": _check_conv,
    "matmul": _check_matmul,
    "elementwise": _check_same_shape,
    "softmax": _check_same_shape,
    "norm": _check_norm,
    "pool": _check_pool,
    "embedding": _check_embedding,
    "concat": _check_concat,
    "reshape": _check_reshape,
}
