"""Numeric formats and sparsity of an op: ``Precision`` and ``Sparsity``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NumberFormat(StrEnum):
    """How a tensor's values are encoded."""

    INT = "int"
    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8_E4M3 = "fp8_e4m3"
    FP8_E5M2 = "fp8_e5m2"

    @property
    def is_float(self) -> bool:
        """True for floating-point formats."""
        return self is not NumberFormat.INT

    @property
    def fixed_bits(self) -> int | None:
        """Bit width implied by a float format, or None for integers (any width)."""
        return _FLOAT_BITS.get(self)


_FLOAT_BITS = {
    NumberFormat.FP32: 32,
    NumberFormat.FP16: 16,
    NumberFormat.BF16: 16,
    NumberFormat.FP8_E4M3: 8,
    NumberFormat.FP8_E5M2: 8,
}


@dataclass(frozen=True, kw_only=True)
class Precision:
    """Bit widths and formats of an op's weights, activations and accumulator."""

    weight_bits: int = 32
    act_bits: int = 32
    acc_bits: int = 32
    weight_fmt: NumberFormat = NumberFormat.FP32
    act_fmt: NumberFormat = NumberFormat.FP32

    def __post_init__(self) -> None:
        for name in ("weight_bits", "act_bits", "acc_bits"):
            bits = getattr(self, name)
            if not isinstance(bits, int) or not 1 <= bits <= 32:
                raise ValueError(f"{name} must be an integer in 1..32, got {bits!r}")
        for fmt_name, bits_name in (("weight_fmt", "weight_bits"), ("act_fmt", "act_bits")):
            fmt = NumberFormat(getattr(self, fmt_name))
            object.__setattr__(self, fmt_name, fmt)
            if fmt.fixed_bits is not None and fmt.fixed_bits != getattr(self, bits_name):
                raise ValueError(
                    f"{bits_name} must be {fmt.fixed_bits} for {fmt_name}={fmt.value}, "
                    f"got {getattr(self, bits_name)}"
                )

    @classmethod
    def of(cls, name: str) -> Precision:
        """Precision from a short name: 'fp32', 'fp16', 'bf16', 'fp8_e4m3', 'int8', 'w4a8', ..."""
        key = name.lower()
        if key in {f.value for f in NumberFormat if f.is_float}:
            fmt = NumberFormat(key)
            bits = fmt.fixed_bits or 32
            acc = 32
            return cls(weight_bits=bits, act_bits=bits, acc_bits=acc, weight_fmt=fmt, act_fmt=fmt)
        if key.startswith("int") and key[3:].isdigit():
            bits = int(key[3:])
            return cls.integer(weight_bits=bits, act_bits=bits)
        if key.startswith("w") and "a" in key:
            w, a = key[1:].split("a", 1)
            if w.isdigit() and a.isdigit():
                return cls.integer(weight_bits=int(w), act_bits=int(a))
        raise ValueError(
            "precision must be one of fp32, fp16, bf16, fp8_e4m3, fp8_e5m2, intN or wNaM, "
            f"got {name!r}"
        )

    @classmethod
    def integer(cls, *, weight_bits: int, act_bits: int, acc_bits: int = 32) -> Precision:
        """Integer weights and activations with a (default 32-bit) integer accumulator."""
        return cls(
            weight_bits=weight_bits,
            act_bits=act_bits,
            acc_bits=acc_bits,
            weight_fmt=NumberFormat.INT,
            act_fmt=NumberFormat.INT,
        )

    @property
    def label(self) -> str:
        """Short human label such as 'fp32', 'int8' or 'w4a8'."""
        if self.weight_fmt is NumberFormat.INT and self.act_fmt is NumberFormat.INT:
            if self.weight_bits == self.act_bits:
                return f"int{self.weight_bits}"
            return f"w{self.weight_bits}a{self.act_bits}"
        if self.weight_fmt == self.act_fmt:
            return self.weight_fmt.value
        return f"{self.weight_fmt.value}/{self.act_fmt.value}"


class SparsityPattern(StrEnum):
    """How zeros are arranged in a weight tensor."""

    DENSE = "dense"
    UNSTRUCTURED = "unstructured"
    NM = "n:m"
    CHANNEL = "channel"


@dataclass(frozen=True, kw_only=True)
class Sparsity:
    """Fraction of nonzero weights and activations and the pattern of the weight zeros.

    ``n`` and ``m`` describe an N:M pattern (``n`` nonzeros in every ``m`` consecutive weights);
    they are ignored for other patterns.
    """

    weight_density: float = 1.0
    act_density: float = 1.0
    pattern: SparsityPattern = SparsityPattern.DENSE
    n: int = 0
    m: int = 0

    def __post_init__(self) -> None:
        for name in ("weight_density", "act_density"):
            d = getattr(self, name)
            if not isinstance(d, int | float) or not 0.0 < d <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {d!r}")
        object.__setattr__(self, "pattern", SparsityPattern(self.pattern))
        valid_nm = isinstance(self.n, int) and isinstance(self.m, int) and 1 <= self.n < self.m
        if self.pattern is SparsityPattern.NM and not valid_nm:
            raise ValueError(f"n:m sparsity needs integers 1 <= n < m, got n={self.n}, m={self.m}")

    @classmethod
    def n_m(cls, n: int, m: int, *, act_density: float = 1.0) -> Sparsity:
        """N:M structured weight sparsity (density n/m)."""
        return cls(
            weight_density=n / m,
            act_density=act_density,
            pattern=SparsityPattern.NM,
            n=n,
            m=m,
        )

    @property
    def is_dense(self) -> bool:
        """True when neither weights nor activations have zeros to exploit."""
        return self.weight_density == 1.0 and self.act_density == 1.0
