"""Shape and field validation of ``Op`` nodes (used by ``hwsim.graph``)."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

from hwsim.numerics import Precision, Sparsity

if TYPE_CHECKING:
    from hwsim.graph import Op, Shape

#: Kinds that may own a weight tensor (``weight_shape``).
WEIGHT_KIND_NAMES = frozenset({"conv2d", "matmul", "norm", "embedding"})
#: Kinds that may add a learned bias.
BIAS_KIND_NAMES = frozenset({"conv2d", "matmul"})
POOL_FUNCS = ("max", "avg")


def as_tuple(value: Any) -> tuple:
    """``value`` as a tuple (lists and other iterables converted)."""
    return tuple(value) if not isinstance(value, tuple) else value


def as_shape(value: Any) -> tuple:
    """``value`` as a tuple with integer entries (numpy integers included) made ``int``.

    Other entries (floats, bools, strings) are kept so that validation can name them.
    """
    return tuple(as_int(d) for d in as_tuple(value))


def as_int(value: Any) -> Any:
    """``value`` as an ``int`` if it is an integer of any type (bools excepted), else unchanged."""
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return int(value) if is_int else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_shape(op: Op, field_name: str, shape: Shape) -> None:
    if any(not _is_int(d) or d < 1 for d in shape):
        raise ValueError(
            f"op {op.name!r}: {field_name} must have positive integer dims, got {shape}"
        )


def _pair(op: Op, field_name: str, minimum: int) -> None:
    value = getattr(op, field_name)
    if len(value) != 2 or any(not _is_int(v) or v < minimum for v in value):
        raise ValueError(
            f"op {op.name!r}: {field_name} must be two integers >= {minimum} "
            f"(height, width), got {value}"
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
    _pair(op, "kernel", 1)
    _pair(op, "stride", 1)
    _pair(op, "padding", 0)
    if not _is_int(op.groups) or op.groups < 1:
        raise ValueError(f"op {op.name!r}: groups must be an integer >= 1, got {op.groups!r}")
    _check_fields(op)
    _SHAPE_CHECKS[op.kind](op)


def _check_fields(op: Op) -> None:
    """Types of precision and sparsity; weights, bias and ties only where the kind has them."""
    if not isinstance(op.precision, Precision):
        raise ValueError(f"op {op.name!r}: precision must be a Precision, got {op.precision!r}")
    if not isinstance(op.sparsity, Sparsity):
        raise ValueError(f"op {op.name!r}: sparsity must be a Sparsity, got {op.sparsity!r}")
    if op.weight_shape and op.kind not in WEIGHT_KIND_NAMES:
        raise ValueError(
            f"op {op.name!r}: weight_shape must be () for {op.kind.value} (only "
            f"{', '.join(sorted(WEIGHT_KIND_NAMES))} own weights), got {op.weight_shape}"
        )
    if op.bias and (op.kind not in BIAS_KIND_NAMES or not op.weight_shape):
        raise ValueError(
            f"op {op.name!r}: bias must be False for {op.kind.value} without weights "
            "(only conv2d and matmul with weights add a bias)"
        )
    if not isinstance(op.weight_tied_to, str) or (op.weight_tied_to and not op.weight_shape):
        raise ValueError(
            f"op {op.name!r}: weight_tied_to must be '' for an op without weights, "
            f"got {op.weight_tied_to!r}"
        )


def _expect(op: Op, field_name: str, got: Any, want: Any) -> None:
    if got != want:
        raise ValueError(
            f"op {op.name!r}: {field_name} must be {want} for {op.kind.value}, got {got}"
        )


def _inputs(op: Op, count: int) -> None:
    _expect(op, "number of inputs", len(op.in_shapes), count)


def _at_least_one_input(op: Op) -> None:
    if not op.in_shapes:
        raise ValueError(f"op {op.name!r}: number of inputs must be >= 1 for {op.kind.value}, "
                         "got 0")


def _window_out(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _check_input(op: Op) -> None:
    _inputs(op, 0)


def _check_conv(op: Op) -> None:
    _inputs(op, 1)
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
    if op.weight_shape:
        _inputs(op, 1)
        a = op.in_shapes[0]
        _rank(op, op.weight_shape, 2, "weight_shape")
        _expect(op, "weight_shape[0]", op.weight_shape[0], a[-1])
        _expect(op, "out_shape", op.out_shape, (*a[:-1], op.weight_shape[1]))
        return
    _inputs(op, 2)
    a, b = op.in_shapes
    if len(a) < 2 or len(b) != len(a) or a[:-2] != b[:-2] or a[-1] != b[-2]:
        raise ValueError(f"op {op.name!r}: in_shapes {a} and {b} cannot be multiplied")
    _expect(op, "out_shape", op.out_shape, (*a[:-1], b[-1]))


def _check_same_shape(op: Op) -> None:
    for i, s in enumerate(op.in_shapes):
        _expect(op, f"in_shapes[{i}]", s, op.out_shape)


def _check_elementwise(op: Op) -> None:
    _at_least_one_input(op)
    _check_same_shape(op)


def _check_softmax(op: Op) -> None:
    _inputs(op, 1)
    _check_same_shape(op)


def _check_pool(op: Op) -> None:
    _inputs(op, 1)
    if op.func not in POOL_FUNCS:
        raise ValueError(f"op {op.name!r}: func must be one of {', '.join(POOL_FUNCS)} for "
                         f"pool, got {op.func!r}")
    n, c, h, w = _rank(op, op.in_shapes[0], 4, "in_shapes[0]")
    p = _window_out(h, op.kernel[0], op.stride[0], op.padding[0])
    q = _window_out(w, op.kernel[1], op.stride[1], op.padding[1])
    _expect(op, "out_shape", op.out_shape, (n, c, p, q))


def _check_norm(op: Op) -> None:
    _inputs(op, 1)
    _check_same_shape(op)
    if op.weight_shape:
        _rank(op, op.weight_shape, 2, "weight_shape")
        channels = op.out_shape[1] if op.func == "batchnorm" else op.out_shape[-1]
        _expect(op, "weight_shape[1]", op.weight_shape[1], channels)


def _check_embedding(op: Op) -> None:
    _inputs(op, 1)
    _rank(op, op.weight_shape, 2, "weight_shape")
    _expect(op, "out_shape", op.out_shape, (*op.in_shapes[0], op.weight_shape[1]))


def concat_axis(op: Op) -> int:
    """The concatenation axis of a concat op (``func``, default 1), made non-negative."""
    rank = len(op.out_shape)
    try:
        axis = int(op.func or "1")
    except ValueError:
        axis = rank
    if not -rank <= axis < rank:
        raise ValueError(f"op {op.name!r}: func must name a concat axis in {-rank}..{rank - 1} "
                         f"(an integer as text), got {op.func!r}")
    return axis % rank


def _check_concat(op: Op) -> None:
    _at_least_one_input(op)
    axis = concat_axis(op)
    for i, s in enumerate(op.in_shapes):
        _rank(op, s, len(op.out_shape), f"in_shapes[{i}]")
    rest = [s[:axis] + s[axis + 1 :] for s in op.in_shapes]
    if any(r != rest[0] for r in rest):
        raise ValueError(f"op {op.name!r}: in_shapes {op.in_shapes} differ outside axis {axis}")
    total = sum(s[axis] for s in op.in_shapes)
    _expect(op, "out_shape", op.out_shape, (*rest[0][:axis], total, *rest[0][axis:]))


def _check_reshape(op: Op) -> None:
    _inputs(op, 1)
    _expect(op, "number of elements", math.prod(op.out_shape), math.prod(op.in_shapes[0]))


def _rank(op: Op, shape: Shape, rank: int, field_name: str) -> Shape:
    if len(shape) != rank:
        raise ValueError(f"op {op.name!r}: {field_name} must have {rank} dims, got {shape}")
    return shape


# Keyed by OpKind value (OpKind is a StrEnum, so members look up equal strings).
_SHAPE_CHECKS = {
    "input": _check_input,
    "conv2d": _check_conv,
    "matmul": _check_matmul,
    "elementwise": _check_elementwise,
    "softmax": _check_softmax,
    "norm": _check_norm,
    "pool": _check_pool,
    "embedding": _check_embedding,
    "concat": _check_concat,
    "reshape": _check_reshape,
}
