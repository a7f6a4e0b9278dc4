"""Number formats a systolic array's MACs run, and which one executes a given op.

A design lists its formats as ``(label, multiplier)`` pairs: the MAC throughput of one PE in
that format relative to one MAC per cycle. The first pair is the PE's native format (it sets
the PE's area); the others reuse the same datapath (sub-word packing when the multiplier is
above 1, several passes when it is below 1).

An op's format is that of its operands: integer ``intB`` with ``B = max(weight_bits,
act_bits)``, otherwise the wider float format. It runs in the supported format that holds it
exactly with the highest throughput (ties: the narrowest); an integer fits a wider integer or a
float whose significand holds it, a float a wider float of at least its exponent range. When
no supported format holds it (fp32 on an int8 array) it runs in the widest supported format,
as if converted on the fly: the cost model does not requantise tensors, so bytes still follow
the op's own bit widths. Apply a compression plan to model a quantised deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.numerics import Precision

__all__ = ["FORMAT_LABELS", "FormatSpec", "executed_format", "op_format", "parse_formats"]


@dataclass(frozen=True)
class FormatSpec:
    """A MAC operand format: width, float or integer, significand and exponent bits."""

    label: str
    bits: int
    floating: bool
    significand_bits: int
    exp_bits: int = 0


_SPECS = (
    FormatSpec("int4", 4, False, 4),
    FormatSpec("int8", 8, False, 8),
    FormatSpec("int16", 16, False, 16),
    FormatSpec("fp8", 8, True, 4, 4),
    FormatSpec("fp8_e4m3", 8, True, 4, 4),
    FormatSpec("fp8_e5m2", 8, True, 3, 5),
    FormatSpec("fp16", 16, True, 11, 5),
    FormatSpec("bf16", 16, True, 8, 8),
    FormatSpec("fp32", 32, True, 24, 8),
)
_BY_LABEL = {spec.label: spec for spec in _SPECS}
FORMAT_LABELS: tuple[str, ...] = tuple(_BY_LABEL)
"""Format labels a design may list ("fp8" is E4M3)."""


def spec_of(label: str) -> FormatSpec:
    """The spec of a format label (raises ``ValueError`` listing the known labels)."""
    if label not in _BY_LABEL:
        raise ValueError(f"format must be one of {', '.join(FORMAT_LABELS)}, got {label!r}")
    return _BY_LABEL[label]


def _int_spec(bits: int) -> FormatSpec:
    return FormatSpec(f"int{bits}", bits, False, bits)


def op_format(precision: Precision) -> FormatSpec:
    """The format of an op's MAC operands (the wider of weights and activations)."""
    w_fmt, a_fmt = precision.weight_fmt, precision.act_fmt
    if not w_fmt.is_float and not a_fmt.is_float:
        return _int_spec(max(precision.weight_bits, precision.act_bits))
    floats = [f for f in (w_fmt, a_fmt) if f.is_float]
    widest = max(floats, key=lambda f: f.fixed_bits or 0)
    return _BY_LABEL[widest.value]


def holds(container: FormatSpec, value: FormatSpec) -> bool:
    """Whether every value of ``value``'s format is exact in ``container``'s format."""
    if not value.floating:
        return container.significand_bits >= value.significand_bits
    return (container.floating and container.significand_bits >= value.significand_bits
            and container.exp_bits >= value.exp_bits)


def executed_format(precision: Precision,
                    formats: tuple[tuple[str, float], ...]) -> tuple[FormatSpec, float]:
    """The supported format an op runs in and its MAC throughput multiplier.

    Parameters
    ----------
    precision : the op's precision.
    formats : the design's ``(label, multiplier)`` pairs (validated).
    """
    wanted = op_format(precision)
    fits = [(spec_of(label), mult) for label, mult in formats if holds(spec_of(label), wanted)]
    if fits:
        return max(fits, key=lambda fm: (fm[1], -fm[0].bits))
    return max(((spec_of(label), mult) for label, mult in formats),
               key=lambda fm: (fm[0].bits, fm[0].significand_bits))


def parse_formats(value: object) -> tuple[tuple[str, float], ...]:
    """Normalise formats given as pairs, a mapping or text ``"int8:1,int4:2"``.

    Raises ``ValueError`` naming the entry when a label is unknown, a multiplier is not a
    positive number, a label repeats, or nothing is given.
    """
    if isinstance(value, str):
        pairs = [_parse_pair(item) for item in value.split(",") if item.strip()]
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        pairs = [tuple(item) for item in value]  # type: ignore[attr-defined]
    out: list[tuple[str, float]] = []
    for pair in pairs:
        out.append(_check_pair(pair, {label for label, _ in out}))
    if not out:
        raise ValueError("formats must list at least one (label, multiplier) pair, got none")
    return tuple(out)


def _parse_pair(item: str) -> tuple[str, str]:
    label, sep, mult = item.strip().partition(":")
    if not sep:
        raise ValueError(f"formats entry must be 'label:multiplier', got {item.strip()!r}")
    return label.strip(), mult.strip()


def _check_pair(pair: tuple, seen: set[str]) -> tuple[str, float]:
    if len(pair) != 2:
        raise ValueError(f"formats entry must be a (label, multiplier) pair, got {pair!r}")
    label, mult = str(pair[0]).lower(), pair[1]
    spec_of(label)
    if label in seen:
        raise ValueError(f"formats lists {label!r} twice")
    try:
        value = float(mult)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(mult, bool) or not value > 0 or value == float("inf"):
        raise ValueError(f"formats multiplier of {label} must be a number > 0, got {mult!r}")
    return label, value
