"""The systolic-array design: a frozen, keyword-only ``SystolicConfig`` that costs ops.

The config is the accelerator: ``op_cost(op)`` evaluates an op against it (see
``accelerators.systolic.model``), ``area_mm2`` and ``static_power_w`` come from
``accelerators.systolic.physical``, and ``resources()`` describes the engines the
discrete-event simulator builds: the MAC array ("array") and the vector unit ("vector").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

from accelerators.systolic import physical
from accelerators.systolic.formats import parse_formats
from accelerators.systolic.model import VECTOR_KINDS, op_cost
from hwsim.accelerator import EngineSpec, OpCost, Resources
from hwsim.graph import Op, OpKind
from hwsim.tech import DRAM_TYPES, Technology
from hwsim.units import GB, MIB

__all__ = ["Dataflow", "Mode", "SystolicConfig", "parse_nm_sparsity"]


class Dataflow(StrEnum):
    """Which GEMM operand stays in the PEs: outputs, weights or inputs."""

    OS = "os"
    WS = "ws"
    IS = "is"


class Mode(StrEnum):
    """Fidelity of the cost model: this package's realistic model or SCALE-Sim's counts."""

    REALISTIC = "realistic"
    SCALESIM = "scalesim"


def _fail(name: str, rule: str, value: object) -> ValueError:
    return ValueError(f"{name} must be {rule}, got {value!r}")


def _check_int(name: str, value: object, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(name, f"an integer >= {low}", value)


def _check_number(name: str, value: object, low: float, high: float = float("inf"), *,
                  low_open: bool = True) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and math.isfinite(value)  # type: ignore[arg-type]
    ok = ok and (low < value if low_open else low <= value) and value <= high  # type: ignore
    if not ok:
        bracket = "(" if low_open else "["
        upper = "inf)" if high == float("inf") else f"{high:g}]"
        raise _fail(name, f"a number in {bracket}{low:g}, {upper}", value)


def parse_kinds(value: object) -> tuple[str, ...]:
    """Op kind names from a tuple or comma-separated text, validated against ``OpKind``."""
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, tuple | list):
        items = list(value)
    else:
        raise _fail("host_kinds", "op kind names (a tuple or comma-separated text)", value)
    kinds = tuple(str(k).strip().lower() for k in items if str(k).strip())
    allowed = [k.value for k in OpKind]
    for kind in kinds:
        if kind not in allowed:
            raise _fail("host_kinds entry", f"one of {', '.join(allowed)}", kind)
    return kinds


def parse_nm_sparsity(value: object) -> tuple[tuple[int, int], ...]:
    """Normalise N:M patterns given as pairs or text ``"2:4,1:4"`` (``""`` for none).

    Raises ``ValueError`` naming the entry unless each is integers ``1 <= n < m``.
    """
    if isinstance(value, str):
        items: list[Any] = [s.strip().split(":") for s in value.split(",") if s.strip()]
    else:
        items = [tuple(item) for item in value]  # type: ignore[attr-defined]
    out = []
    for item in items:
        try:
            n, m = (int(v) for v in item)
        except (TypeError, ValueError):
            raise _fail("nm_sparsity entry", "an 'n:m' pair of integers", item) from None
        if not 1 <= n < m:
            raise _fail("nm_sparsity entry", "integers 1 <= n < m", f"{n}:{m}")
        out.append((n, m))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, kw_only=True)
class SystolicConfig:
    """A TPU-style systolic array with three double-buffered SRAMs and a vector unit.

    Parameters
    ----------
    name : label of the design in tables and plots.
    rows, cols : PE array height and width.
    dataflow : "ws" (weights stay in the PEs), "os" (outputs) or "is" (inputs).
    ifmap_sram_bytes, filter_sram_bytes, ofmap_sram_bytes : capacities of the input,
        weight and output/accumulator buffers (each double-buffered: half holds the working
        set while the other half is filled).
    dram_bw_bytes_per_s, dram_type : off-chip bandwidth and memory type (one of
        ``hwsim.tech.DRAM_TYPES``; sets the energy per bit).
    freq_hz : clock frequency.
    formats : ``(label, multiplier)`` pairs of MAC formats and their throughput per PE
        (first = native format, see ``accelerators.systolic.formats``); also accepts text
        such as ``"int8:1,int4:2"``.
    nm_sparsity : N:M weight patterns the array skips, e.g. ``((2, 4),)`` or ``"2:4"``;
        supported with the weight-stationary dataflow only (as SCALE-Sim v3 models it).
    keep_activations_on_chip : whether an activation tensor of at most half the ifmap SRAM
        stays on chip between ops (a unified buffer, as in TPU v1) instead of going through
        DRAM; off, every op reads its inputs from and writes its output to DRAM.
    zero_gating : whether MACs with a zero operand are clock-gated (energy only).
    gated_mac_energy_fraction : energy of a gated MAC relative to a full one (0..1).
    vector_lanes : elements per cycle of the vector unit (elementwise, pool, softmax, norm).
    node_nm : technology node.
    mode : "realistic" (default) or "scalesim" (SCALE-Sim 3.0.0 cycle and SRAM counts).
    sram_word_bits : SRAM access width used for per-access energy.
    pe_area_factor : PE area over one bare MAC unit of the native format (forwarding and
        weight double-buffer registers, local wiring).
    area_overhead_fraction : share of the die outside the array, SRAMs and vector unit
        (control, host and DRAM interfaces, I/O), 0..1.
    idle_power_w : measured idle power of the chip, if known (W). The modelled static power
        is leakage only (no clock tree, PLLs, DRAM and host interfaces); when this is larger
        it is the static power instead. 0 (default): leakage only.
    host_kinds : op kinds the array does not run (``supports`` is False for them; in a
        ``hwsim.sim.System`` with a host they fall back to it), e.g. ``"embedding,softmax"``.
    """

    name: str = "systolic"
    rows: int = 128
    cols: int = 128
    dataflow: Dataflow = Dataflow.WS
    ifmap_sram_bytes: int = 4 * MIB
    filter_sram_bytes: int = 1 * MIB
    ofmap_sram_bytes: int = 2 * MIB
    dram_bw_bytes_per_s: float = 25.6 * GB
    dram_type: str = "lpddr4"
    freq_hz: float = 1e9
    formats: tuple[tuple[str, float], ...] = (("int8", 1.0),)
    nm_sparsity: tuple[tuple[int, int], ...] = ()
    keep_activations_on_chip: bool = False
    zero_gating: bool = True
    gated_mac_energy_fraction: float = 0.1
    vector_lanes: int = 128
    node_nm: float = 28.0
    mode: Mode = Mode.REALISTIC
    sram_word_bits: int = 64
    pe_area_factor: float = 2.0
    area_overhead_fraction: float = 0.35
    idle_power_w: float = 0.0
    host_kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise _fail("name", "a non-empty string", self.name)
        self._set_enum("dataflow", Dataflow)
        self._set_enum("mode", Mode)
        for name in ("rows", "cols", "ifmap_sram_bytes", "filter_sram_bytes",
                     "ofmap_sram_bytes", "vector_lanes", "sram_word_bits"):
            _check_int(name, getattr(self, name))
        _check_number("dram_bw_bytes_per_s", self.dram_bw_bytes_per_s, 0.0)
        _check_number("freq_hz", self.freq_hz, 0.0)
        _check_number("gated_mac_energy_fraction", self.gated_mac_energy_fraction, 0.0, 1.0,
                      low_open=False)
        _check_number("pe_area_factor", self.pe_area_factor, 0.0)
        _check_number("area_overhead_fraction", self.area_overhead_fraction, 0.0, 0.95,
                      low_open=False)
        _check_number("idle_power_w", self.idle_power_w, 0.0, low_open=False)
        self._check_memory_and_node()
        for name in ("zero_gating", "keep_activations_on_chip"):
            if not isinstance(getattr(self, name), bool):
                raise _fail(name, "a bool", getattr(self, name))
        object.__setattr__(self, "host_kinds", parse_kinds(self.host_kinds))
        object.__setattr__(self, "formats", parse_formats(self.formats))
        object.__setattr__(self, "nm_sparsity", parse_nm_sparsity(self.nm_sparsity))
        if self.nm_sparsity and self.dataflow is not Dataflow.WS:
            raise ValueError(f"nm_sparsity is supported only with dataflow 'ws', got dataflow "
                             f"{self.dataflow.value!r} with nm_sparsity {self.nm_sparsity}")

    def _set_enum(self, name: str, enum: type[StrEnum]) -> None:
        value = getattr(self, name)
        try:
            object.__setattr__(self, name, enum(str(value).lower()))
        except ValueError:
            allowed = ", ".join(repr(e.value) for e in enum)
            raise _fail(name, f"one of {allowed}", value) from None

    def _check_memory_and_node(self) -> None:
        if not isinstance(self.dram_type, str) or self.dram_type.lower() not in DRAM_TYPES:
            raise _fail("dram_type", f"one of {', '.join(DRAM_TYPES)}", self.dram_type)
        object.__setattr__(self, "dram_type", self.dram_type.lower())
        Technology(node_nm=self.node_nm)

    # ---- derived figures ----------------------------------------------------------------
    @cached_property
    def tech(self) -> Technology:
        """The technology node the design is built in."""
        return Technology(node_nm=self.node_nm)

    @cached_property
    def sram_energy(self) -> physical.SramEnergy:
        """Energy per byte read and written for each SRAM."""
        return physical.sram_energy(self, self._sram_capacities())

    @cached_property
    def dram_energy_per_byte_j(self) -> float:
        """Off-chip energy per byte moved."""
        return physical.dram_energy_per_byte_j(self.dram_type)

    @property
    def peak_macs_per_s(self) -> float:
        """MACs per second with every PE busy in the fastest supported format."""
        return self.rows * self.cols * self.freq_hz * max(m for _, m in self.formats)

    @property
    def onchip_bytes(self) -> int:
        """Total SRAM capacity (ifmap + filter + ofmap buffers)."""
        return self.ifmap_sram_bytes + self.filter_sram_bytes + self.ofmap_sram_bytes

    @property
    def dram_bw_bytes_per_cycle(self) -> float:
        """Off-chip bandwidth per clock cycle."""
        return self.dram_bw_bytes_per_s / self.freq_hz

    @property
    def area_mm2(self) -> float:
        """Die area: array, SRAMs and vector unit plus the control and I/O share."""
        return float(physical.area_mm2(self, rows=self.rows, cols=self.cols,
                                       sram_bytes=self._sram_capacities()))

    @property
    def static_power_w(self) -> float:
        """Leakage of the array, SRAMs and vector unit plus the control and I/O share, or
        ``idle_power_w`` when that is larger."""
        return float(physical.static_power_w(self, rows=self.rows, cols=self.cols,
                                             sram_bytes=self._sram_capacities()))

    def keeps_on_chip(self, activation_bytes: float) -> bool:
        """Whether an activation tensor of this size stays on chip between ops."""
        return self.keep_activations_on_chip and activation_bytes <= self.ifmap_sram_bytes / 2

    def _sram_capacities(self) -> tuple[int, int, int]:
        return self.ifmap_sram_bytes, self.filter_sram_bytes, self.ofmap_sram_bytes

    # ---- the accelerator protocol ---------------------------------------------------------
    def op_cost(self, op: Op) -> OpCost:
        """Cost of ``op`` run alone on this design (see ``accelerators.systolic.model``)."""
        return op_cost(self, op)

    def supports(self, op: Op) -> bool:
        """Every op kind but ``host_kinds`` runs here: MAC ops on the array, the rest on the
        vector unit."""
        return op.kind.value not in self.host_kinds

    def engine_for(self, op: Op) -> str:
        """"array" for convolutions and matmuls, "vector" for everything else."""
        return "vector" if op.kind in VECTOR_KINDS or op.macs == 0 else "array"

    def resources(self) -> Resources:
        """The MAC array and the vector unit, sharing one DRAM channel; double-buffered."""
        return Resources(engines=(EngineSpec(name="array"), EngineSpec(name="vector")),
                         dram_bw_bytes_per_s=self.dram_bw_bytes_per_s, double_buffered=True)
