"""ResNet-50 on the systolic model: realistic vs SCALE-Sim mode, and how fast the model runs.

Prints

1. the mode-difference table: int8 ResNet-50 (batch 1, 224x224) on a 128x128 array (1 MiB
   per SRAM, 25.6 GB/s, 1 GHz), a 32x32 array (SCALE-Sim's 64 KiB SRAMs, 10 GB/s, 1 GHz) and
   the TPU v1 preset, every dataflow, both modes: MAC-layer compute and stall cycles,
   vector-unit cycles, total latency, energy and mean MAC utilisation;
2. the first call in a fresh process (Numba cache empty, then warm) and the steady-state time
   of one analytic ResNet-50 evaluation;
3. a vectorised sweep of N random designs (array shape, dataflow, SRAM sizes, bandwidth)
   over ResNet-50 in one ``evaluate_designs`` call, against a one-point-at-a-time loop of
   ``analytic_report`` measured in the same run (points per second and their ratio).

    python experiments/bench_systolic.py [--points 10000] [--loop-points 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from accelerators.systolic import TPU_V1, SystolicConfig, SystolicDesigns, evaluate_designs
from hwsim.accelerator import analytic_report
from hwsim.graph import Precision
from hwsim.units import GB, KIB, MIB
from workloads.zoo import resnet50

INT8 = Precision.integer(weight_bits=8, act_bits=8)
ARRAYS = {
    "128x128": SystolicConfig(rows=128, cols=128, ifmap_sram_bytes=1 * MIB,
                              filter_sram_bytes=1 * MIB, ofmap_sram_bytes=1 * MIB,
                              dram_bw_bytes_per_s=25.6 * GB, freq_hz=1e9),
    "32x32": SystolicConfig(rows=32, cols=32, ifmap_sram_bytes=64 * KIB,
                            filter_sram_bytes=64 * KIB, ofmap_sram_bytes=64 * KIB,
                            dram_bw_bytes_per_s=10 * GB, freq_hz=1e9),
    "tpu-v1": TPU_V1,
}
FIRST_CALL = (
    "import time; t = time.perf_counter(); "
    "from accelerators.systolic import SystolicConfig; "
    "from hwsim.accelerator import analytic_report; from hwsim.graph import Precision; "
    "from workloads.zoo import resnet50; "
    "g = resnet50().map_ops(lambda op: op.replace(precision=Precision.integer("
    "weight_bits=8, act_bits=8))); "
    "analytic_report(g, SystolicConfig()); print(time.perf_counter() - t)"
)


def resnet50_int8():
    """ResNet-50, batch 1, every op at int8."""
    return resnet50().map_ops(lambda op: op.replace(precision=INT8))


def mode_table(graph) -> pd.DataFrame:
    """One row per (array, dataflow, mode): cycles split, latency, energy, MAC utilisation."""
    rows = []
    for label, base in ARRAYS.items():
        for dataflow in ("ws", "os", "is"):
            for mode in ("realistic", "scalesim"):
                config = SystolicConfig(**{**_fields(base), "dataflow": dataflow, "mode": mode})
                rows.append({"array": label, "dataflow": dataflow, "mode": mode,
                             **_summary(analytic_report(graph, config))})
    return pd.DataFrame(rows)


def _fields(config: SystolicConfig) -> dict:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


def _summary(report) -> dict:
    per_op = report.per_op
    mac = per_op[per_op["engine"] == "array"]
    vec = per_op[per_op["engine"] == "vector"]
    weights = mac["compute_cycles"]
    return {
        "mac_compute_cycles": int(mac["compute_cycles"].sum()),
        "mac_stall_cycles": int(mac["stall_cycles"].sum()),
        "vector_cycles": int(vec["cycles"].sum()),
        "latency_ms": 1e3 * report.latency_s,
        "energy_mj": 1e3 * report.energy_j,
        "mac_util": float((mac["utilization"] * weights).sum() / weights.sum()),
    }


def first_call_s(cache_dir: str) -> float:
    """Seconds for imports plus one ResNet-50 evaluation in a fresh process."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    done = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, check=True,
                          capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def steady_state_s(graph, repeats: int = 20) -> float:
    """Median seconds of one analytic ResNet-50 evaluation after compilation."""
    config = SystolicConfig()
    analytic_report(graph, config)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        analytic_report(graph, config)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def random_designs(n: int, seed: int = 0) -> SystolicDesigns:
    """n random designs: 8..256 rows and columns, any dataflow, 16 KiB..8 MiB SRAMs."""
    rng = np.random.default_rng(seed)
    sram = lambda: 2 ** rng.integers(14, 24, n)  # noqa: E731
    return SystolicDesigns.from_arrays(
        SystolicConfig(), rows=rng.integers(8, 257, n), cols=rng.integers(8, 257, n),
        dataflow=rng.integers(0, 3, n), ifmap_sram_bytes=sram(), filter_sram_bytes=sram(),
        ofmap_sram_bytes=sram(), dram_bw_bytes_per_s=rng.uniform(5e9, 2e11, n))


def sweep_rates(graph, points: int, loop_points: int) -> dict[str, float]:
    """Points per second: one vectorised call against a loop of analytic reports."""
    designs = random_designs(points)
    evaluate_designs(graph, random_designs(4, seed=1))
    start = time.perf_counter()
    evaluate_designs(graph, designs)
    vector_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(loop_points):
        analytic_report(graph, designs.config(i))
    loop_s = time.perf_counter() - start
    return {"vector_s": vector_s, "vector_pts_per_s": points / vector_s,
            "loop_s": loop_s, "loop_pts_per_s": loop_points / loop_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--loop-points", type=int, default=200)
    args = parser.parse_args()
    graph = resnet50_int8()
    pd.set_option("display.width", 160)
    print("ResNet-50 int8, batch 1: realistic vs SCALE-Sim mode")
    print(mode_table(graph).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    with tempfile.TemporaryDirectory() as cache:
        cold, warm = first_call_s(cache), first_call_s(cache)
    steady = steady_state_s(graph)
    print(f"\nfirst call, empty Numba cache: {cold:.2f} s; warm cache: {warm:.2f} s")
    print(f"one ResNet-50 evaluation after compile: {1e3 * steady:.2f} ms "
          f"({len(graph)} ops)")
    r = sweep_rates(graph, args.points, args.loop_points)
    print(f"\nsweep of {args.points} designs x ResNet-50: {r['vector_s']:.3f} s, "
          f"{r['vector_pts_per_s']:,.0f} points/s")
    print(f"loop of {args.loop_points} analytic_report calls: {r['loop_s']:.3f} s, "
          f"{r['loop_pts_per_s']:,.0f} points/s")
    print(f"vectorised / loop: {r['vector_pts_per_s'] / r['loop_pts_per_s']:.0f}x")


if __name__ == "__main__":
    main()
