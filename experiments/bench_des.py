"""Benchmark the discrete-event simulator against the analytic sum-of-ops path.

Measured in one run, on the TPU v1 preset (``accelerators.systolic.TPU_V1``):

* ResNet-50, batch 1: ``analytic_report`` (the baseline), ``simulate`` (full report with
  per-op table and timeline) and ``simulate_totals`` (no tables); best of ``--repeats``.
* 10,000 Poisson requests served with dynamic batching: first call (costs every batch size
  that occurs) and a second call reusing the costed batch sizes.

(The TPU paper's capacity question, MLP0 under a 7 ms p99 bound, is
``experiments/tpu_v1_mlp0.py``.)

    python experiments/bench_des.py [--repeats 5] [--requests 10000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from accelerators.systolic import TPU_V1
from hwsim.accelerator import (
    Accelerator,
    analytic_report,
)
from hwsim.graph import Graph, Precision
from hwsim.sim import (
    BatchPolicy,
    PoissonArrivals,
    ServiceTimes,
    simulate,
    simulate_totals,
)
from hwsim.sim.serve import serve_with
from workloads import zoo


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args()
    acc = TPU_V1
    bench_single(acc, args.repeats)
    bench_serving(acc, args.requests)


if __name__ == "__main__":
    main()
