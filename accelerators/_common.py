"""Helpers shared by the CPU and GPU models: compute formats, field checks and energy.

The compute format is the arithmetic an op needs, read from its precision: integer ops by the
wider operand (``int4``, ``int8``, ``int16``), float ops by the widest float operand, and
weight-only quantization (integer weights, float activations) in the activation format.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from hwsim.accelerator import EnergyBreakdown
from hwsim.numerics import NumberFormat, Precision
from hwsim.tech import Technology, dram_energy_per_bit_j

#: Compute formats, narrowest first.
FORMATS = ("int4", "int8", "fp8", "fp16", "bf16", "int16", "fp32")

_FLOAT_FORMAT = {
    NumberFormat.FP32: "fp32",
    NumberFormat.FP16: "fp16",
    NumberFormat.BF16: "bf16",
    NumberFormat.FP8_E4M3: "fp8",
    NumberFormat.FP8_E5M2: "fp8",
}
_FLOAT_WIDTH = {"fp8": 8, "fp16": 16, "bf16": 16, "fp32": 32}


def compute_format(precision: Precision) -> str:
    """The arithmetic format an op with ``precision`` runs in (one of ``FORMATS``)."""
    w, a = precision.weight_fmt, precision.act_fmt
    if w is NumberFormat.INT and a is NumberFormat.INT:
        bits = max(precision.weight_bits, precision.act_bits)
        return "int4" if bits <= 4 else "int8" if bits <= 8 else "int16"
    floats = [_FLOAT_FORMAT[f] for f in (w, a) if f is not NumberFormat.INT]
    return max(floats, key=lambda f: (_FLOAT_WIDTH[f], f == "fp16"))


def resolve_format(fmt: str, rates: Mapping[str, float], fallback: Mapping[str, str]) -> str:
    """The first format along ``fallback`` from ``fmt`` whose rate is positive.

    Hardware without units for a narrow format computes it in a wider one it has (the
    narrow format then only saves bytes).
    """
    seen = fmt
    while rates.get(seen, 0.0) <= 0.0:
        if seen not in fallback:
            raise ValueError(f"no supported compute format for {fmt!r} (tried up to {seen!r})")
        seen = fallback[seen]
    return seen


def check_positive(obj: object, names: tuple[str, ...], *, allow_zero: bool = False) -> None:
    """Raise ``ValueError`` naming the first field of ``obj`` that is not a positive number."""
    for name in names:
        value = getattr(obj, name)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not (value >= 0 if allow_zero else value > 0):
            bound = ">= 0" if allow_zero else "> 0"
            raise ValueError(f"{name} must be a number {bound}, got {value!r}")


def check_int(obj: object, name: str, low: int) -> None:
    """Raise ``ValueError`` unless field ``name`` of ``obj`` is an integer >= ``low``."""
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def check_fraction(obj: object, names: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the first field of ``obj`` outside (0, 1]."""
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {value!r}")


@lru_cache(maxsize=256)
def mac_energy_j(tech: Technology, fmt: str) -> float:
    """Energy of one MAC in compute format ``fmt`` (the datapath's own, no overheads)."""
    if fmt.startswith("int"):
        bits = int(fmt[3:])
        return tech.mac_energy_j(weight_bits=bits, act_bits=bits, acc_bits=32, floating=False)
    name = "fp8_e4m3" if fmt == "fp8" else fmt
    bits = _FLOAT_WIDTH[fmt]
    return tech.mac_energy_j(weight_bits=bits, act_bits=bits, acc_bits=32, floating=True,
                             weight_fmt=name, act_fmt=name)


def overhead_mac_j(tech: Technology, *, fmt: str, ref_fmt: str, rates: Mapping[str, float],
                   overhead: float) -> float:
    """Energy around one MAC in ``fmt`` (instruction delivery, register files, control), in J.

    ``overhead - 1`` times the MAC energy of the reference format ``ref_fmt``, divided by how
    many times faster ``fmt`` runs than it (``rates``): a vector or tensor instruction that
    does more MACs in a narrow format costs about the same to deliver, so a busy datapath
    draws the same overhead power in every format. In ``ref_fmt`` a MAC costs ``overhead``
    times its own energy in all.
    """
    return (overhead - 1.0) * mac_energy_j(tech, ref_fmt) * rates[ref_fmt] / rates[fmt]


def action_energy(*, tech: Technology, mac_j: float, macs: float, overhead_j: float,
                  sram_bytes: float, sram_capacity_bytes: float, dram_bytes: float,
                  dram_type: str) -> EnergyBreakdown:
    """Dynamic energy of an op from per-action energies.

    compute: ``macs`` at ``mac_j`` plus ``overhead_j`` each (``overhead_mac_j``); sram:
    ``sram_bytes`` read from an array of ``sram_capacity_bytes`` in 64-bit words; dram:
    ``dram_bytes`` at the type's energy per bit.
    """
    word_j = _word_read_j(tech, max(sram_capacity_bytes, 8.0))
    return EnergyBreakdown(
        compute_j=macs * (mac_j + overhead_j),
        sram_j=sram_bytes / 8.0 * word_j,
        dram_j=dram_bytes * 8.0 * dram_energy_per_bit_j(dram_type),
    )


@lru_cache(maxsize=256)
def _word_read_j(tech: Technology, capacity_bytes: float) -> float:
    return float(tech.sram_read_energy_j(capacity_bytes=capacity_bytes, word_bits=64))


def cap_to_power(energy: EnergyBreakdown, *, latency_s: float, power_w: float) -> EnergyBreakdown:
    """``energy`` scaled down, if needed, so that it averages at most ``power_w`` over
    ``latency_s`` (a chip cannot draw more than its power limit: it throttles instead)."""
    budget = power_w * latency_s
    total = energy.total_j
    return energy.scaled(budget / total) if total > budget > 0 else energy
