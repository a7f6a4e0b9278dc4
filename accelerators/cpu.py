"""A calibrated analytical model of a multicore CPU running a BLAS-style library.

Matrix products (matmul, convolution as implicit GEMM) are cache-blocked GEMMs: in-core time
at the SIMD peak of the op's compute format times a micro-kernel efficiency, with M and N
padded to the register tile and the work split into micro-tiles over the cores (imbalance is
``ceil(tiles / cores)`` over ``tiles / cores``). Data come from the *home level*, the smallest
cache whose capacity holds the op's working set (else DRAM), at that level's streaming
bandwidth, which already includes the transfers through the levels above it; the weights
(an embedding's gathered rows) come from DRAM in any case, overlapped with the rest (an
inference reads each weight once, so no earlier op left them in a cache). GotoBLAS
blocking sets the volumes: A re-read once per ``nc`` panel of B, B once, C written by the
``beta`` pass and read and written once per ``kc`` block of K.

Time follows the ECM model (Hager, Treibig, Hofmann, Wellein): streaming A and B overlaps the
in-core arithmetic, ``max(T_core, T_AB)``; loading and storing C tiles and the ``beta`` pass
do not, and add. Products with a single row or column (GEMV) and every other op (elementwise,
pooling, normalisation, softmax, embedding, copies, depthwise convolution) are vector loops:
``max(T_core, T_data)``. Each op pays ``dispatch_s`` (framework entry), each library call
inside it ``call_s`` and, when multithreaded, ``parallel_overhead_s``; a call uses as many
cores as give each at least ``parallel_min_macs`` of work (the OpenBLAS rule).

Formats without hardware support run in the next wider supported format (int8 without VNNI
runs at the fp32 rate and only moves fewer bytes). Sparsity is not exploited: dense kernels.

Energy is an estimate: per-action energies from ``hwsim.tech`` (MACs plus a datapath
overhead for instruction delivery that is the same per instruction in every format, cache
reads, DRAM bits), capped so that the average
dynamic power over the op stays within ``tdp_w - idle_w`` scaled by the cores used.

Ignored: SMT, frequency changes with the vector width, NUMA, TLB misses, prefetcher
behaviour, cache conflicts (a level is full at 80%), and the packing copies of small GEMMs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from accelerators._common import check_fraction, check_int, check_positive
from accelerators._cpu_cost import cpu_op_cost
from hwsim.accelerator import EngineSpec, OpCost, Resources
from hwsim.graph import Op
from hwsim.tech import DRAM_TYPES, Technology

_CACHE_FILL = 0.8  # usable share of a cache level before conflicts evict the working set


@dataclass(frozen=True, kw_only=True)
class CPUConfig:
    """A multicore CPU: cores, SIMD units, caches, DRAM, overheads and power.

    Parameters
    ----------
    name : label in reports.
    cores : cores used by the model (one thread each).
    freq_hz : all-core clock under vector load.
    single_core_boost : clock with one busy core over ``freq_hz`` (>= 1).
    simd_bits : vector register width (128, 256 or 512).
    fma_units : vector FMA pipes per core.
    fp64_rate, bf16_rate, fp16_rate, int8_rate : throughput relative to fp32 FMAs (MACs per
        cycle); 0 means no hardware support (VNNI int8 is 4, AVX512-BF16 is 2, AMX more).
    gemm_efficiency : fraction of peak a large GEMM micro-kernel sustains.
    l1_bytes, l2_bytes : private cache per core; l3_bytes : shared last level (0 = none).
    l1_bw_bytes_per_cycle, l2_bw_bytes_per_cycle, l3_bw_bytes_per_cycle : streaming bandwidth
        per core from each level.
    dram_bw_bytes_per_s : sustained DRAM bandwidth of all cores together.
    core_dram_bw_bytes_per_s : sustained DRAM bandwidth of one core.
    dispatch_s : fixed cost of one op (framework entry); call_s : fixed cost of each library
        call inside it; parallel_overhead_s : fork/join of a multithreaded call;
        parallel_min_macs : least work (MACs, or elements of a vector op) per thread.
    batch_parallel : batched products are one call spread over cores (False: a loop of calls).
    parallel_vector_ops : elementwise and reduction ops use all cores (False: one core).
    tdp_w, idle_w : package power limit and idle power; area_mm2 : die area (0 = unknown).
    node_nm, dram_type : process node and DRAM type for per-action energies.
    datapath_overhead : energy of an fp32 MAC with everything around it (fetch, decode,
        scheduling, register file) as a multiple of the MAC's own (>= 1); an estimate chosen
        so that a fully busy fp32 GEMM draws 60-80% of the power limit. Faster formats (VNNI,
        AMX) pay the same overhead per instruction, so less per MAC.
    """

    name: str = "cpu"
    cores: int = 40
    freq_hz: float = 2.3e9
    single_core_boost: float = 1.0
    simd_bits: int = 512
    fma_units: int = 2
    fp64_rate: float = 0.5
    bf16_rate: float = 0.0
    fp16_rate: float = 0.0
    int8_rate: float = 4.0
    gemm_efficiency: float = 0.9
    l1_bytes: float = 48 * 1024
    l2_bytes: float = 1.25 * 1024**2
    l3_bytes: float = 60 * 1024**2
    l1_bw_bytes_per_cycle: float = 128.0
    l2_bw_bytes_per_cycle: float = 48.0
    l3_bw_bytes_per_cycle: float = 16.0
    dram_bw_bytes_per_s: float = 204.8e9
    core_dram_bw_bytes_per_s: float = 15e9
    dispatch_s: float = 2e-6
    call_s: float = 0.2e-6
    parallel_overhead_s: float = 5e-6
    parallel_min_macs: float = 262144.0
    batch_parallel: bool = True
    parallel_vector_ops: bool = True
    tdp_w: float = 270.0
    idle_w: float = 90.0
    area_mm2: float = 0.0
    node_nm: float = 10.0
    dram_type: str = "ddr4"
    datapath_overhead: float = 100.0

    def __post_init__(self) -> None:
        check_int(self, "cores", 1)
        check_int(self, "fma_units", 1)
        if self.simd_bits not in (128, 256, 512):
            raise ValueError(f"simd_bits must be one of 128, 256, 512, got {self.simd_bits!r}")
        check_positive(self, ("freq_hz", "single_core_boost", "l1_bytes", "l2_bytes",
                              "l1_bw_bytes_per_cycle", "l2_bw_bytes_per_cycle",
                              "dram_bw_bytes_per_s", "core_dram_bw_bytes_per_s", "tdp_w",
                              "datapath_overhead"))
        check_positive(self, ("fp64_rate", "bf16_rate", "fp16_rate", "int8_rate", "l3_bytes",
                              "l3_bw_bytes_per_cycle", "dispatch_s", "call_s",
                              "parallel_overhead_s", "parallel_min_macs", "idle_w", "area_mm2"),
                       allow_zero=True)
        check_fraction(self, ("gemm_efficiency",))
        self._check_relations()

    def _check_relations(self) -> None:
        if self.datapath_overhead < 1:
            raise ValueError(f"datapath_overhead must be a number >= 1, got "
                             f"{self.datapath_overhead!r}")
        if self.single_core_boost < 1:
            raise ValueError(f"single_core_boost must be >= 1, got {self.single_core_boost!r}")
        if self.idle_w >= self.tdp_w:
            raise ValueError(f"idle_w must be < tdp_w={self.tdp_w}, got {self.idle_w!r}")
        if self.l3_bytes and not self.l3_bw_bytes_per_cycle:
            raise ValueError("l3_bw_bytes_per_cycle must be > 0 when l3_bytes > 0, got 0")
        if self.dram_type not in DRAM_TYPES:
            raise ValueError(f"dram_type must be one of {', '.join(DRAM_TYPES)}, "
                             f"got {self.dram_type!r}")
        Technology(node_nm=self.node_nm)

    # ---- derived figures --------------------------------------------------------------
    @property
    def static_power_w(self) -> float:
        """Idle power, drawn whether or not an op runs."""
        return self.idle_w

    @cached_property
    def technology(self) -> Technology:
        """The process node's per-action energies."""
        return Technology(node_nm=self.node_nm)

    @property
    def lanes(self) -> int:
        """fp32 lanes per SIMD register."""
        return self.simd_bits // 32

    def rates(self) -> dict[str, float]:
        """MAC throughput of each compute format relative to fp32 (0: unsupported)."""
        return {"fp32": 1.0, "fp64": self.fp64_rate, "bf16": self.bf16_rate,
                "fp16": self.fp16_rate, "int8": self.int8_rate, "int4": 0.0, "int16": 0.0,
                "fp8": 0.0}

    def core_flops_per_cycle(self, fmt: str = "fp32") -> float:
        """Peak FLOPs (2 per MAC) per cycle of one core in format ``fmt``."""
        return 2.0 * self.fma_units * self.lanes * self.rates()[fmt]

    def peak_flops(self, fmt: str = "fp32") -> float:
        """Peak FLOPs per second of all cores at the all-core clock."""
        return self.core_flops_per_cycle(fmt) * self.cores * self.freq_hz

    def clock_hz(self, active: int) -> float:
        """Clock with ``active`` busy cores: boosted for one, ``freq_hz`` for all."""
        if self.cores == 1:
            return self.freq_hz * self.single_core_boost
        share = (self.cores - active) / (self.cores - 1)
        return self.freq_hz * (1.0 + (self.single_core_boost - 1.0) * share)

    def level_of(self, working_set_bytes: float, active: int) -> str:
        """Name of the smallest level ('l1', 'l2', 'l3', 'dram') holding a working set."""
        for name, capacity in (("l1", self.l1_bytes * active), ("l2", self.l2_bytes * active),
                               ("l3", self.l3_bytes)):
            if working_set_bytes <= _CACHE_FILL * capacity:
                return name
        return "dram"

    def bandwidth(self, level: str, active: int) -> float:
        """Streaming bandwidth from ``level`` with ``active`` cores, in bytes per second."""
        if level == "dram":
            return min(self.dram_bw_bytes_per_s, active * self.core_dram_bw_bytes_per_s)
        per_cycle = getattr(self, f"{level}_bw_bytes_per_cycle")
        return per_cycle * active * self.clock_hz(active)

    # ---- the Accelerator protocol ----------------------------------------------------
    def supports(self, op: Op) -> bool:
        """A CPU runs every op kind."""
        return True

    def resources(self) -> Resources:
        """One engine of ``cores`` units, so independent ops may run on different cores."""
        return Resources(engines=(EngineSpec(name="core", count=self.cores),),
                         dram_bw_bytes_per_s=self.dram_bw_bytes_per_s)

    def engine_for(self, op: Op) -> str:
        """Every op runs on the cores."""
        return "core"

    def op_cost(self, op: Op) -> OpCost:
        """Cost of ``op`` run alone on all cores (fewer when the op is small)."""
        return cpu_op_cost(self, op)

    def op_cost_on_cores(self, op: Op, cores: int) -> OpCost:
        """Cost of ``op`` given only ``cores`` of this CPU (for a simulator that runs
        independent ops side by side on different cores)."""
        if isinstance(cores, bool) or not isinstance(cores, int) or not 1 <= cores <= self.cores:
            raise ValueError(f"cores must be an integer in 1..{self.cores}, got {cores!r}")
        return cpu_op_cost(replace(self, cores=cores), op)


# Figures from Intel ARK product pages (cores, clocks, caches, memory channels and speed,
# TDP) and the Intel 64 and IA-32 Optimization Reference Manual (per-core execution and
# cache bandwidths); "estimate" marks what no spec sheet gives. Sustained DRAM bandwidth is
# taken as 80% of the channel peak (typical STREAM triad efficiency).
XEON_8380 = CPUConfig(
    name="xeon-8380",  # Ice Lake-SP, 3rd gen Xeon Scalable
    cores=40,
    freq_hz=2.3e9,  # ARK: base 2.3 GHz (AVX-512 all-core load runs near base)
    single_core_boost=3.4 / 2.3,  # ARK: max turbo 3.4 GHz
    simd_bits=512, fma_units=2,  # two 512-bit FMA units per core
    int8_rate=4.0,  # AVX512-VNNI
    l1_bytes=48 * 1024, l2_bytes=1.25 * 1024**2, l3_bytes=60 * 1024**2,  # ARK caches
    l1_bw_bytes_per_cycle=128.0,  # two 64-byte loads per cycle
    l2_bw_bytes_per_cycle=48.0,  # 64 bytes/cycle peak, ~48 sustained
    l3_bw_bytes_per_cycle=16.0,  # estimate: mesh L3 per core
    dram_bw_bytes_per_s=0.8 * 204.8e9,  # ARK: 8 channels DDR4-3200
    core_dram_bw_bytes_per_s=12e9,  # estimate: one core is latency-bound
    tdp_w=270.0,  # ARK
    idle_w=90.0,  # estimate
    area_mm2=628.0,  # estimate: Intel publishes no XCC die size; die-shot analyses give ~628
    node_nm=10.0,  # Intel 10 nm SuperFin
    dram_type="ddr4",
)
XEON_8480 = CPUConfig(
    name="xeon-8480",  # Sapphire Rapids, 4th gen Xeon Scalable
    cores=56,
    freq_hz=2.0e9,  # ARK: base 2.0 GHz
    single_core_boost=3.8 / 2.0,  # ARK: max turbo 3.8 GHz
    simd_bits=512, fma_units=2,
    bf16_rate=16.0,  # AMX: 1024 bf16 FLOPs/cycle/core over 64 fp32 FLOPs/cycle (AVX-512)
    fp16_rate=2.0,  # AVX512-FP16
    int8_rate=32.0,  # AMX: 2048 int8 ops/cycle/core
    l1_bytes=48 * 1024, l2_bytes=2 * 1024**2, l3_bytes=105 * 1024**2,  # ARK caches
    l1_bw_bytes_per_cycle=128.0, l2_bw_bytes_per_cycle=48.0,
    l3_bw_bytes_per_cycle=16.0,  # estimate
    dram_bw_bytes_per_s=0.8 * 307.2e9,  # ARK: 8 channels DDR5-4800
    core_dram_bw_bytes_per_s=12e9,  # estimate
    tdp_w=350.0,  # ARK
    idle_w=100.0,  # estimate
    # Four XCC tiles of ~400 mm2 each: Intel at Hot Chips 33 (2021), as reported by
    # wccftech.com, "Sapphire Rapids-SP ... full XCC die measures around 400mm2".
    area_mm2=1600.0,
    node_nm=10.0,  # Intel 7
    dram_type="ddr5",
)
CORE_I7_1185G7 = CPUConfig(
    name="core-i7-1185g7",  # Tiger Lake laptop part
    cores=4,
    freq_hz=3.0e9,  # ARK: base 3.0 GHz at 28 W
    single_core_boost=4.8 / 3.0,  # ARK: max turbo 4.8 GHz
    simd_bits=512, fma_units=1,  # client cores have one 512-bit FMA unit
    int8_rate=4.0,  # AVX512-VNNI
    l1_bytes=48 * 1024, l2_bytes=1.25 * 1024**2, l3_bytes=12 * 1024**2,  # ARK caches
    l1_bw_bytes_per_cycle=128.0, l2_bw_bytes_per_cycle=48.0,
    l3_bw_bytes_per_cycle=24.0,  # estimate: ring L3
    dram_bw_bytes_per_s=0.8 * 68.3e9,  # ARK: LPDDR4x-4266, 128-bit bus
    core_dram_bw_bytes_per_s=20e9,  # estimate
    parallel_overhead_s=3e-6,
    tdp_w=28.0,  # ARK: configurable TDP-up 28 W
    idle_w=2.0,  # estimate
    # 13.64 x 10.71 mm from a 300 mm wafer's die count: AnandTech, "I Ran Off with Intel's
    # Tiger Lake Wafer" (anandtech.com/show/15380, 2020).
    area_mm2=146.1,
    node_nm=10.0,  # Intel 10 nm SuperFin
    dram_type="lpddr4",
)

PRESETS: dict[str, CPUConfig] = {
    "xeon-8380": XEON_8380, "xeon-8480": XEON_8480, "core-i7-1185g7": CORE_I7_1185G7,
}
