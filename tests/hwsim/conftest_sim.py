"""Test doubles for the discrete-event simulator: a configurable roofline accelerator."""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.accelerator import EnergyBreakdown, EngineSpec, OpCost, Resources
from hwsim.graph import Graph, Op, OpKind


@dataclass(frozen=True, kw_only=True)
class RooflineAcc:
    """A roofline accelerator: MAC ops on ``mxu``, the rest on ``vector`` (or all on one).

    An op takes ``max(compute, memory) + overhead_s``; memory is inputs, weights and output
    at ``bw_bytes_per_s``; the excess of memory over compute is reported as stall cycles.
    """

    name: str = "roofline"
    macs_per_s: float = 1e12
    vector_flops_per_s: float = 1e11
    bw_bytes_per_s: float = 1e10
    freq_hz: float = 1e9
    overhead_s: float = 0.0
    area_mm2: float = 10.0
    static_power_w: float = 2.0
    engines: int = 1
    units: int = 1
    double_buffered: bool = True
    unsupported: frozenset[OpKind] = frozenset()
    j_per_mac: float = 1e-12
    j_per_byte: float = 1e-10

    def op_cost(self, op: Op) -> OpCost:
        compute_s = op.macs / self.macs_per_s if op.macs else op.flops / self.vector_flops_per_s
        read = op.input_bytes + op.weight_bytes
        memory_s = (read + op.output_bytes) / self.bw_bytes_per_s
        stall_s = max(memory_s - compute_s, 0.0)
        latency_s = compute_s + stall_s + self.overhead_s
        return OpCost(
            latency_s=latency_s, cycles=(compute_s + stall_s) * self.freq_hz,
            compute_cycles=compute_s * self.freq_hz, stall_cycles=stall_s * self.freq_hz,
            dram_read_bytes=read, dram_write_bytes=op.output_bytes, macs_executed=op.macs,
            utilization=1.0 if op.macs else 0.0,
            energy=EnergyBreakdown(compute_j=op.macs * self.j_per_mac,
                                   dram_j=(read + op.output_bytes) * self.j_per_byte),
        )

    def supports(self, op: Op) -> bool:
        return op.kind not in self.unsupported

    def resources(self) -> Resources:
        names = ("mxu",) if self.engines == 1 else ("mxu", "vector")
        return Resources(engines=tuple(EngineSpec(name=n, count=self.units) for n in names),
                         dram_bw_bytes_per_s=self.bw_bytes_per_s,
                         double_buffered=self.double_buffered)

    def engine_for(self, op: Op) -> str:
        return "mxu" if self.engines == 1 or op.macs else "vector"


def branches(width: int = 2, depth: int = 3, features: int = 256) -> Graph:
    """``width`` independent matmul chains from one input, summed at the end."""
    x = Op(name="x", kind=OpKind.INPUT, out_shape=(1, features))
    ops = [x]
    tails = []
    for b in range(width):
        prev = x
        for d in range(depth):
            prev = Op(name=f"b{b}.fc{d}", kind=OpKind.MATMUL, inputs=(prev.name,),
                      in_shapes=(prev.out_shape,), out_shape=(1, features),
                      weight_shape=(features, features))
            ops.append(prev)
        tails.append(prev)
    ops.append(Op(name="sum", kind=OpKind.ELEMENTWISE, func="add",
                  inputs=tuple(t.name for t in tails),
                  in_shapes=tuple(t.out_shape for t in tails), out_shape=(1, features)))
    return Graph(tuple(ops), name="branches")


def fc_gelu_chain(depth: int = 6, features: int = 512, batch: int = 8) -> Graph:
    """Alternating weight-heavy linear layers and weightless GELUs, one after another."""
    from workloads.builder import GraphBuilder

    b = GraphBuilder("fc_gelu")
    x = b.input((batch, features))
    for i in range(depth):
        x = b.elementwise("gelu", b.linear(x, features, bias=False, name=f"fc{i}"),
                          name=f"gelu{i}")
    return b.build()
