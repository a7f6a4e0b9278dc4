"""Host calibration: measure this machine and return a ``CPUConfig`` describing it.

What is measured (NumPy on its BLAS, median of repeats):

- cores: ``os.sched_getaffinity``; cache sizes: ``/sys/devices/system/cpu/cpu0/cache``
  (``os.sysconf`` as a fallback); ISA features (SIMD width, VNNI, BF16, FP16, AMX): the
  ``flags`` line of ``/proc/cpuinfo``.
- fp32 and fp64 GEMM throughput with one thread and with all threads (square products).
  The all-core clock is *fitted*: all-thread fp32 throughput over the ISA's per-cycle peak
  times an assumed micro-kernel efficiency. Parts whose vector pipes are narrower than their
  ISA (AVX-512 on 256-bit units) get a proportionally lower fitted clock; only products of
  clock, width and efficiency enter predictions. One thread over the all-core rate per core
  gives ``single_core_boost``.
- bandwidth within each cache level (a copy between two arrays that together fill 40% of
  it: ops read and write) and from DRAM (a Numba parallel sum over an array four times the
  last level, with one thread and with all).
- the per-op overhead (tiny GEMMs), the per-call overhead inside one op (a stack of tiny
  products) and the fork/join cost of a multithreaded call (medium GEMMs with all threads,
  minus their compute time).

Power, die area, process node and DRAM type cannot be read from user space here; they are
estimates (see the constants below). Thread counts are set with ``threadpoolctl`` when it is
installed, otherwise each measurement runs in a subprocess with the BLAS thread variables set.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np
import yaml
from numba import njit, prange

from accelerators.cpu import CPUConfig
from hwsim.validation import load_yaml

_CACHE_DIR = Path("/sys/devices/system/cpu/cpu0/cache")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS")
_ASSUMED_GEMM_EFFICIENCY = 0.9  # large SGEMM kernels sustain 85-95% of the FMA peak
_TDP_PER_CORE_W = 6.0  # estimate: server parts spend 3-10 W per core under vector load
_IDLE_PER_CORE_W = 1.5  # estimate
_NODE_NM = 7.0  # estimate: a current process
_MIN_REPEAT_S = 2e-3  # each timed repeat runs the call enough times to last this long


def median_time_s(fn: Callable[[], Any], repeats: int,
                  min_repeat_s: float = _MIN_REPEAT_S) -> float:
    """Median seconds of one call of ``fn`` over ``repeats`` repeats (after a warm-up), each
    repeat calling ``fn`` enough times to last at least ``min_repeat_s``."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    inner = max(1, int(min_repeat_s / once))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def _gemm_flops(n: int, dtype: str, repeats: int) -> float:
    """FLOPs per second of an ``n x n x n`` product."""
    rng = np.random.default_rng(0)
    a, b = (rng.random((n, n)).astype(dtype) for _ in range(2))
    out = np.empty((n, n), dtype=dtype)
    return 2.0 * n**3 / median_time_s(lambda: np.matmul(a, b, out=out), repeats)


def _gemm_seconds(n: int, repeats: int, batch: int = 0) -> float:
    """Seconds of one fp32 ``n x n x n`` product (a stack of ``batch`` of them if > 0)."""
    rng = np.random.default_rng(0)
    lead = (batch,) if batch else ()
    a, b = (rng.random((*lead, n, n)).astype(np.float32) for _ in range(2))
    out = np.empty((*lead, n, n), dtype=np.float32)
    return median_time_s(lambda: np.matmul(a, b, out=out), repeats)


@njit(cache=True, parallel=True, fastmath=True)
def _sum_kernel(x: np.ndarray) -> float:
    """Sum of a 1-D array, split over Numba's threads (a read-bandwidth probe)."""
    total = 0.0
    for i in prange(x.size):
        total += x[i]
    return total


def _dram_bw(nbytes: float, threads: int, repeats: int) -> float:
    """Bytes per second read from DRAM by ``threads`` threads summing an fp32 array."""
    x = np.ones(max(256, int(nbytes / 4)), dtype=np.float32)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    try:
        return x.nbytes / median_time_s(lambda: _sum_kernel(x), repeats)
    finally:
        numba.set_num_threads(previous)


def _copy_bw(nbytes: float, repeats: int) -> float:
    """Bytes per second read plus written by a copy between two fp32 arrays of
    ``nbytes`` in total (the call overhead, timed on 16 elements, is subtracted)."""
    n = max(256, int(nbytes / 8))
    src, dst = np.ones(n, dtype=np.float32), np.empty(n, dtype=np.float32)
    src_s, dst_s = src[:16].copy(), dst[:16].copy()
    call_s = median_time_s(lambda: np.copyto(dst_s, src_s), repeats)
    copy_s = median_time_s(lambda: np.copyto(dst, src), repeats)
    return 8.0 * n / max(copy_s - call_s, 0.05 * call_s)


_MEASURES: dict[str, Callable[..., float]] = {
    "gemm_flops": _gemm_flops, "gemm_seconds": _gemm_seconds, "copy_bw": _copy_bw,
}


def _measure(threads: int, name: str, *args: Any) -> float:
    """Run measurement ``name`` with the BLAS limited to ``threads`` threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return _measure_in_subprocess(threads, name, args)
    with threadpool_limits(limits=threads):
        return _MEASURES[name](*args)


def _measure_in_subprocess(threads: int, name: str, args: tuple[Any, ...]) -> float:
    env = {**os.environ, **{var: str(threads) for var in _THREAD_VARS}}
    code = ("from accelerators.calibrate import _MEASURES; "
            f"print(repr(_MEASURES[{name!r}](*{args!r})))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    return float(done.stdout.strip())


def _cache_bytes() -> dict[int, float]:
    """Data/unified cache capacity by level (1, 2, 3) seen by one core, in bytes."""
    sizes: dict[int, float] = {}
    for index in sorted(_CACHE_DIR.glob("index*")) if _CACHE_DIR.exists() else []:
        kind = (index / "type").read_text().strip()
        if kind == "Instruction":
            continue
        level = int((index / "level").read_text())
        sizes[level] = _parse_size((index / "size").read_text().strip())
    return sizes or _sysconf_cache_bytes()


def _parse_size(text: str) -> float:
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)


def _sysconf_cache_bytes() -> dict[int, float]:
    names = {1: "SC_LEVEL1_DCACHE_SIZE", 2: "SC_LEVEL2_CACHE_SIZE", 3: "SC_LEVEL3_CACHE_SIZE"}
    sizes = {}
    for level, name in names.items():
        value = os.sysconf(name) if name in os.sysconf_names else 0
        if value > 0:
            sizes[level] = float(value)
    return sizes


def _cpu_flags() -> frozenset[str]:
    """ISA feature flags of the first CPU (empty where ``/proc/cpuinfo`` is missing)."""
    path = Path("/proc/cpuinfo")
    if not path.exists():
        return frozenset()
    for line in path.read_text().splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def isa_fields(flags: frozenset[str]) -> dict[str, Any]:
    """SIMD width and per-format rates implied by ISA flags (names as in ``/proc/cpuinfo``)."""
    simd = 512 if "avx512f" in flags else 256 if "avx2" in flags or "avx" in flags else 128
    bf16 = 16.0 if "amx_bf16" in flags else 2.0 if "avx512_bf16" in flags else 0.0
    int8 = 32.0 if "amx_int8" in flags else 4.0 if flags & {"avx512_vnni", "avx_vnni"} else 0.0
    fp16 = 2.0 if "avx512_fp16" in flags else 0.0
    return {"simd_bits": simd, "fma_units": 2, "bf16_rate": bf16, "int8_rate": int8,
            "fp16_rate": fp16}


def _sizes(quick: bool) -> dict[str, Any]:
    if quick:
        return {"gemm_n": (256,), "repeats": 3, "small_n": (96, 128), "dram_bytes": 64 * 2**20}
    return {"gemm_n": (512, 1024), "repeats": 5, "small_n": (96, 128, 192),
            "dram_bytes": 256 * 2**20}


def _peak(threads: int, dtype: str, s: dict[str, Any]) -> float:
    return max(_measure(threads, "gemm_flops", n, dtype, s["repeats"]) for n in s["gemm_n"])


def _dispatch_s(repeats: int) -> float:
    """Per-call overhead: the fastest of tiny products (their arithmetic is negligible)."""
    return min(_measure(1, "gemm_seconds", n, repeats) for n in (1, 2, 4, 8))


def _call_s(dispatch_s: float, repeats: int) -> float:
    """Per-call cost inside one op: a stack of 256 tiny products, less one dispatch."""
    batch = 256
    return max(0.0, (_measure(1, "gemm_seconds", 2, repeats, batch) - dispatch_s) / batch)


def _parallel_overhead_s(cores: int, all_peak: float, dispatch_s: float,
                         s: dict[str, Any]) -> float:
    """Fork/join cost: medium products with all threads minus their compute and dispatch."""
    extra = [_measure(cores, "gemm_seconds", n, s["repeats"]) - 2.0 * n**3 / all_peak
             for n in s["small_n"]]
    return max(0.0, statistics.median(extra) - dispatch_s)


def _bandwidths(cache: dict[int, float], cores: int, s: dict[str, Any]) -> dict[str, float]:
    """Copy bandwidth within each cache level (one core) and read bandwidth from DRAM (one
    and all cores, a parallel sum); the model adds the write-allocate read of DRAM writes."""
    rep = s["repeats"]
    dram_bytes = max(s["dram_bytes"], 4.0 * cache.get(3, 0.0))
    out = {f"l{lvl}": _measure(1, "copy_bw", 0.4 * cache[lvl], rep) for lvl in sorted(cache)}
    for lvl in (2, 1):  # an inner level is never slower than the next (short runs are noisy)
        if f"l{lvl}" in out and f"l{lvl + 1}" in out:
            out[f"l{lvl}"] = max(out[f"l{lvl}"], out[f"l{lvl + 1}"])
    out["dram1"] = _dram_bw(dram_bytes, 1, rep)
    out["dram"] = max(out["dram1"], _dram_bw(dram_bytes, cores, rep))
    return out


def calibrate_host(*, quick: bool = False) -> CPUConfig:
    """Measure this machine and return its ``CPUConfig`` (a few seconds; ``quick``: < 1 s).

    Uses the cores this process may run on; the clock, bandwidths and overheads are fitted
    from micro-benchmarks (see the module docstring). Results reflect the machine's load at
    the time of the run.
    """
    s = _sizes(quick)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = max(1, cores or 1)
    isa = isa_fields(_cpu_flags())
    cache = _cache_bytes()
    fp32_one, fp64_one = _peak(1, "float32", s), _peak(1, "float64", s)
    fp32_all = max(_peak(cores, "float32", s), fp32_one)
    per_cycle = 2.0 * isa["fma_units"] * isa["simd_bits"] / 32.0
    freq_hz = fp32_all / (cores * per_cycle * _ASSUMED_GEMM_EFFICIENCY)
    boost = max(1.0, fp32_one / (fp32_all / cores))
    bw = _bandwidths(cache, cores, s)
    dispatch = _dispatch_s(s["repeats"])
    return CPUConfig(
        name="host", cores=cores, freq_hz=freq_hz, single_core_boost=boost,
        fp64_rate=min(1.0, fp64_one / fp32_one), gemm_efficiency=_ASSUMED_GEMM_EFFICIENCY,
        **isa, **_cache_fields(cache, bw, freq_hz * boost),
        dram_bw_bytes_per_s=bw["dram"], core_dram_bw_bytes_per_s=bw["dram1"],
        dispatch_s=dispatch, call_s=_call_s(dispatch, s["repeats"]),
        parallel_overhead_s=_parallel_overhead_s(cores, fp32_all, dispatch, s),
        tdp_w=_TDP_PER_CORE_W * cores, idle_w=_IDLE_PER_CORE_W * cores, node_nm=_NODE_NM,
    )


def _cache_fields(cache: dict[int, float], bw: dict[str, float],
                  clock_hz: float) -> dict[str, Any]:
    """Cache capacities and per-core bandwidths per cycle as ``CPUConfig`` fields."""
    fields: dict[str, Any] = {"l3_bytes": 0.0, "l3_bw_bytes_per_cycle": 0.0}
    for level in (1, 2, 3):
        if level in cache:
            fields[f"l{level}_bytes"] = cache[level]
            fields[f"l{level}_bw_bytes_per_cycle"] = bw[f"l{level}"] / clock_hz
    return fields


def save_preset(cfg: CPUConfig) -> str:
    """``cfg`` as YAML text (every field, in declaration order)."""
    header = "# hwsim CPU preset: CPUConfig fields in SI units\n"
    return header + yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False)


def load_preset(text: str) -> CPUConfig:
    """A ``CPUConfig`` from YAML text written by ``save_preset`` (or by hand).

    Unknown keys raise ``ValueError`` listing the allowed ones; numbers written as strings
    (``2.3e9`` is a string to YAML 1.1) are converted; values are validated by the config.
    """
    data = load_yaml(text, "CPU preset")
    if not isinstance(data, dict):
        raise ValueError(f"a CPU preset must be a YAML mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(CPUConfig)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown CPUConfig fields {unknown}; allowed: {', '.join(fields)}")
    return CPUConfig(**{k: _coerce(v, fields[k].default) for k, v in data.items()})


def _coerce(value: Any, default: Any) -> Any:
    """``value`` as a float when the field is a float and the text parses as one."""
    if isinstance(default, float) and isinstance(value, str | int) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            return value
    return value
