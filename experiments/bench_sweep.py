"""Sweep speed: 10,000 systolic designs x ResNet-50 (int8), batched kernels vs one point at a time.

Both paths are measured in the same run. The batched path is the real sweep machinery
(`run_sweep` over a `CodesignProblem`, designs reaching the Numba kernels as arrays, on all
cores); the one-at-a-time path evaluates `analytic_report` per design (timed on a sample).
Run: python experiments/bench_sweep.py [--points 10000]
"""

import argparse
import dataclasses
import time

import numpy as np

from hwsim.accelerator import analytic_report
from hwsim.codesign import CodesignProblem
from hwsim.explore import ProcessExecutor, SerialExecutor, Space, run_sweep
from hwsim.explore.space import Choice


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--sample", type=int, default=100, help="points timed one at a time")
    args = ap.parse_args()
    problem = CodesignProblem(workload="resnet50", family="systolic", preset="tpu-v1",
                              plan={"defaults": {"weight_bits": 8, "act_bits": 8}},
                              quality="none")
    space = Space([Choice("rows", (16, 32, 64, 128, 256)), Choice("cols", (16, 32, 64, 128, 256)),
                   Choice("dataflow", ("os", "ws", "is")),
                   Choice("ifmap_sram_bytes", tuple(2**k for k in range(16, 26))),
                   Choice("filter_sram_bytes", tuple(2**k for k in range(14, 22))),
                   Choice("dram_bw_bytes_per_s", (10e9, 34e9, 100e9, 400e9))])
    designs = space.random(args.points, seed=0)
    problem.evaluate_batch(designs.head(2).to_dict("records"))  # compile and memoise the graph

    t = time.perf_counter()
    with SerialExecutor() as ex:
        serial = run_sweep(problem, designs, executor=ex, batch_size=args.points)
    batched_serial_s = time.perf_counter() - t
    t = time.perf_counter()
    with ProcessExecutor(workers=2) as ex:
        table = run_sweep(problem, designs, executor=ex, batch_size=args.points // 4)
    batched_s = time.perf_counter() - t

    graph, _ = problem._compressed(())
    base = problem.base_accelerator()
    sample = designs.head(args.sample).to_dict("records")
    t = time.perf_counter()
    single = [analytic_report(graph, dataclasses.replace(base, **d)).latency_s for d in sample]
    single_s = time.perf_counter() - t
    assert np.allclose(single, serial["latency_s"].to_numpy()[: args.sample], rtol=1e-9)
    assert (table["status"] == "ok").all()

    rate_single = args.sample / single_s
    print(f"{args.points} designs x ResNet-50 ({len(graph)} ops), int8, systolic family")
    print(f"batched, 1 process : {batched_serial_s:7.2f} s  {args.points / batched_serial_s:9.0f}"
          f" points/s")
    print(f"batched, 2 workers : {batched_s:7.2f} s  {args.points / batched_s:9.0f} points/s "
          f"(includes process start-up)")
    print(f"one at a time      : {single_s / args.sample * 1e3:7.2f} ms/point "
          f"{rate_single:9.0f} points/s (timed on {args.sample} points)")
    print(f"speedup of the batched path: {args.points / batched_serial_s / rate_single:.0f}x "
          f"(1 process), {args.points / batched_s / rate_single:.0f}x (2 workers)")


if __name__ == "__main__":
    main()
