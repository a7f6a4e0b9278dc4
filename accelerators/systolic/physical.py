"""Energy per action, area and leakage of a systolic design, from ``hwsim.tech``.

Every function takes the design's ``SystolicConfig`` for its fixed choices (node, formats,
factors) and, where a sweep varies them, array sizes and SRAM capacities as scalars or NumPy
arrays (they broadcast), so one implementation serves ``op_cost`` and the vectorised sweep.

Area: ``rows * cols`` PEs of ``pe_area_factor`` native-format MAC units, the three SRAMs, and
``vector_lanes`` 32-bit MAC units of the native kind (int32, or fp32 for a float native
format), all over ``1 - area_overhead_fraction`` for control, host and DRAM interfaces and
I/O. Leakage follows the same parts and the same overhead share; a measured
``idle_power_w`` above it replaces it as the static power.
SRAM access energy is that of one half of each double-buffered SRAM (the half an access
hits), per ``sram_word_bits`` word, spread over the word's bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from accelerators.systolic.formats import FormatSpec, spec_of
from hwsim.numerics import Precision
from hwsim.tech import Technology, dram_energy_per_bit_j

if TYPE_CHECKING:
    from accelerators.systolic.config import SystolicConfig

__all__ = [
    "SramEnergy", "area_mm2", "dram_energy_per_byte_j", "mac_energy_j", "sram_energy",
    "static_power_w", "vector_op_energy_j",
]

_TECH_FLOAT = {"fp8": "fp8_e4m3"}


def _tech_fmt(spec: FormatSpec) -> str | None:
    return _TECH_FLOAT.get(spec.label, spec.label) if spec.floating else None


def _mac_kwargs(spec: FormatSpec) -> dict[str, Any]:
    fmt = _tech_fmt(spec)
    return {"weight_bits": spec.bits, "act_bits": spec.bits, "floating": spec.floating,
            "weight_fmt": fmt, "act_fmt": fmt}


def _acc_bits(spec: FormatSpec, acc_bits: int) -> int:
    """Accumulator width the tech tables accept: fp32 (or fp16) for floats, as given for ints."""
    if spec.floating:
        return 32 if acc_bits > 16 else 16
    return acc_bits


def mac_energy_j(tech: Technology, spec: FormatSpec, acc_bits: int) -> float:
    """Energy of one MAC in the format ``spec`` accumulating at ``acc_bits``."""
    return tech.mac_energy_j(acc_bits=_acc_bits(spec, acc_bits), **_mac_kwargs(spec))


def vector_op_energy_j(tech: Technology, precision: Precision) -> float:
    """Energy of one vector-unit operation: an add at the op's activation format."""
    fmt = precision.act_fmt
    if fmt.is_float:
        return tech.add_energy_j(bits=precision.act_bits, floating=True, fmt=fmt.value)
    return tech.add_energy_j(bits=precision.act_bits, floating=False)


def dram_energy_per_byte_j(dram_type: str) -> float:
    """Off-chip energy per byte moved."""
    return 8.0 * dram_energy_per_bit_j(dram_type)


@dataclass(frozen=True)
class SramEnergy:
    """Energy per byte read and written for the ifmap, filter and ofmap SRAMs (J/byte).

    Each field is a float, or an array of shape (n,) for a sweep of n design points.
    """

    ifmap_read: Any
    ifmap_write: Any
    filter_read: Any
    filter_write: Any
    ofmap_read: Any
    ofmap_write: Any


def sram_energy(config: SystolicConfig, sram_bytes: Sequence[Any]) -> SramEnergy:
    """Per-byte access energies of the three SRAMs of capacities ``sram_bytes``."""
    tech, word = config.tech, config.sram_word_bits
    values = []
    for cap in sram_bytes:
        half = np.asarray(cap, dtype=np.float64) / 2.0
        read = tech.sram_read_energy_j(capacity_bytes=half, word_bits=word) / (word / 8.0)
        write = tech.sram_write_energy_j(capacity_bytes=half, word_bits=word) / (word / 8.0)
        values += [read, write]
    return SramEnergy(*values)


def _native(config: SystolicConfig) -> FormatSpec:
    return spec_of(config.formats[0][0])


def _lane_kwargs(config: SystolicConfig) -> dict[str, Any]:
    floating = _native(config).floating
    return {"weight_bits": 32, "act_bits": 32, "floating": floating, "acc_bits": 32}


def _chip_total(config: SystolicConfig, mac_cost: Any, sram_cost: Any, *, rows: Any,
                cols: Any, sram_bytes: Sequence[Any]) -> Any:
    """A per-MAC and per-SRAM quantity (area or leakage) summed over the chip: PEs, SRAMs
    and vector lanes, grossed up for the share outside them."""
    pe = mac_cost(**_mac_kwargs(_native(config))) * config.pe_area_factor
    lane = mac_cost(**_lane_kwargs(config)) * config.pe_area_factor
    sram = sum(sram_cost(capacity_bytes=np.asarray(c, np.float64)) for c in sram_bytes)
    core = np.asarray(rows) * np.asarray(cols) * pe + sram + config.vector_lanes * lane
    return core / (1.0 - config.area_overhead_fraction)


def area_mm2(config: SystolicConfig, *, rows: Any, cols: Any, sram_bytes: Sequence[Any]) -> Any:
    """Die area in mm^2 (float, or array for array inputs)."""
    tech = config.tech
    return _chip_total(config, tech.mac_area_mm2, tech.sram_area_mm2, rows=rows, cols=cols,
                       sram_bytes=sram_bytes)


def static_power_w(config: SystolicConfig, *, rows: Any, cols: Any,
                   sram_bytes: Sequence[Any]) -> Any:
    """Static power in watts: leakage, or ``idle_power_w`` when larger (float, or array for
    array inputs)."""
    tech = config.tech
    leakage = _chip_total(config, tech.mac_leakage_w, tech.sram_leakage_w, rows=rows,
                          cols=cols, sram_bytes=sram_bytes)
    return np.maximum(leakage, config.idle_power_w)


def area_breakdown_mm2(config: SystolicConfig) -> dict[str, float]:
    """Area of each part of one design: array, each SRAM, vector unit, overhead, total."""
    tech = config.tech
    parts = {
        "array": config.rows * config.cols * config.pe_area_factor
        * tech.mac_area_mm2(**_mac_kwargs(_native(config))),
        "ifmap_sram": tech.sram_area_mm2(capacity_bytes=float(config.ifmap_sram_bytes)),
        "filter_sram": tech.sram_area_mm2(capacity_bytes=float(config.filter_sram_bytes)),
        "ofmap_sram": tech.sram_area_mm2(capacity_bytes=float(config.ofmap_sram_bytes)),
        "vector": config.vector_lanes * config.pe_area_factor
        * tech.mac_area_mm2(**_lane_kwargs(config)),
    }
    core = sum(parts.values())
    parts["overhead"] = core / (1.0 - config.area_overhead_fraction) - core
    parts["total"] = core + parts["overhead"]
    return {k: float(v) for k, v in parts.items()}
