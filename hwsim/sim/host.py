"""``HostStandIn``: a two-number host (FLOP/s and bytes/s) that runs any op.

It stands in for a host processor in heterogeneous systems until a real CPU model
(``accelerators.cpu``) takes its place; it implements the ``Accelerator`` protocol with a
roofline: an op takes ``max(flops / flops_per_s, bytes / bw_bytes_per_s)`` where bytes are
its inputs, weights and output at their precision. It ignores caches (every byte comes from
DRAM), vector widths, precision-dependent throughput and threading overheads.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.accelerator import EnergyBreakdown, EngineSpec, OpCost, Resources
from hwsim.graph import Op


@dataclass(frozen=True, kw_only=True)
class HostStandIn:
    """A host processor described by its throughput only.

    name : device name.
    flops_per_s : sustained arithmetic throughput, > 0.
    bw_bytes_per_s : sustained DRAM bandwidth, > 0.
    freq_hz : clock used to express times in cycles, > 0.
    static_power_w, area_mm2 : >= 0 (zero by default: a host is usually outside the budget).
    energy_j_per_flop, energy_j_per_byte : dynamic energy per FLOP and per DRAM byte, >= 0.
    """

    name: str = "host"
    flops_per_s: float = 1e11
    bw_bytes_per_s: float = 2e10
    freq_hz: float = 2.5e9
    static_power_w: float = 0.0
    area_mm2: float = 0.0
    energy_j_per_flop: float = 0.0
    energy_j_per_byte: float = 0.0

    def __post_init__(self) -> None:
        for name in ("flops_per_s", "bw_bytes_per_s", "freq_hz"):
            if not getattr(self, name) > 0:
                raise ValueError(f"HostStandIn.{name} must be > 0, got {getattr(self, name)}")
        for name in ("static_power_w", "area_mm2", "energy_j_per_flop", "energy_j_per_byte"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"HostStandIn.{name} must be >= 0, got {getattr(self, name)}")

    def op_cost(self, op: Op) -> OpCost:
        """Roofline cost of ``op``: compute and DRAM time overlap, the longer one shows."""
        read_bytes = op.input_bytes + op.weight_read_bytes
        compute_s = op.flops / self.flops_per_s
        memory_s = (read_bytes + op.output_bytes) / self.bw_bytes_per_s
        latency_s = max(compute_s, memory_s)
        return OpCost(
            latency_s=latency_s,
            cycles=latency_s * self.freq_hz,
            compute_cycles=compute_s * self.freq_hz,
            stall_cycles=(latency_s - compute_s) * self.freq_hz,
            dram_read_bytes=read_bytes,
            dram_write_bytes=op.output_bytes,
            macs_executed=op.macs,
            utilization=1.0 if op.flops else 0.0,
            energy=EnergyBreakdown(
                compute_j=op.flops * self.energy_j_per_flop,
                dram_j=(read_bytes + op.output_bytes) * self.energy_j_per_byte,
            ),
        )

    def supports(self, op: Op) -> bool:
        """A host runs every op."""
        return True

    def resources(self) -> Resources:
        """One engine, ``cpu``, and the DRAM channel."""
        return Resources(engines=(EngineSpec(name="cpu"),),
                         dram_bw_bytes_per_s=self.bw_bytes_per_s)

    def engine_for(self, op: Op) -> str:
        """Every op runs on ``cpu``."""
        return "cpu"
