"""Binary floating-point formats and their exact round-to-nearest-even emulation.

fp8_e4m3 follows the OCP/NVIDIA definition (bias 7, no infinity, largest finite 448);
fp8_e5m2 is IEEE-like (bias 15, largest finite 57344). Rounding keeps subnormals and
saturates beyond the largest finite magnitude (no overflow to infinity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class FloatFormat:
    """A binary floating-point format: sign bit, exponent and mantissa fields.

    Attributes
    ----------
    name : str
        Format name, e.g. ``"fp8_e4m3"``.
    exp_bits, man_bits : int
        Widths of the exponent and (stored) mantissa fields.
    bias : int
        Exponent bias.
    max_finite : float
        Largest finite magnitude.
    """

    name: str
    exp_bits: int
    man_bits: int
    bias: int
    max_finite: float

    @property
    def bits(self) -> int:
        """Storage bits per element."""
        return 1 + self.exp_bits + self.man_bits

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number (subnormals share it)."""
        return 1 - self.bias


FLOAT_FORMATS = {
    f.name: f
    for f in (
        FloatFormat(name="fp32", exp_bits=8, man_bits=23, bias=127,
                    max_finite=float(np.finfo(np.float32).max)),
        FloatFormat(name="fp16", exp_bits=5, man_bits=10, bias=15, max_finite=65504.0),
        FloatFormat(name="bf16", exp_bits=8, man_bits=7, bias=127,
                    max_finite=(2.0 - 2.0**-7) * 2.0**127),
        FloatFormat(name="fp8_e4m3", exp_bits=4, man_bits=3, bias=7, max_finite=448.0),
        FloatFormat(name="fp8_e5m2", exp_bits=5, man_bits=2, bias=15, max_finite=57344.0),
    )
}


def round_to_format(x: np.ndarray, f: FloatFormat) -> np.ndarray:
    """``x`` rounded to nearest even in format ``f`` with subnormals and saturation."""
    y = np.clip(x, -f.max_finite, f.max_finite)
    if f.name == "fp16":
        return y.astype(np.float16).astype(x.dtype)
    _, e = np.frexp(y)
    quantum_exp = np.maximum(e - 1, f.emin) - f.man_bits
    y = np.ldexp(y, -quantum_exp)
    np.rint(y, out=y)
    return np.ldexp(y, quantum_exp)


def encode_float(values: np.ndarray, f: FloatFormat) -> np.ndarray:
    """Bit patterns of ``values``, which must be exactly representable in ``f``."""
    if f.name == "fp16":
        return values.astype(np.float16).view(np.uint16)
    code_dtype = {8: np.uint8, 16: np.uint16, 32: np.uint32}[f.bits]
    mag = np.abs(values)
    _, e = np.frexp(mag)
    e = np.maximum(e - 1, f.emin)
    normal = mag >= 2.0**f.emin
    mantissa = np.ldexp(mag, f.man_bits - e).astype(np.int64)
    mantissa -= normal.astype(np.int64) << f.man_bits
    exponent = np.where(normal, e + f.bias, 0).astype(np.int64)
    sign = np.signbit(values).astype(np.int64)
    codes = (sign << (f.exp_bits + f.man_bits)) | (exponent << f.man_bits) | mantissa
    return codes.astype(code_dtype)
