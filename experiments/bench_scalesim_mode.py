"""Benchmark the SCALE-Sim mode kernel against SCALE-Sim's recorded wall time.

Measures, for every ResNet-50 conv layer (SCALE-Sim's shipped topology, read from
``tests/fixtures/scalesim_reference.csv``) on a 128x128 output-stationary array:

* the first call in a fresh process with an empty Numba cache (compile time included),
* the first call in a fresh process with the cache warm,
* the steady-state time of all layers, compiled kernel and plain-Python reference
  (the reference is the baseline measured in the same run),
* a sweep of 1,000 array shapes x 3 dataflows per layer in one kernel call each.

The SCALE-Sim figure is the full-run wall time recorded in ``experiments/scalesim_timing.md``
(pass ``--scalesim-s`` to use another figure).

    python experiments/bench_scalesim_mode.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from accelerators.systolic._scalesim import (
    ScaleSimLayer,
    scalesim_layer_reference,
    scalesim_sweep,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "scalesim_reference.csv"
LAYER_COLUMNS = ["ifmap_h", "ifmap_w", "filt_h", "filt_w", "channels", "num_filters", "stride"]
SCALESIM_RESNET50_128_OS_S = 212.8  # recorded in experiments/scalesim_timing.md

FIRST_CALL = """
import time
start = time.perf_counter()
from accelerators.systolic._scalesim import ScaleSimLayer, scalesim_sweep
imported = time.perf_counter()
scalesim_sweep(ScaleSimLayer.from_gemm(64, 64, 64), 128, 128, "os")
print(imported - start, time.perf_counter() - imported)
"""


def resnet50_layers() -> list[ScaleSimLayer]:
    """The 53 ResNet-50 conv layers of the golden table, in network order."""
    frame = pd.read_csv(FIXTURE)
    frame = frame[frame["workload"] == "resnet50"].drop_duplicates("layer")
    return [ScaleSimLayer(**{c: int(row[c]) for c in LAYER_COLUMNS})
            for _, row in frame.iterrows()]


def first_call_s(cache_dir: str) -> tuple[float, float]:
    """Import time and first-call time of the kernel in a fresh interpreter."""
    env = os.environ | {"NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def best_of(repeats: int, func) -> float:
    """Fastest wall time of ``repeats`` calls of ``func``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scalesim-s", type=float, default=SCALESIM_RESNET50_128_OS_S,
                        help="SCALE-Sim wall time for ResNet-50 on 128x128 OS, seconds")
    args = parser.parse_args()
    layers = resnet50_layers()
    with tempfile.TemporaryDirectory() as cache:
        import_s, cold_s = first_call_s(cache)
        _, warm_s = first_call_s(cache)
    print(f"import {import_s * 1e3:.0f} ms; first call: empty cache {cold_s:.2f} s "
          f"(compile), warm cache {warm_s * 1e3:.1f} ms")

    def kernel() -> None:
        for layer in layers:
            scalesim_sweep(layer, 128, 128, "os")

    def reference() -> None:
        for layer in layers:
            scalesim_layer_reference(layer, 128, 128, "os")

    kernel()
    kernel_s, reference_s = best_of(20, kernel), best_of(3, reference)
    print(f"ResNet-50 ({len(layers)} layers), 128x128 OS: kernel {kernel_s * 1e3:.2f} ms, "
          f"plain reference {reference_s * 1e3:.1f} ms (x{reference_s / kernel_s:.0f})")
    if args.scalesim_s > 0:
        print(f"SCALE-Sim 3.0.0 full run {args.scalesim_s:.0f} s: kernel is "
              f"x{args.scalesim_s / kernel_s:,.0f} faster")

    rng = np.random.default_rng(0)
    rows, cols = rng.integers(1, 257, 1000), rng.integers(1, 257, 1000)
    flows = np.repeat(np.arange(3), 1000)

    def sweep() -> None:
        for layer in layers:
            scalesim_sweep(layer, np.tile(rows, 3), np.tile(cols, 3), flows)

    sweep_s = best_of(5, sweep)
    points = len(layers) * 3000
    print(f"sweep: {points} layer-design points in {sweep_s * 1e3:.1f} ms "
          f"({sweep_s / points * 1e9:.0f} ns per point)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
