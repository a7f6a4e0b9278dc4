"""Energy, area and leakage per hardware action, scaled across technology nodes.

Every figure is anchored at 45 nm, 0.9 V (Horowitz, "Computing's energy problem", ISSCC 2014)
and moved to other nodes with the Stillmaker & Baas tables ("Scaling equations for the accurate
prediction of CMOS device performance from 180 nm to 7 nm", Integration 58, 2017), extended to
5 nm with TSMC's published N7 -> N5 figures (Yeap et al., IEDM 2019). Scaling is declared as a
table and interpolated log-log between nodes. Each constant names its source beside it;
docs/tech.md lists them all.

What this ignores: supply-voltage choice other than each node's nominal one, wire energy between
components, clock-tree and control energy, process corners and temperature. Off-chip DRAM
energy is the DRAM's own and is not node-scaled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DRAM_TYPES", "FLOAT_FORMATS", "NODE_AREA_SCALE", "NODE_ENERGY_SCALE", "FloatFormat",
    "Technology", "default_acc_bits", "dram_energy_per_bit_j",
]

_F = TypeVar("_F", float, NDArray[np.float64])
_PJ: Final = 1e-12
_UM2_PER_MM2: Final = 1e6


@dataclass(frozen=True, kw_only=True)
class FloatFormat:
    """A binary floating-point format: one sign bit, exponent bits and stored mantissa bits."""

    exp_bits: int
    man_bits: int

    @property
    def bits(self) -> int:
        """Total width in bits."""
        return 1 + self.exp_bits + self.man_bits


# IEEE 754 binary32/binary16, Google bfloat16, and the OCP 8-bit formats (OFP8, 2023).
FLOAT_FORMATS: Final[Mapping[str, FloatFormat]] = MappingProxyType({
    "fp32": FloatFormat(exp_bits=8, man_bits=23),
    "fp16": FloatFormat(exp_bits=5, man_bits=10),
    "bf16": FloatFormat(exp_bits=8, man_bits=7),
    "fp8_e4m3": FloatFormat(exp_bits=4, man_bits=3),
    "fp8_e5m2": FloatFormat(exp_bits=5, man_bits=2),
})
# Format used when only a width is given: the IEEE one, and E4M3 (the inference default) at 8.
_DEFAULT_FLOAT: Final = {32: "fp32", 16: "fp16", 8: "fp8_e4m3"}

_Operand = int | FloatFormat  # an integer operand is its width in bits


@dataclass(frozen=True)
class _PowerLaw:
    """y = y0 * (x / x0) ** exponent."""

    x0: float
    y0: float
    exponent: float

    @classmethod
    def fit(cls, x: tuple[float, ...], y: tuple[float, ...]) -> _PowerLaw:
        """Least-squares line in log-log space (exact through two points)."""
        slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
        y0 = math.exp(intercept + slope * math.log(x[0]))
        return cls(x0=x[0], y0=y0, exponent=float(slope))

    def __call__(self, x: Any) -> Any:
        return self.y0 * (np.asarray(x, dtype=np.float64) / self.x0) ** self.exponent


@dataclass(frozen=True)
class _ArithmeticFit:
    """Cost of adders and multipliers fitted through two anchors per unit (energy or area)."""

    int_mult: _PowerLaw  # against the product of the operand widths
    int_add: tuple[float, float]  # (cost at 0 bits, cost per bit): linear in width
    fp_mult: _PowerLaw  # significand multiplier, against the product of significand widths
    fp_exp_per_bit: float  # exponent adder, per exponent bit (the integer adder's per bit)
    fp_add: _PowerLaw  # against the total format width

    @classmethod
    def through(cls, *, int_mult: tuple[float, float], int_add: tuple[float, float],
                fp_mult: tuple[float, float], fp_add: tuple[float, float]) -> _ArithmeticFit:
        """Fit from (8-bit, 32-bit) integer and (fp16, fp32) float anchors."""
        per_bit = (int_add[1] - int_add[0]) / (32 - 8)
        fp16, fp32 = FLOAT_FORMATS["fp16"], FLOAT_FORMATS["fp32"]
        # A float multiplier is an integer multiplier of the significands plus an adder of the
        # exponents: the adder is charged at the integer adder's cost per bit and the rest of
        # each anchor is a power law in the significand product (1.1 pJ fp16 and 3.7 pJ fp32
        # give exponent 0.78). Fitting a free exponent-bit cost instead puts 0.1 pJ on each
        # exponent bit, 30x an adder bit, and makes bf16 dearer than fp16.
        sig = tuple(float((f.man_bits + 1) ** 2) for f in (fp16, fp32))
        rest = tuple(c - per_bit * f.exp_bits for c, f in zip(fp_mult, (fp16, fp32), strict=True))
        return cls(
            int_mult=_PowerLaw.fit((64.0, 1024.0), int_mult),
            int_add=(int_add[0] - 8 * per_bit, per_bit),
            fp_mult=_PowerLaw.fit(sig, rest),
            fp_exp_per_bit=per_bit,
            fp_add=_PowerLaw.fit((16.0, 32.0), fp_add),
        )

    def mult(self, w: _Operand, a: _Operand) -> float:
        """Multiplier cost for weight and activation operands (both int or both float)."""
        if isinstance(w, FloatFormat) and isinstance(a, FloatFormat):
            sig = (w.man_bits + 1) * (a.man_bits + 1)
            return float(self.fp_mult(sig)) + self.fp_exp_per_bit * max(w.exp_bits, a.exp_bits)
        return float(self.int_mult(_width(w) * _width(a)))

    def add(self, x: _Operand) -> float:
        """Adder cost at one operand format."""
        if isinstance(x, FloatFormat):
            return float(self.fp_add(x.bits))
        return self.int_add[0] + self.int_add[1] * x


def _width(x: _Operand) -> int:
    return x.bits if isinstance(x, FloatFormat) else x


# Energy per operation at 45 nm, 0.9 V, in pJ: Horowitz, ISSCC 2014, energy table.
_ENERGY_PJ: Final = _ArithmeticFit.through(
    int_mult=(0.2, 3.1),  # 8-bit and 32-bit integer multiply
    int_add=(0.03, 0.1),  # 8-bit and 32-bit integer add
    fp_mult=(1.1, 3.7),  # fp16 and fp32 multiply
    fp_add=(0.4, 0.9),  # fp16 and fp32 add
)
# Area per unit at 45 nm, in um^2: W. Dally, "High-Performance Hardware for Machine Learning",
# NIPS 2015 tutorial, energy/area table (same operations and process as Horowitz 2014).
_AREA_UM2: Final = _ArithmeticFit.through(
    int_mult=(282.0, 3495.0),
    int_add=(36.0, 137.0),
    fp_mult=(1640.0, 7700.0),
    fp_add=(1360.0, 4184.0),
)
# Pipeline register per bit, 40 nm commercial library: Aladdin (Shao et al., ISCA 2014),
# common/power_func.h, REG_*: area 5.98 um^2, dynamic energy 0.009 pJ per bit per access.
_REG_UM2_PER_BIT: Final = 5.98
_REG_PJ_PER_BIT: Final = 0.009
# Standard-cell placement density: assumption (typical 60-80% after place and route).
_CELL_UTILIZATION: Final = 0.7
# Logic leakage per um^2 of cell area: Aladdin power_func.h, 40 nm, mean of the 32-bit adder
# (2.38 uW / 179 um^2), 32-bit multiplier (48.2 uW / 4595 um^2) and register (0.074 / 5.98).
_LEAK_W_PER_UM2: Final = 1.21e-8

# SRAM read of a 64-bit word at 45 nm: Horowitz 2014 (8 KB: 10 pJ, 32 KB: 20 pJ, 1 MB: 100 pJ).
_SRAM_READ_64B_PJ: Final = _PowerLaw.fit((8192.0, 32768.0, 1048576.0), (10.0, 20.0, 100.0))
# Write / read energy: median of five CACTI 7 runs (128 B - 8 KB at 45 and 28 nm; ratios
# 1.20-2.20) tabulated in the DRAM_info survey repository (Dongyunkam/DRAM_info, section 5.2).
_SRAM_WRITE_OVER_READ: Final = 1.4
# SRAM area per bit incl. periphery, 45 nm: the Intel 45 nm 6T bitcell (0.346 um^2, Mistry et
# al., IEDM 2007) over an assumed 40% array efficiency. CACTI 7 gives 1.5-1.9 um^2/bit for
# 128-512 B arrays at 45 nm (periphery-dominated); large arrays approach the bitcell.
_SRAM_UM2_PER_BIT: Final = 0.346 / 0.4
# SRAM leakage per bit: estimate, the logic leakage density applied to the SRAM area. CACTI
# high-performance cells leak ~25x more; low-leakage cells can leak 10x less.
_SRAM_LEAK_W_PER_BIT: Final = _LEAK_W_PER_UM2 * _SRAM_UM2_PER_BIT


# Area relative to 45 nm: Stillmaker & Baas 2017, area scaling table (45 nm row).
# 5 nm: TSMC N5 has 1.84x the logic density of N7 (Yeap et al., IEDM 2019).
_AREA_VS_45: Final = {
    180: 19.0, 130: 6.4, 90: 2.8, 65: 1.5, 45: 1.0, 32: 0.46, 20: 0.21, 16: 0.19,
    14: 0.17, 10: 0.1, 7: 0.059, 5: 0.059 / 1.84,
}
# Energy fit E = a*V^2 + b*V + c per node and the supply it is evaluated at: Stillmaker & Baas
# 2017 energy coefficients (bulk 180-65 nm, PTM HP 45-7 nm) at the PTM nominal supply, except
# 45 nm at 0.9 V, the supply of the Horowitz figures every energy here is anchored on.
_ENERGY_FIT: Final = {
    180: (0.0, 24.64, -17.98, 1.8),
    130: (7.171, -6.709, 2.904, 1.3),
    90: (4.762, -4.781, 2.092, 1.2),
    65: (3.755, -4.398, 1.975, 1.1),
    45: (1.018, -0.3107, 0.1539, 0.9),
    32: (0.8367, -0.4341, 0.1701, 0.9),
    20: (0.373, -0.1582, 0.04104, 0.9),
    16: (0.2958, -0.1241, 0.03024, 0.85),
    14: (0.2363, -0.09675, 0.02239, 0.8),
    10: (0.2068, -0.09311, 0.02375, 0.75),
    7: (0.1776, -0.09097, 0.02447, 0.7),
}
# 5 nm: TSMC N5 draws 30% less power than N7 at the same speed (Yeap et al., IEDM 2019).
_N5_ENERGY_VS_N7: Final = 0.7


def _energy_table() -> dict[int, float]:
    raw = {n: a * v * v + b * v + c for n, (a, b, c, v) in _ENERGY_FIT.items()}
    raw[5] = raw[7] * _N5_ENERGY_VS_N7
    return {n: raw[n] / raw[45] for n in sorted(raw)}


NODE_ENERGY_SCALE: Final[Mapping[int, float]] = MappingProxyType(_energy_table())
NODE_AREA_SCALE: Final[Mapping[int, float]] = MappingProxyType(dict(sorted(_AREA_VS_45.items())))
_NODE_MIN_NM: Final = min(NODE_AREA_SCALE)
_NODE_MAX_NM: Final = max(NODE_AREA_SCALE)


def _interp_loglog(node_nm: float, table: Mapping[int, float]) -> float:
    """Scale factor at ``node_nm``, linear in log(factor) against log(node) between nodes."""
    nodes = np.log(np.fromiter(table.keys(), dtype=float))
    factors = np.log(np.fromiter(table.values(), dtype=float))
    return float(np.exp(np.interp(math.log(node_nm), nodes, factors)))


# Off-chip DRAM energy per bit transferred (access + I/O), in pJ. Not node-scaled.
_DRAM_PJ_PER_BIT: Final = {
    # Accelergy hwcomponents DRAM table ("public data").
    "lpddr4": 8.0,
    # Horowitz 2014: 1.3-2.6 nJ per 64-bit access; lower end, as in Han et al., NIPS 2015
    # (640 pJ per 32-bit DRAM access). Accelergy lists 70 pJ/bit incl. background power.
    "ddr3": 20.0,
    # Estimates: DDR3 scaled by the JEDEC supply squared, 1.5 V -> 1.2 V (DDR4), 1.1 V (DDR5).
    "ddr4": 20.0 * (1.2 / 1.5) ** 2,
    "ddr5": 20.0 * (1.1 / 1.5) ** 2,
    # Estimate: half of GDDR5's 14 pJ/bit (O'Connor et al., MICRO 2017).
    "gddr6": 7.0,
    # O'Connor et al., "Fine-grained DRAM", MICRO 2017.
    "hbm2": 3.9,
    # Estimates: HBM2 at the same 1.2 V supply (HBM2E), and scaled by (1.1 V / 1.2 V)^2 for
    # HBM3/HBM3E; the lower HBM3 I/O swing is not credited.
    "hbm2e": 3.9,
    "hbm3": 3.9 * (1.1 / 1.2) ** 2,
    "hbm3e": 3.9 * (1.1 / 1.2) ** 2,
}
DRAM_TYPES: Final[tuple[str, ...]] = tuple(_DRAM_PJ_PER_BIT)


def dram_energy_per_bit_j(dram_type: str) -> float:
    """Energy to move one bit to or from off-chip DRAM of a given type, in joules.

    Parameters
    ----------
    dram_type : one of ``DRAM_TYPES`` (case-insensitive), e.g. "hbm2" or "lpddr4".
    """
    key = dram_type.lower() if isinstance(dram_type, str) else dram_type
    if key not in _DRAM_PJ_PER_BIT:
        raise ValueError(f"dram_type must be one of {', '.join(DRAM_TYPES)}, got {dram_type!r}")
    return _DRAM_PJ_PER_BIT[key] * _PJ


def default_acc_bits(*, weight_bits: int, act_bits: int, floating: bool) -> int:
    """Accumulator width a MAC unit is built with when none is given.

    Floating point accumulates in fp32 (tensor cores, TPU). Integers keep the product width
    plus 8 guard bits, at least 32 (the int8 -> int32 convention) and at most 64.
    """
    if floating:
        return 32
    return min(64, max(32, weight_bits + act_bits + 8))


def _check_int_bits(value: object, name: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 1 <= value <= high:
        raise ValueError(f"{name} must be an integer in 1..{high}, got {value!r}")
    return int(value)


def _float_operand(bits: int, fmt: str | None, name: str) -> FloatFormat:
    if fmt is None:
        if bits not in _DEFAULT_FLOAT:
            raise ValueError(f"{name} must be 8, 16 or 32 for floating point, got {bits!r}")
        return FLOAT_FORMATS[_DEFAULT_FLOAT[bits]]
    if fmt not in FLOAT_FORMATS:
        allowed = ", ".join(FLOAT_FORMATS)
        raise ValueError(f"format of {name} must be one of {allowed}, got {fmt!r}")
    spec = FLOAT_FORMATS[fmt]
    if spec.bits != bits:
        raise ValueError(f"{name} must be {spec.bits} for format {fmt}, got {bits!r}")
    return spec


def _operand(bits: object, fmt: str | None, floating: bool, name: str, high: int = 32) -> _Operand:
    """Validated operand: an int width, or the float format it names or defaults to."""
    if not isinstance(floating, bool):
        raise ValueError(f"floating must be a bool, got {floating!r}")
    width = _check_int_bits(bits, name, high)
    if floating:
        return _float_operand(width, None if fmt is None else str(fmt), name)
    if fmt is not None and str(fmt) != "int":
        raise ValueError(f"format of {name} must be 'int' or None when floating=False, got {fmt!r}")
    return width


def _as_array(value: Any, name: str, low: float, strict: bool) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    bad = ~(arr > low) if strict else ~(arr >= low)
    if np.any(bad):
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise ValueError(f"{name} must be {bound}, got {float(arr[bad].flat[0])!r}")
    return arr


def _word_bits(value: Any) -> NDArray[np.float64]:
    arr = np.asarray(value)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 1):
        raise ValueError(f"word_bits must be an integer >= 1, got {value!r}")
    return arr.astype(np.float64)


def _like(values: NDArray[np.float64]) -> Any:
    """A Python float for a 0-d result, else the array."""
    return float(values) if values.ndim == 0 else values


@dataclass(frozen=True, kw_only=True)
class Technology:
    """A CMOS process node and the energy, area and leakage of actions built in it.

    Parameters
    ----------
    node_nm : feature size in nm, 5..180. Energies scale with ``energy_scale()``, areas with
        ``area_scale()``, leakage powers with ``energy_scale()`` (as Accelergy does).

    Floating-point operands are chosen by width (8 -> fp8_e4m3, 16 -> fp16, 32 -> fp32) unless
    ``weight_fmt`` / ``act_fmt`` name one of ``FLOAT_FORMATS`` (these match
    ``hwsim.numerics.NumberFormat`` values, so an op's precision formats pass straight in).
    """

    node_nm: float = 45.0
    _energy_scale: float = field(init=False, repr=False, compare=False)
    _area_scale: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        node = self.node_nm
        if isinstance(node, bool) or not isinstance(node, int | float | np.number) or not (
            _NODE_MIN_NM <= node <= _NODE_MAX_NM
        ):
            raise ValueError(
                f"node_nm must be a number in {_NODE_MIN_NM}..{_NODE_MAX_NM} nm, got {node!r}"
            )
        object.__setattr__(self, "_energy_scale", _interp_loglog(node, NODE_ENERGY_SCALE))
        object.__setattr__(self, "_area_scale", _interp_loglog(node, NODE_AREA_SCALE))

    def energy_scale(self) -> float:
        """Energy per operation at this node relative to 45 nm, 0.9 V."""
        return self._energy_scale

    def area_scale(self) -> float:
        """Area of a circuit at this node relative to 45 nm."""
        return self._area_scale

    def mult_energy_j(self, *, weight_bits: int, act_bits: int, floating: bool,
                      weight_fmt: str | None = None, act_fmt: str | None = None) -> float:
        """Energy of one multiply, in joules.

        Integer: power law in ``weight_bits * act_bits`` through Horowitz's 8- and 32-bit
        figures (exponent 0.99, i.e. quadratic in width). Float: an exponent adder (the integer
        adder's energy per bit) plus a power law in the product of the significand widths
        (exponent 0.78) through the fp16 and fp32 figures.
        """
        w = _operand(weight_bits, weight_fmt, floating, "weight_bits")
        a = _operand(act_bits, act_fmt, floating, "act_bits")
        return _ENERGY_PJ.mult(w, a) * _PJ * self._energy_scale

    def add_energy_j(self, *, bits: int, floating: bool, fmt: str | None = None) -> float:
        """Energy of one add, in joules: linear in width (int, 1..64 bits), power law (float)."""
        x = _operand(bits, fmt, floating, "bits", high=64)
        return _ENERGY_PJ.add(x) * _PJ * self._energy_scale

    def mac_energy_j(self, *, weight_bits: int, act_bits: int, acc_bits: int, floating: bool,
                     weight_fmt: str | None = None, act_fmt: str | None = None) -> float:
        """Energy of one multiply-accumulate (multiply + add at the accumulator width), in J."""
        mult = self.mult_energy_j(weight_bits=weight_bits, act_bits=act_bits, floating=floating,
                                  weight_fmt=weight_fmt, act_fmt=act_fmt)
        return mult + self.add_energy_j(bits=acc_bits, floating=floating)

    def mac_area_mm2(self, *, weight_bits: int, act_bits: int, floating: bool,
                     acc_bits: int | None = None, weight_fmt: str | None = None,
                     act_fmt: str | None = None) -> float:
        """Placed area of one MAC unit, in mm^2.

        The unit is a multiplier, an adder at the accumulator width, and registers for both
        operands and the accumulator, over a 70% standard-cell placement density.
        ``acc_bits`` defaults to ``default_acc_bits``.
        """
        cells = self._mac_cells_um2(weight_bits, act_bits, floating, acc_bits, weight_fmt, act_fmt)
        return cells / _CELL_UTILIZATION * self._area_scale / _UM2_PER_MM2

    def mac_leakage_w(self, *, weight_bits: int, act_bits: int, floating: bool,
                      acc_bits: int | None = None, weight_fmt: str | None = None,
                      act_fmt: str | None = None) -> float:
        """Leakage power of one MAC unit (cell area x 45 nm leakage density, scaled), in W."""
        cells = self._mac_cells_um2(weight_bits, act_bits, floating, acc_bits, weight_fmt, act_fmt)
        return cells * _LEAK_W_PER_UM2 * self._energy_scale

    def _mac_cells_um2(self, weight_bits: int, act_bits: int, floating: bool,
                       acc_bits: int | None, weight_fmt: str | None,
                       act_fmt: str | None) -> float:
        """Standard-cell area of one MAC unit at 45 nm, in um^2."""
        w = _operand(weight_bits, weight_fmt, floating, "weight_bits")
        a = _operand(act_bits, act_fmt, floating, "act_bits")
        if acc_bits is None:
            acc_bits = default_acc_bits(weight_bits=_width(w), act_bits=_width(a),
                                        floating=floating)
        acc = _operand(acc_bits, None, floating, "acc_bits", high=64)
        logic = _AREA_UM2.mult(w, a) + _AREA_UM2.add(acc)
        return logic + _REG_UM2_PER_BIT * (_width(w) + _width(a) + _width(acc))

    def sram_read_energy_j(self, *, capacity_bytes: _F, word_bits: int | NDArray[Any]) -> _F:
        """Energy to read one word from an SRAM array, in joules.

        Power law in capacity fitted to Horowitz's 8 KB / 32 KB / 1 MB 64-bit reads (exponent
        0.47, within 2% of each), linear in word width. Arrays of a few words cost at least a
        register read (0.009 pJ per bit at 45 nm). Accepts arrays; they broadcast.
        """
        cap = _as_array(capacity_bytes, "capacity_bytes", 0.0, strict=True)
        word = _word_bits(word_bits)
        pj = np.maximum(_SRAM_READ_64B_PJ(cap) * word / 64.0, _REG_PJ_PER_BIT * word)
        return cast(_F, _like(pj * _PJ * self._energy_scale))

    def sram_write_energy_j(self, *, capacity_bytes: _F, word_bits: int | NDArray[Any]) -> _F:
        """Energy to write one word to an SRAM array: 1.4x the read (CACTI 7 median), in J."""
        read = self.sram_read_energy_j(capacity_bytes=capacity_bytes, word_bits=word_bits)
        return cast(_F, read * _SRAM_WRITE_OVER_READ)

    def sram_leakage_w(self, *, capacity_bytes: _F) -> _F:
        """Leakage power of an SRAM array (estimate, see module constants), in watts."""
        cap = _as_array(capacity_bytes, "capacity_bytes", 0.0, strict=False)
        return cast(_F, _like(cap * 8.0 * _SRAM_LEAK_W_PER_BIT * self._energy_scale))

    def sram_area_mm2(self, *, capacity_bytes: _F) -> _F:
        """Area of an SRAM array including periphery, linear in capacity, in mm^2."""
        cap = _as_array(capacity_bytes, "capacity_bytes", 0.0, strict=False)
        return cast(_F, _like(cap * 8.0 * _SRAM_UM2_PER_BIT * self._area_scale / _UM2_PER_MM2))
