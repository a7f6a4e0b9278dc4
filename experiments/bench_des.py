"""Benchmark the discrete-event simulator against the analytic sum-of-ops path.

Measured in one run, on the same accelerator (``accelerators.systolic.TPU_V1`` when that
preset is importable, else the TPU-v1-like roofline stand-in defined here):

* ResNet-50, batch 1: ``analytic_report`` (the baseline), ``simulate`` (full report with
  per-op table and timeline) and ``simulate_totals`` (no tables); best of ``--repeats``.
* 10,000 Poisson requests served with dynamic batching: first call (costs every batch size
  that occurs) and a second call reusing the costed batch sizes.
* Capacity example: the TPU paper's MLP0 (5 fully connected layers, 20 M int8 weights)
  at a 7 ms p99 bound, printed next to the published 225,000 inferences/s (Jouppi et al.,
  ISCA 2017, Table 4).

    python experiments/bench_des.py [--repeats 5] [--requests 10000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hwsim.accelerator import (
    Accelerator,
    EnergyBreakdown,
    EngineSpec,
    OpCost,
    Resources,
    analytic_report,
)
from hwsim.graph import Graph, Op, Precision
from hwsim.sim import (
    BatchPolicy,
    PoissonArrivals,
    ServiceTimes,
    max_throughput_under,
    simulate,
    simulate_totals,
)
from hwsim.sim.serve import serve_with
from workloads import zoo

TPU_V1_MLP0_IPS_AT_7MS = 225_000  # Jouppi et al. 2017, Table 4


@dataclass(frozen=True, kw_only=True)
class RooflineStandIn:
    """TPU-v1-like roofline: 65,536 int8 MACs at 700 MHz, 34 GB/s DDR3, weights from DRAM,
    activations kept on chip; non-MAC ops on a 256-lane vector unit."""

    name: str = "tpu_v1_roofline"
    freq_hz: float = 700e6
    macs_per_cycle: int = 256 * 256
    vector_lanes: int = 256
    dram_bw_bytes_per_s: float = 34e9
    area_mm2: float = 331.0
    static_power_w: float = 28.0

    def op_cost(self, op: Op) -> OpCost:
        per_cycle = self.macs_per_cycle if op.macs else self.vector_lanes
        compute_cycles = (op.macs or op.flops) / per_cycle
        memory_cycles = op.weight_bytes / self.dram_bw_bytes_per_s * self.freq_hz
        cycles = max(compute_cycles, memory_cycles)
        return OpCost(latency_s=cycles / self.freq_hz, cycles=cycles,
                      compute_cycles=compute_cycles, stall_cycles=cycles - compute_cycles,
                      dram_read_bytes=op.weight_bytes, macs_executed=op.macs,
                      energy=EnergyBreakdown(compute_j=op.macs * 0.3e-12,
                                             dram_j=op.weight_bytes * 20e-12))

    def supports(self, op: Op) -> bool:
        return True

    def resources(self) -> Resources:
        return Resources(engines=(EngineSpec(name="mxu"), EngineSpec(name="vector")),
                         dram_bw_bytes_per_s=self.dram_bw_bytes_per_s)

    def engine_for(self, op: Op) -> str:
        return "mxu" if op.macs else "vector"


def accelerator() -> Accelerator:
    """The TPU v1 preset if available, else the stand-in."""
    try:
        from accelerators.systolic import TPU_V1  # type: ignore[attr-defined]
    except ImportError:
        return RooflineStandIn()
    return TPU_V1


def int8(graph: Graph) -> Graph:
    """The graph with int8 weights and activations."""
    precision = Precision.of("int8")
    return graph.map_ops(lambda op: op.replace(precision=precision))


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    """Fastest wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_single(acc: Accelerator, repeats: int) -> None:
    graph = int8(zoo.resnet50(batch=1))
    simulate(graph, acc)  # warm imports and caches
    base = best_of(lambda: analytic_report(graph, acc), repeats)
    full = best_of(lambda: simulate(graph, acc), repeats)
    totals = best_of(lambda: simulate_totals(graph, acc), repeats)
    report, ref = simulate(graph, acc), analytic_report(graph, acc)
    print(f"ResNet-50 ({len(graph)} ops) on {acc.name}")
    print(f"  analytic_report      {base * 1e3:8.2f} ms   latency {ref.latency_s * 1e3:.3f} ms")
    print(f"  simulate (report)    {full * 1e3:8.2f} ms   latency {report.latency_s * 1e3:.3f} ms"
          f"   ratio {full / base:5.1f}x")
    print(f"  simulate_totals      {totals * 1e3:8.2f} ms   ratio {totals / base:5.1f}x")


def bench_serving(acc: Accelerator, n: int) -> None:
    def build(batch: int) -> Graph:
        return int8(zoo.resnet50(batch=batch))

    service = ServiceTimes(build, acc)
    policy = BatchPolicy(max_batch=8, max_wait_s=2e-3)
    rate = 0.7 * 8 / service(8).latency_s
    arrivals = PoissonArrivals(rate_per_s=rate, n=n, seed=0)
    start = time.perf_counter()
    fresh = ServiceTimes(build, acc)
    result = serve_with(fresh, arrivals=arrivals, policy=policy)
    cold = time.perf_counter() - start
    warm = best_of(lambda: serve_with(fresh, arrivals=arrivals, policy=policy), 3)
    print(f"Serving {n} ResNet-50 requests at {rate:,.0f}/s, max_batch 8")
    print(f"  first call (costs batch sizes) {cold:6.3f} s   repeat {warm * 1e3:7.2f} ms"
          f"   p99 {result.latency_p99_s * 1e3:.2f} ms, {result.throughput_per_s:,.0f}/s")


def bench_capacity(acc: Accelerator) -> None:
    def build(batch: int) -> Graph:
        return int8(zoo.mlp(batch=batch, in_features=2000, hidden=2000, depth=4,
                            out_features=2000))

    policies = [BatchPolicy(max_batch=b, max_wait_s=2e-3) for b in (16, 64, 128, 200, 256)]
    start = time.perf_counter()
    capacity = max_throughput_under(build, acc, 7e-3, policies=policies, n=4000)
    elapsed = time.perf_counter() - start
    print("MLP0 (5 FC layers, 20 M int8 weights) at p99 <= 7 ms")
    print(capacity.candidates[["max_batch", "throughput_per_s", "latency_p99_s",
                               "mean_batch"]].to_string(index=False))
    print(f"  best {capacity.throughput_per_s:,.0f}/s with {capacity.policy}"
          f"  (published TPU v1: {TPU_V1_MLP0_IPS_AT_7MS:,}/s; ratio "
          f"{capacity.throughput_per_s / TPU_V1_MLP0_IPS_AT_7MS:.2f})   search {elapsed:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args()
    acc = accelerator()
    bench_single(acc, args.repeats)
    bench_serving(acc, args.requests)
    bench_capacity(acc)


if __name__ == "__main__":
    main()
